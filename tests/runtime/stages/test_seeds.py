"""Broken seed data: a bad row is a reject naming its file and line, a file that cannot
be read is a one-line error naming it, and a file outside --root is refused."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest
from rich.console import Console

from taskseed.contract.plan import Plan, Unit
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.errors import SeedError
from taskseed.runtime.options import RunOptions
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan
from taskseed.runtime.seeds import iter_rows, source_rows
from tests.runtime import scripted
from tests.runtime.catalog import compile_catalog, quiz_rows, write_catalog
from tests.runtime.funnel import check_funnel, read_jsonl

REPO = Path(__file__).resolve().parents[3]


def with_files(plan: Plan, *files: str) -> tuple[Plan, Unit]:
    unit = plan.units[0]
    seeds = msgspec.structs.replace(unit.seeds, files=list(files), dataset=None, fixture=None)
    unit = msgspec.structs.replace(unit, seeds=seeds)
    return msgspec.structs.replace(plan, units=[unit]), unit


def run(plan: Plan, root: Path, **options: Any) -> dict[str, Any]:
    config = RunConfig(
        out=root / "out", options=RunOptions(root=root, backoff_s=0.0, slice_size=3, **options)
    )
    progress = StageProgress(Console(quiet=True), enabled=False, units=1)
    return asyncio.run(
        run_plan(plan, plan.units, ScriptedEngine(scripted.script), config, progress)
    )


def test_bad_rows_are_rejects_with_file_and_line(tmp_path: Path) -> None:
    rows = quiz_rows(6)
    lines = [
        # First: a row whose options are text, which a schema inferred from it would
        # apply to every row after it.
        json.dumps({**rows[0], "options": "tool a, tool b, tool c"}).encode(),
        json.dumps(rows[1]).encode(),
        b'{"id": "q9", "question": "Which',  # not JSON
        json.dumps(rows[2]).encode(),
        b'{"id": "q8", "question": "Caf\xe9?", "options": ["a", "b", "c"], "gold": 0}',  # Latin-1
        b"",  # a blank line is not a row
        b"[1, 2, 3]",  # not an object
        json.dumps(rows[3]).encode(),
        json.dumps({**rows[4], "gold": "two"}).encode(),  # a wrong type for an index
        json.dumps(rows[5]).encode(),
    ]
    (tmp_path / "data").mkdir()
    (tmp_path / "data/seeds.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    plan, _ = with_files(compile_catalog(tmp_path), "data/seeds.jsonl")
    manifest = run(plan, tmp_path)
    check_funnel(tmp_path / "out")
    counts = manifest["units"]["quiz/default"]["counts"]
    assert counts["seeds"] == 9 and counts["normalized"] == 4
    rejects = {r["source"]: r for r in read_jsonl(tmp_path / "out/rejects") if "source" in r}
    assert set(rejects) == {f"data/seeds.jsonl:{n}" for n in (1, 3, 5, 7, 9)}
    assert rejects["data/seeds.jsonl:1"]["stage"] == "normalize"
    assert "expected a list, got str" in rejects["data/seeds.jsonl:1"]["reason"]
    assert rejects["data/seeds.jsonl:3"]["stage"] == "seeds"
    assert rejects["data/seeds.jsonl:3"]["reason"].startswith("not valid JSON")
    assert rejects["data/seeds.jsonl:3"]["item"]["text"].startswith('{"id": "q9"')
    byte = lines[4].index(b"\xe9") + 1
    assert rejects["data/seeds.jsonl:5"]["reason"] == f"not valid UTF-8 (byte {byte})"
    assert rejects["data/seeds.jsonl:7"]["reason"] == "an array, not a JSON object"
    assert rejects["data/seeds.jsonl:9"]["stage"] == "normalize"
    assert "answer.index" in rejects["data/seeds.jsonl:9"]["reason"]
    # every good row went through, the ones after the bad rows too
    assert {r["seed_id"] for r in read_jsonl(tmp_path / "out/data")} == {"q1", "q2", "q3", "q5"}


def test_csv_rows_stand_on_their_own(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    text = (
        b"id,question,gold\n"
        b"q0,Which tool measures quantity number 0 in a lab?,0\n"
        b"q1,Which tool measures quantity number 1 in a lab?\n"  # a field short
        b"q2,Which tool measures quantity n\xb0 2 in a lab?,1\n"  # not UTF-8
        b'q3,"Which tool, in a lab, measures quantity number 3?",two\n'
        b"q4,,1.5\n"
    )
    (tmp_path / "data/seeds.csv").write_bytes(text)
    plan, unit = with_files(compile_catalog(tmp_path), "data/seeds.csv")
    rows = list(source_rows(plan, unit, use_fixtures=False, root=tmp_path))
    assert [r.origin for r in rows] == [f"data/seeds.csv:{n}" for n in (2, 3, 4, 5, 6)]
    assert rows[0].row is not None and rows[0].row["gold"] == 0  # a number, read on its own
    assert rows[1].error == "2 fields where the header has 3"
    assert rows[2].error == "not valid UTF-8"
    assert rows[3].row is not None and rows[3].row["gold"] == "two"
    assert (
        rows[4].row is not None and rows[4].row["question"] is None and rows[4].row["gold"] == 1.5
    )


def test_missing_fields_of_a_jsonl_row_are_null(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    row = {"id": "q0", "question": "Which tool?", "options": ["a", "b", "c"], "gold": 1}
    (tmp_path / "data/seeds.jsonl").write_text(json.dumps(row) + "\n")
    spec_plan = compile_catalog(tmp_path)
    unit = spec_plan.units[0]
    mapping = msgspec.structs.replace(unit.mapping, context="passage")
    plan, unit = with_files(
        msgspec.structs.replace(spec_plan, units=[msgspec.structs.replace(unit, mapping=mapping)]),
        "data/seeds.jsonl",
    )
    [read] = list(iter_rows(plan, unit, use_fixtures=False, root=tmp_path))
    assert read == {**row, "passage": None}


def write_parquet(path: Path) -> None:
    pl.DataFrame(quiz_rows(3)).write_parquet(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", b"", "seed file data/empty.jsonl is empty"),
        ("empty.parquet", b"", "seed file data/empty.parquet is empty"),
        (
            "junk.parquet",
            b"PAR1 this is not a parquet file at all",
            "cannot read seed file data/junk.parquet",
        ),
        ("truncated.parquet", None, "cannot read seed file data/truncated.parquet"),
        ("nohead.csv", b"\n", "cannot read seed file data/nohead.csv"),
    ],
)
def test_unreadable_files_are_one_line_errors(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / name
    if content is None:
        write_parquet(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    plan, unit = with_files(compile_catalog(tmp_path), f"data/{name}")
    with pytest.raises(SeedError) as caught:
        list(iter_rows(plan, unit, use_fixtures=False, root=tmp_path))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_paths_outside_the_root_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    outside = tmp_path / "secret.jsonl"
    outside.write_text(json.dumps(quiz_rows(1)[0]) + "\n")
    (root / "data/link.jsonl").symlink_to(outside)
    (root / "data/inside.jsonl").write_text(json.dumps(quiz_rows(1)[0]) + "\n")
    (root / "data/alias.jsonl").symlink_to(root / "data/inside.jsonl")
    os.mkfifo(root / "data/pipe.jsonl")
    plan = compile_catalog(root)
    for pattern, message in [
        (str(outside), "must be relative to --root"),
        ("../secret.jsonl", "must be relative to --root"),
        ("data/link.jsonl", "links outside --root"),
        ("data/pipe.jsonl", "is not a regular file"),
    ]:
        refused, unit = with_files(plan, pattern)
        with pytest.raises(SeedError, match=message) as caught:
            list(iter_rows(refused, unit, use_fixtures=False, root=root))
        assert "secret" not in str(caught.value) or pattern != "data/link.jsonl"
    allowed, unit = with_files(plan, "data/alias.jsonl")  # a link that stays inside
    assert [r["id"] for r in iter_rows(allowed, unit, use_fixtures=False, root=root)] == ["q0"]


def test_the_command_line_names_the_bad_file_and_exits_1(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    spec = (catalog / "knowledge/quiz.yaml").read_text()
    spec = spec.replace("  dataset: example/quiz\n", "  files: [data/quiz.parquet]\n")
    (catalog / "knowledge/quiz.yaml").write_text(spec)
    (catalog / "knowledge/data").mkdir()
    (catalog / "knowledge/data/quiz.parquet").write_bytes(b"not parquet")
    args = ["run", "taskspecs", "-o", "out", "--engine", "tests.runtime.scripted:make"]
    proc = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", *args],
        cwd=tmp_path,  # specs compiled on the fly: paths are relative to the current folder
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "cannot read seed file taskspecs/knowledge/data/quiz.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_held_out_files_outside_the_root_are_refused(tmp_path: Path) -> None:
    from taskseed.runtime.decontaminate import build

    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "eval.jsonl").write_text(json.dumps(quiz_rows(1)[0]) + "\n")
    (root / "eval.jsonl").symlink_to(tmp_path / "eval.jsonl")
    unit = compile_catalog(root).units[0]
    for pattern in ("../eval.jsonl", "eval.jsonl"):
        config = msgspec.structs.replace(unit.decontaminate, enabled=True, files=[pattern])
        refused = msgspec.structs.replace(unit, decontaminate=config)
        with pytest.raises(SeedError, match="held-out file"):
            build(refused, use_fixtures=True, root=root)

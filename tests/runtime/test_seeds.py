"""Seed sources: fixtures, local JSONL/Parquet/CSV, Hugging Face datasets; held-out splits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import polars as pl
import pytest

from taskseed.contract.plan import Plan, Unit
from taskseed.runtime.errors import SeedError
from taskseed.runtime.seeds import iter_rows
from tests.runtime.catalog import QUIZ_ROWS, compile_catalog


def unit_with(plan: Plan, **seeds: object) -> Unit:
    unit = plan.units[0]
    return msgspec.structs.replace(unit, seeds=msgspec.structs.replace(unit.seeds, **seeds))


def test_fixture_rows_with_limit_and_where(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    unit = plan.units[0]
    assert list(iter_rows(plan, unit, use_fixtures=True, root=tmp_path)) == QUIZ_ROWS
    assert len(list(iter_rows(plan, unit, use_fixtures=True, root=tmp_path, limit=2))) == 2
    filtered = unit_with(plan, where="gold == 1")
    rows = list(iter_rows(plan, filtered, use_fixtures=True, root=tmp_path))
    assert [r["id"] for r in rows] == ["q1", "q4"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_local_files_stream_in_slices(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import taskseed.runtime.seeds as seeds

    monkeypatch.setattr(seeds, "READ_ROWS", 2)
    plan = compile_catalog(tmp_path)
    frame = pl.DataFrame(
        [{"id": r["id"], "question": r["question"], "gold": r["gold"]} for r in QUIZ_ROWS]
    )
    path = tmp_path / f"data/part.{fmt}"
    path.parent.mkdir()
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dicts()))
    elif fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    unit = unit_with(plan, files=[f"data/*.{fmt}"], dataset=None)
    rows = list(iter_rows(plan, unit, use_fixtures=False, root=tmp_path))
    assert [r["id"] for r in rows] == [r["id"] for r in QUIZ_ROWS]
    assert rows[2]["gold"] == QUIZ_ROWS[2]["gold"]


def test_hugging_face_datasets_from_a_local_parquet_folder(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    repo = tmp_path / "hub_copy"
    (repo / "data").mkdir(parents=True)
    pl.DataFrame(QUIZ_ROWS).write_parquet(repo / "data/train-00000-of-00001.parquet")
    pl.DataFrame(QUIZ_ROWS[:1]).write_parquet(repo / "data/test-00000-of-00001.parquet")
    unit = unit_with(plan, dataset=str(repo), config=None)
    rows = list(iter_rows(plan, unit, use_fixtures=False, root=tmp_path, limit=3))
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"]
    assert rows[0]["options"] == QUIZ_ROWS[0]["options"]


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ({"split": "test", "eval_splits": []}, "split `test` is not a training split; refusing"),
        ({"split": "test", "eval_splits": ["test"]}, "split `test` is evaluated on; refusing"),
        (
            {"split": "validation", "training_split_reason": "x", "eval_splits": ["validation"]},
            "split `validation` is evaluated on; refusing to seed",
        ),
    ],
)
def test_held_out_splits_are_refused(
    tmp_path: Path, seeds: dict[str, object], message: str
) -> None:
    plan = compile_catalog(tmp_path)
    unit = unit_with(plan, **seeds)
    with pytest.raises(SeedError, match=re.escape(f"{unit.id}: {message}")):
        next(iter_rows(plan, unit, use_fixtures=True, root=tmp_path))


def test_missing_files_are_clear_errors(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    unit = unit_with(plan, files=["nowhere/*.parquet"], dataset=None)
    with pytest.raises(SeedError, match="no seed file matches"):
        next(iter_rows(plan, unit, use_fixtures=False, root=tmp_path))

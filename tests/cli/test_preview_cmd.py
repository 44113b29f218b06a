"""`taskseed preview`: seeds beside their items and verdicts, prompts without an engine,
an estimate scaled from the preview's counts, and nothing written where a run writes."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from taskseed.cli.main import main
from taskseed.runtime.engines.base import ChatRequest
from taskseed.runtime.engines.scripted import ScriptedEngine
from tests.runtime import scripted
from tests.runtime.catalog import BASE, write_catalog

REPO = Path(__file__).resolve().parents[2]
UNIT = "quiz/default"
ENGINE = "tests.cli.test_preview_cmd:make_engine"
# The verification prompt names the seed too, so the script can tell whose item it is.
VOTE_BASE = BASE.replace('verify:\n  prompt: "', 'verify:\n  prompt: "{{ seed.question }} || ')


def script(request: ChatRequest) -> list[str]:
    """The scripted answers, but seed q0's second similar question does not parse and
    every vote on seed q1's items names another option than the item's answer."""
    answers = scripted.script(request)
    props = (request.json_schema or {}).get("properties", {})
    prompt = request.messages[-1].content
    if "choices" in props and "number 0 " in prompt:
        answers[1] = "this is not JSON"
    if set(props) == {"answer"} and "number 1 " in prompt:
        enum = props["answer"]["enum"]
        wrong = next(o for o in enum if "ANSWER=" + o not in prompt)
        answers = [json.dumps({"answer": wrong})] * len(answers)
    return answers


def make_engine(**options: Any) -> ScriptedEngine:
    """An engine factory for `--engine` (tests.cli.test_preview_cmd:make_engine)."""
    return ScriptedEngine(script, concurrency=4)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A catalog in `tmp_path/cat`; the working directory and the temporary folder are
    empty folders of their own, so a test sees whatever a command leaves in them."""
    write_catalog(tmp_path / "cat", base=VOTE_BASE)
    (tmp_path / "cwd").mkdir()
    (tmp_path / "tmp").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return tmp_path


def preview(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    args = ["preview", str(root / "cat/taskspecs"), "--fixtures", "--root", str(root / "cat")]
    code = main([*args, "--no-progress", *extra])
    return code, capsys.readouterr().out


def test_items_are_grouped_by_seed_with_each_verdict(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = preview(root, capsys, "--engine", ENGINE, "--seeds", "2", "--format", "json")
    assert code == 0
    report = json.loads(out)
    [unit] = report["units"]
    assert unit["unit"] == UNIT
    assert [s["seed"]["id"] for s in unit["seeds"]] == ["q0", "q1"]
    for view in unit["seeds"]:
        seed_id = view["seed"]["id"]
        assert view["seed"]["question"].endswith(f"number {seed_id[1:]} in a lab?")
        for item in view["items"]:
            assert item["verdict"] in ("kept", "rejected")
            if item["item"] is not None and "seed_id" in item["item"]:
                assert item["item"]["seed_id"] == seed_id
    q0, q1 = (s["items"] for s in unit["seeds"])
    # q0: one sample did not parse (a parse reject keeping its text), the other is kept
    # with its votes; so are its enrichments.
    parse = [i for i in q0 if i["stage"] == "parse"]
    assert len(parse) == 1 and parse[0]["item"] == {"text": "this is not JSON"}
    assert parse[0]["reason"]
    kept = [i for i in q0 if i["verdict"] == "kept"]
    assert {i["kind"] for i in kept} == {"similar_question", "answer_enriched", "context_enriched"}
    assert all(i["reason"].startswith("verified: 100% of 3 votes") for i in kept)
    # q1: every vote named another option: both items rejected by verify, with the votes.
    assert [i["stage"] for i in q1] == ["verify", "verify"]
    assert all(
        i["reason"].startswith("majority ") and "does not confirm the answer" in i["reason"]
        for i in q1
    )
    assert unit["counts"]["seeds"] == 2 and unit["counts"]["written"] == len(kept)


def test_the_text_output_shows_each_seed_then_its_items(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = preview(root, capsys, "--engine", ENGINE, "--seeds", "2")
    assert code == 0
    assert out.index("seed q0") < out.index("this is not JSON") < out.index("seed q1")
    after_q1 = out[out.index("seed q1") :]
    assert "rejected" in after_q1 and "verify" in after_q1
    assert "estimate for the full run" in out and "fixture rows" in out


def test_the_estimate_scales_the_preview_counts_to_the_full_seed_count(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = preview(root, capsys, "--engine", ENGINE, "--seeds", "2", "--format", "json")
    assert code == 0
    estimate = json.loads(out)["estimate"]
    unit = estimate["units"][UNIT]
    assert unit["preview_seeds"] == 2 and unit["full_seeds"] == 5  # the fixture's rows
    assert unit["full_seeds_source"] == "fixture rows"
    assert unit["unreached"] == []  # every stage that asks the engine was reached
    # The preview's counts are a real run's: `run --limit-seeds 2` pays for the same.
    code = main(
        [
            "run",
            str(root / "cat/taskspecs"),
            "--fixtures",
            "--root",
            str(root / "cat"),
            "--engine",
            ENGINE,
            "--limit-seeds",
            "2",
            "-o",
            str(root / "two"),
            "--no-progress",
        ]
    )
    capsys.readouterr()
    assert code == 0
    two = json.loads((root / "two/manifest.json").read_text())["units"][UNIT]["stages"]
    assert {stage: use["preview"] for stage, use in unit["stages"].items()} == two
    total = 0
    for stage, use in unit["stages"].items():
        assert use["full"] == {k: round(v * 5 / 2) for k, v in two[stage].items()}
        total += use["full"]["requests"]
    assert estimate["full_requests"] == total
    assert estimate["requests_per_second"] > 0
    assert estimate["full_seconds"] == pytest.approx(
        total / estimate["requests_per_second"], rel=0.01, abs=0.1
    )
    # One generate request per seed: the full run's is exactly what was estimated.
    assert unit["stages"]["generate"]["full"]["requests"] == 5


def test_a_preview_writes_nothing_where_runs_write(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.relative_to(root) for p in (root / "cat").rglob("*"))
    code, _ = preview(root, capsys, "--engine", ENGINE, "--seeds", "1")
    assert code == 0
    assert list((root / "cwd").iterdir()) == []  # no out/, no ledger
    assert list((root / "tmp").iterdir()) == []  # its temporary folder is removed
    assert sorted(p.relative_to(root) for p in (root / "cat").rglob("*")) == before


def test_no_engine_renders_the_prompts_without_one(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "no_such_package.engine:make"
    code, out = preview(root, capsys, "--no-engine", "--engine", missing, "--format", "json")
    assert code == 0
    [unit] = json.loads(out)["units"]
    assert len(unit["seeds"]) == 5  # the default
    first = unit["seeds"][0]
    prompts = {p["step"]: p for p in first["prompts"]}
    assert set(prompts) == {"similar_question", "verify", "answer_enriched", "context_enriched"}
    question = first["seed"]["question"]
    [message] = prompts["similar_question"]["messages"]
    assert message == {
        "role": "user",
        "content": f"Seed: {question} | tool 0 a, tool 0 b, tool 0 c",
    }
    assert prompts["verify"]["note"] == "rendered with the seed in place of a generated item"
    assert prompts["verify"]["messages"][0]["content"].endswith("ANSWER=tool 0 a")
    assert list((root / "cwd").iterdir()) == []
    # The same engine without --no-engine is a one-line error.
    code, _ = preview(root, capsys, "--engine", missing)
    assert code == 1


@pytest.mark.model
def test_preview_one_seed_on_the_embedded_model(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "taskseed.cli",
            "preview",
            "taskspecs",
            "--fixtures",
            "--tasks",
            "arc/easy",
            "--seeds",
            "1",
            "--max-tokens",
            "120",
            "--format",
            "json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["engine"]["engine"] == "llama-cpp"
    [unit] = report["units"]
    [view] = unit["seeds"]
    assert view["items"], "the model's sample is kept or rejected with a reason"
    for item in view["items"]:
        assert item["verdict"] == "kept" or (item["stage"] and item["reason"])
    estimate = report["estimate"]["units"]["arc/easy"]
    assert set(estimate["unreached"]) == {"verify", "enrich"} - set(estimate["stages"])
    generate = estimate["stages"]["generate"]
    assert generate["preview"]["requests"] == 1 and generate["preview"]["completion_tokens"] > 0

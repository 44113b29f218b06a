"""End to end on the real embedded model (SmolLM2-135M-Instruct through llama.cpp)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.funnel import check_funnel, read_jsonl

REPO = Path(__file__).resolve().parents[2]


def taskseed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskseed.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.model
def test_run_on_the_embedded_model(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = taskseed(
        "run",
        "taskspecs",
        "--fixtures",
        "--tasks",
        "sciq,arc/easy,gsm8k",
        "--limit-seeds",
        "2",
        "--max-tokens",
        "160",
        "-o",
        str(out),
        "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    assert "funnel per task" in proc.stdout and "wrote" in proc.stdout
    manifest = check_funnel(out)
    assert manifest["engine"]["engine"] == "llama-cpp"
    assert manifest["engine"]["model_path"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert manifest["tokens"]["completion"] > 0 and manifest["counts"]["generated"] == 12
    records = read_jsonl(out / "data")
    rejects = read_jsonl(out / "rejects")
    assert records or rejects
    for record in records:  # whatever the small model wrote, what was kept is well-formed
        assert record["question"] and record["answer"]
        if record["family"] == "multiple_choice":
            assert record["choices"][record["answer_index"]] == record["answer"]
        if record["kind"] == "similar_question":
            assert record["verification"]["status"] == "verified"
    for reject in rejects:
        assert reject["stage"] and reject["reason"]
    files = {f["path"] for f in manifest["files"]} | {
        f["path"] for f in manifest["rejects"]["files"]
    }
    assert all((out / f).is_file() for f in files)
    plan = json.loads((out / "plan.json").read_text())
    assert plan["fingerprint"] == manifest["plan"]["fingerprint"]


def test_bad_input_is_one_line_and_exit_1(tmp_path: Path) -> None:
    cases = [
        (["run", str(tmp_path / "missing.json")], "plan file not found"),
        (["run", "taskspecs", "--engine", "warp-drive"], "unknown engine `warp-drive`"),
        (["run", "taskspecs", "--model", str(tmp_path / "absent.gguf")], "model file not found"),
        (["run", "taskspecs", "--tasks", "gsm9k"], "did you mean `gsm8k`"),
        (["run", "taskspecs", "--limit-seeds", "0"], "--limit-seeds must be at least 1"),
        (["run", "taskspecs", "--engine", "trtllm", "--model", "m"], "needs TensorRT-LLM"),
        (["run", "taskspecs", "--tensor-parallel-size", "2"], "does not take"),
    ]
    old_plan = tmp_path / "old.json"
    old_plan.write_text(json.dumps({"format": "taskseed.plan", "version": 0}))
    cases.append((["run", str(old_plan)], "plan version 0"))
    for args, message in cases:
        proc = taskseed(*args, "-o", str(tmp_path / "out"))
        assert proc.returncode == 1, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_held_out_dataset_split_is_refused_at_run_time(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    assert taskseed("compile", "taskspecs", "-o", str(plan_path)).returncode == 0
    plan = json.loads(plan_path.read_text())
    for unit in plan["units"]:
        unit["seeds"]["split"] = "test"  # a hand-edited plan
    plan_path.write_text(json.dumps(plan))
    proc = taskseed(
        "run",
        str(plan_path),
        "--fixtures",
        "--tasks",
        "gsm8k",
        "-o",
        str(tmp_path / "out"),
        "--no-progress",
    )
    assert proc.returncode == 1 and "refusing" in proc.stderr and "Traceback" not in proc.stderr

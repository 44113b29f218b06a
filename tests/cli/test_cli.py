"""The command line: exit codes, formats, files written, no tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taskseed.cli.main import main

REPO = Path(__file__).resolve().parents[2]
FIVE = REPO / "tests/golden/cases/five_errors"


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskseed.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_validate_catalog_is_clean() -> None:
    proc = run("validate", "taskspecs")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no problems" in proc.stdout


def test_validate_reports_every_error_at_once() -> None:
    proc = run("validate", "taskspecs", cwd=FIVE)
    assert proc.returncode == 1
    assert proc.stdout == (FIVE / "expected.txt").read_text()
    assert "Traceback" not in proc.stderr


def test_json_and_github_formats() -> None:
    proc = run("validate", "taskspecs", "--format", "json", cwd=FIVE)
    payload = json.loads(proc.stdout)
    assert payload["summary"] == {"errors": 5, "warnings": 0}
    codes = sorted(d["code"] for d in payload["diagnostics"])
    assert codes == ["TS200", "TS201", "TS301", "TS400", "TS501"]
    assert all({"file", "line", "column"} <= d.keys() for d in payload["diagnostics"])
    proc = run("validate", "taskspecs", "--format", "github", cwd=FIVE)
    lines = proc.stdout.splitlines()
    assert len(lines) == 5 and all(line.startswith("::error file=taskspecs/") for line in lines)


def test_compile_writes_plan_and_show_reads_it(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    proc = run("compile", "taskspecs", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    shown = run("plan", "show", str(out))
    assert shown.returncode == 0
    assert "knowledge:" in shown.stdout and "reasoning:" in shown.stdout
    summary = json.loads(run("plan", "show", str(out), "--json").stdout)
    assert summary["units"] == len(json.loads(out.read_text())["units"])
    unit = json.loads(run("plan", "show", str(out), "--unit", "gsm8k/default", "--json").stdout)
    assert unit["format"]["type"] == "numeric"
    missing = run("plan", "show", str(out), "--unit", "gsm8k/defalt")
    assert missing.returncode == 1 and "did you mean `gsm8k/default`" in missing.stderr


def test_compile_with_errors_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    proc = run("compile", "taskspecs", "-o", str(out), cwd=FIVE)
    assert proc.returncode == 1 and not out.exists()


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    proc = run("validate", str(tmp_path / "nowhere"))
    assert proc.returncode == 1 and "TS101" in proc.stdout
    proc = run("validate", str(tmp_path))
    assert proc.returncode == 1 and "TS104" in proc.stdout


def test_plan_from_another_version_is_a_clear_error(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"format": "taskseed.plan", "version": 99, "generator": "x"}))
    proc = run("plan", "show", str(plan))
    assert proc.returncode == 1
    assert "plan version 99" in proc.stderr and "Traceback" not in proc.stderr
    plan.write_text("not json")
    proc = run("plan", "show", str(plan))
    assert proc.returncode == 1 and "not a taskseed plan" in proc.stderr


def test_explain() -> None:
    proc = run("explain", "TS400")
    assert proc.returncode == 0 and "training_split_reason" in proc.stdout
    assert run("explain", "TS999").returncode == 1


def test_strict_turns_warnings_into_failure(tmp_path: Path) -> None:
    case = REPO / "tests/golden/cases/fixture_errors/taskspecs/nofixture.yaml"
    shutil.copy(case, tmp_path / "nofixture.yaml")
    assert run("validate", str(tmp_path)).returncode == 0
    assert run("validate", "--strict", str(tmp_path)).returncode == 1


def test_internal_error_exits_2_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import taskseed.compiler.driver as driver

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(driver, "compile_paths", boom)
    monkeypatch.delenv("TASKSEED_DEBUG", raising=False)
    assert main(["validate", "taskspecs"]) == 2
    err = capsys.readouterr().err
    assert "internal error (TS900)" in err and "Traceback" not in err


def test_a_subtask_without_fixture_rows_warns_and_fails_strict(tmp_path: Path) -> None:
    """TS409: `validate` names the subtask whose `where` keeps no fixture row."""
    shutil.copytree(REPO / "tests/golden/cases/loading_clean/taskspecs", tmp_path / "taskspecs")
    spec = tmp_path / "taskspecs/quiz.yaml"
    spec.write_text(spec.read_text().replace("language: [en, fr]", "language: [en, fr, de]"))
    proc = run("validate", "taskspecs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning[TS409]" in proc.stdout and "`quiz/de` keeps none" in proc.stdout
    assert "quiz/en" not in proc.stdout and "quiz/fr" not in proc.stdout
    assert run("validate", "--strict", "taskspecs", cwd=tmp_path).returncode == 1


def test_run_names_its_data_format_apart_from_the_diagnostics_format() -> None:
    from taskseed.cli.main import build_parser

    parser = build_parser()
    for flag in ("--data-format", "--format"):  # the old name still works
        args = parser.parse_args(["run", "taskspecs", flag, "parquet"])
        assert args.data_format == "parquet"
    assert parser.parse_args(["run", "taskspecs"]).data_format == "jsonl"
    assert parser.parse_args(["validate", "taskspecs", "--format", "json"]).format == "json"

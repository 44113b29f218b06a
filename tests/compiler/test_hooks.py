"""Python hooks in specs: checked without running unless trusted, run on fixtures when
trusted, recorded in the plan, refused by `taskseed run` without --trust-hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskseed.compiler.driver import compile_paths
from taskseed.contract.hooks import GATE, HookError
from taskseed.contract.mapping import compile_expr, normalize
from taskseed.runtime.ledger import Ledger

SPEC = """\
task: quiz
title: Quiz
domain: reasoning
source: {citation: "Written for the taskseed tests", license: CC0-1.0}
seeds:
  dataset: example/quiz
  fixture: fixtures/quiz.jsonl
  where: {hook: hooks/quiz.py:has_options}
mapping:
  question: {hook: hooks/quiz.py:prompt}
  choices: options
  answer: {index: gold}
answer_format: {type: multiple_choice}
generate:
  similar_question:
    prompt: "{{ seed.question }}"
verify:
  prompt: "{{ item.question }}"
"""
HOOKS = """\
MARK = []


def prompt(doc):
    MARK.append(1)  # proves the function ran
    doc["question"] = "changed"  # a hook gets a copy of the row
    return "Q: " + doc["q"].strip()


def has_options(doc):
    return len(doc["options"]) > 1
"""
ROWS = [
    {"q": " What is two and two? ", "options": ["3", "4"], "gold": 1},
    {"q": "Pick the only one", "options": ["a"], "gold": 0},
]


@pytest.fixture(autouse=True)
def no_trust() -> Iterator[None]:
    GATE.revoke()
    yield
    GATE.revoke()


def catalog(root: Path, hooks: str = HOOKS, rows: list[dict[str, object]] = ROWS) -> Path:
    folder = root / "taskspecs"
    (folder / "hooks").mkdir(parents=True)
    (folder / "fixtures").mkdir()
    (folder / "quiz.yaml").write_text(SPEC)
    (folder / "hooks/quiz.py").write_text(hooks)
    (folder / "fixtures/quiz.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_validation_checks_hooks_without_importing_them(tmp_path: Path) -> None:
    folder = catalog(tmp_path, hooks=HOOKS + "\nraise SystemExit('imported!')\n")
    result = compile_paths([folder], root=tmp_path)
    assert [d.code for d in result.diagnostics.sorted()] == ["TS604", "TS604"]
    assert result.plan is not None
    (unit,) = result.plan.units
    assert [(h.file, h.function, h.fields) for h in unit.hooks] == [
        ("taskspecs/hooks/quiz.py", "has_options", ["seeds.where"]),
        ("taskspecs/hooks/quiz.py", "prompt", ["mapping.question"]),
    ]
    assert unit.mapping.question == "hook:taskspecs/hooks/quiz.py:prompt"
    assert unit.seeds.where == "hook:taskspecs/hooks/quiz.py:has_options"
    assert "quiz_hooks" not in sys.modules


def test_trusted_validation_runs_hooks_on_the_fixture_rows(tmp_path: Path) -> None:
    folder = catalog(tmp_path)
    assert not compile_paths([folder], root=tmp_path, trust_hooks=True).diagnostics.items
    broken = catalog(tmp_path / "b", hooks=HOOKS.replace('doc["q"]', 'doc["missing"]'))
    result = compile_paths([broken], root=tmp_path / "b", trust_hooks=True)
    (diagnostic,) = result.diagnostics.errors
    assert diagnostic.code == "TS406"
    assert "KeyError: 'missing'" in diagnostic.message
    assert diagnostic.span is not None and diagnostic.span.line == 10  # mapping.question


def test_hooks_run_only_when_trusted_and_only_as_compiled(tmp_path: Path) -> None:
    folder = catalog(tmp_path)
    plan = compile_paths([folder], root=tmp_path).plan
    assert plan is not None
    (unit,) = plan.units
    where = compile_expr(unit.seeds.where or "")
    with pytest.raises(HookError, match="run only when trusted"):
        where(ROWS[0])
    GATE.allow(((h.file, h.function, h.sha256) for h in unit.hooks), tmp_path)
    kept = [row for row in ROWS if where(row)]
    assert kept == ROWS[:1]
    record = normalize(kept[0], unit.mapping, unit.format, unit.task, unit.subtask)
    assert record.question == "Q: What is two and two?"
    assert record.answer == "4"
    assert kept[0]["q"] == " What is two and two? " and "question" not in kept[0]
    GATE.revoke()
    (folder / "hooks/quiz.py").write_text(HOOKS.replace("Q: ", "Question: "))
    GATE.allow(((h.file, h.function, h.sha256) for h in unit.hooks), tmp_path)
    with pytest.raises(HookError, match="changed since the plan was compiled"):
        compile_expr(unit.mapping.question)(ROWS[0])


def test_taskseed_run_refuses_hooks_without_trust(tmp_path: Path) -> None:
    catalog(tmp_path)
    compiled = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", "compile", "taskspecs", "-o", "plan.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    run = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", "run", "plan.json", "--fixtures", "-o", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "taskseed: error: 1 unit(s) (quiz/default) call Python hooks" in run.stderr
    assert "pass --trust-hooks" in run.stderr
    assert not (tmp_path / "out").exists()
    validate = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", "validate", "--strict", "taskspecs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert validate.returncode == 1  # a catalog validated with --strict keeps no hooks
    assert "warning[TS604]" in validate.stdout


def test_a_trusted_run_calls_the_hooks(tmp_path: Path) -> None:
    catalog(tmp_path)
    repo = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "taskseed.cli",
            "run",
            "taskspecs",
            "--fixtures",
            "--trust-hooks",
            "--ledger-requests",
            "--engine",
            "tests.runtime.scripted:make",
            "--no-progress",
            "-o",
            "out",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    counts = manifest["units"]["quiz/default"]["counts"]
    assert counts["seeds"] == 1  # the `has_options` hook kept one of two rows
    assert counts["normalized"] == 1
    ledger = Ledger(tmp_path / "out/ledger.sqlite")
    sent = [message.content for request in ledger.requests() for message in request.messages]
    ledger.close()
    assert any("Q: What is two and two?" in text for text in sent)  # the `prompt` hook

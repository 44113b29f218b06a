"""`taskseed catalog`: the catalog per domain and task, as text and as JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taskseed.cli.catalog_cmd import config_pattern
from taskseed.cli.main import main

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "taskspecs"
QUIZ = """
extends: ../_multiple_choice.yaml
task: quiz
title: Quiz
domain: knowledge
source: {citation: "taskseed tests", license: CC0-1.0}
seeds: {dataset: example/quiz, split: train, eval_splits: [test], fixture: fixtures/quiz.jsonl}
mapping:
  question: question
  choices: options
  answer: {index: gold}
"""
ROWS = [
    {"question": "Which planet is closest to the Sun?", "options": ["Venus", "Mercury"], "gold": 1},
    {
        "question": "Which gas do people breathe out?",
        "options": ["carbon dioxide", "argon"],
        "gold": 0,
    },
    {"question": "How many legs does a spider have?", "options": ["six", "eight"], "gold": 1},
]
LEVELS = """
extends: ../_multiple_choice.yaml
task: levels
title: Levels
domain: reasoning
source: {citation: "taskseed tests", license: CC0-1.0}
seeds: {dataset: example/levels, split: train, fixture: fixtures/levels.jsonl}
mapping:
  question: question
  choices: options
  answer: {index: gold}
subtasks:
  matrix: {level: [grade-easy, grade-hard]}
  name: "${level}"
  with: {seeds: {config: "${level}"}}
"""


@pytest.fixture
def small_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two hand-written tasks, the imported piqa, the defaults and the templates."""
    catalog = tmp_path / "taskspecs"
    catalog.mkdir()
    for path in CATALOG.glob("_*.yaml"):
        shutil.copy(path, catalog / path.name)
    shutil.copytree(CATALOG / "_templates", catalog / "_templates")
    rows = "".join(json.dumps(row) + "\n" for row in ROWS)
    for domain, task, text in (("knowledge", "quiz", QUIZ), ("reasoning", "levels", LEVELS)):
        (catalog / domain / "fixtures").mkdir(parents=True)
        (catalog / domain / f"{task}.yaml").write_text(text)
        (catalog / domain / "fixtures" / f"{task}.jsonl").write_text(rows)
    shutil.copy(CATALOG / "reasoning/piqa.yaml", catalog / "reasoning/piqa.yaml")
    shutil.copy(CATALOG / "reasoning/fixtures/piqa.jsonl", catalog / "reasoning/fixtures")
    monkeypatch.chdir(tmp_path)
    return catalog


def test_text_lists_domains_tasks_and_totals(
    small_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["catalog"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "knowledge: 1 task, 1 subtask"
    assert lines[1].split() == ["task", "subtasks", "format", "seeds", "origin"]
    assert lines[2].split() == [
        "quiz",
        "1",
        "multiple_choice",
        "example/quiz",
        "train",
        "hand-written",
    ]
    assert "reasoning: 2 tasks, 3 subtasks" in lines
    levels = next(line for line in lines if line.strip().startswith("levels "))
    assert levels.split() == [
        "levels",
        "2",
        "multiple_choice",
        "example/levels",
        "grade-*",
        "(2",
        "configs)",
        "train",
        "hand-written",
    ]
    piqa = next(line for line in lines if line.strip().startswith("piqa "))
    assert piqa.endswith("imported (lm-eval 0.4.13: lm_eval/tasks/piqa/piqa.yaml)")
    assert lines[-1] == (
        "total: 3 task families (1 imported, 2 hand-written), 4 subtasks; "
        "per domain (families / subtasks): knowledge 1 / 1; reasoning 2 / 3"
    )


def test_json_for_machines(small_catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "taskspecs", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"] == {"tasks": 3, "subtasks": 4, "imported": 1, "hand_written": 2}
    assert data["domains"]["reasoning"]["totals"] == {"tasks": 2, "subtasks": 3}
    levels, piqa = data["domains"]["reasoning"]["tasks"]
    assert levels["task"] == "levels" and levels["subtasks"] == 2
    assert levels["seeds"] == {
        "datasets": ["example/levels"],
        "files": [],
        "config": "grade-*",
        "configs": 2,
        "splits": ["train"],
    }
    assert levels["imported_from"] is None
    assert piqa["formats"] == ["multiple_choice"]
    assert piqa["imported_from"] == "lm-eval 0.4.13: lm_eval/tasks/piqa/piqa.yaml"


def test_a_catalog_with_errors_prints_diagnostics(
    small_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = small_catalog / "reasoning" / "piqa.yaml"
    spec.write_text(spec.read_text().replace("question: goal", "question: gaol"))
    assert main(["catalog", "--color", "never"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error[TS403]: the seed rows have no field `gaol`" in captured.err
    assert "taskspecs/reasoning/piqa.yaml" in captured.err

    assert main(["catalog", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in payload["diagnostics"]] == ["TS403"]


def test_the_shipped_catalog_as_a_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", "catalog", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    reasoning = {t["task"]: t for t in data["domains"]["reasoning"]["tasks"]}
    for task in ("piqa", "social_iqa", "logiqa", "mutual"):
        assert reasoning[task]["imported_from"].startswith("lm-eval 0.4.13: lm_eval/tasks/")
    assert reasoning["mutual"]["subtasks"] == 2
    assert data["totals"]["imported"] >= 4


@pytest.mark.parametrize(
    ("configs", "pattern"),
    [
        ([], None),
        (["main"], "main"),
        (["ARC-Challenge", "ARC-Easy"], "ARC-*"),
        (["de-en", "fr-en", "hi-en"], "*-en"),
        (["winogrande_s", "winogrande_xl"], "winogrande_*"),
        (["ar", "bg"], "*"),
    ],
)
def test_config_pattern(configs: list[str], pattern: str | None) -> None:
    assert config_pattern(configs) == pattern

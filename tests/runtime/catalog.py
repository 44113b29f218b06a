"""Small catalogs for runtime tests: inline prompts, fixtures, compiled to plans."""

from __future__ import annotations

import json
from pathlib import Path

from taskseed.compiler.driver import compile_paths
from taskseed.contract.plan import Plan


def quiz_rows(count: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"q{i}",
            "question": f"Which instrument measures quantity number {i} in a lab?",
            "options": [f"tool {i} a", f"tool {i} b", f"tool {i} c"],
            "gold": i % 3,
        }
        for i in range(count)
    ]


QUIZ_ROWS = quiz_rows(5)

SPEC = """
extends: ../_base.yaml
task: quiz
title: Quiz
domain: knowledge
source: {citation: "taskseed tests", license: CC0-1.0}
seeds:
  dataset: example/quiz
  split: train
  eval_splits: [test]
  fixture: fixtures/quiz.jsonl
mapping:
  id: id
  question: question
  choices: options
  answer: {index: gold}
answer_format: {type: multiple_choice, min_options: 3, max_options: 3}
"""

BASE = """
generate:
  similar_question:
    prompt: "Seed: {{ seed.question }} | {{ seed.choices | join(', ') }}"
    per_seed: 2
    sampling: {temperature: 0.7, max_tokens: 64}
  answer_enriched:
    prompt: "Explain {{ item.question }} ANSWER={{ item.answer }}"
  context_enriched:
    prompt: "Context for {{ item.question }}"
verify:
  prompt: "{{ item.question }} {{ item.choices | join(', ') }} ANSWER={{ item.answer }}"
  k: 3
  threshold: 0.6
filters:
  question_chars: {min: 5, max: 500}
dedup:
  threshold: 0.8
  ngram: 2
"""


def write_catalog(
    root: Path, rows: list[dict[str, object]] | None = None, spec: str = SPEC, base: str = BASE
) -> Path:
    catalog = root / "taskspecs"
    (catalog / "knowledge/fixtures").mkdir(parents=True, exist_ok=True)
    (catalog / "_base.yaml").write_text(base)
    (catalog / "knowledge/quiz.yaml").write_text(spec)
    fixture = "".join(json.dumps(r) + "\n" for r in (rows or QUIZ_ROWS))
    (catalog / "knowledge/fixtures/quiz.jsonl").write_text(fixture)
    return catalog


def compile_catalog(root: Path, **kwargs: object) -> Plan:
    catalog = write_catalog(root, **kwargs)  # type: ignore[arg-type]
    result = compile_paths([catalog], root=root)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    return result.plan

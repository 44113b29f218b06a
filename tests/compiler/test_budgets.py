"""Budgets at compile time: a mapping that runs out of time on a fixture row is a TS506
at the mapping's line, and one compile's time for fixture rows is bounded too."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskseed.compiler import plan as plan_module
from taskseed.compiler.driver import compile_paths
from taskseed.contract.jinja_budget import Budgets, use_budgets
from tests.compiler.test_files import toy_catalog

SLOW = '"{% for i in range(90000) %}{{ (i|string)|reverse|join|int }}{% endfor %}{{ question }}"'


def slow_catalog(root: Path) -> Path:
    catalog = toy_catalog(root)
    spec = catalog / "toy.yaml"
    spec.write_text(spec.read_text().replace("  question: question\n", f"  question: {SLOW}\n"))
    return catalog


def test_a_slow_mapping_is_reported_at_its_line(tmp_path: Path) -> None:
    catalog = slow_catalog(tmp_path)
    with use_budgets(Budgets(seconds=0.05)):
        result = compile_paths([catalog], root=tmp_path)
    (diag,) = result.diagnostics.items
    assert diag.code == "TS506"
    assert diag.span is not None and diag.span.file.endswith("taskspecs/toy.yaml")
    assert diag.span.line == 14  # `question:` under `mapping:`
    assert "fixtures/toy.jsonl:1: " in diag.message and "CPU time" in diag.message


def test_one_compile_spends_a_bounded_time_on_fixture_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = toy_catalog(tmp_path)
    monkeypatch.setattr(plan_module, "MAX_EVALUATION_SECONDS", -1.0)
    result = compile_paths([catalog], root=tmp_path)
    (diag,) = result.diagnostics.items
    assert diag.code == "TS506" and "were not checked" in diag.message

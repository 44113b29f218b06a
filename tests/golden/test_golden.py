"""Every golden case compiles to exactly its expected diagnostics (and plan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.harness import EXPECTED_PLAN, EXPECTED_TEXT, CASES, case_dirs, run_case


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_case(case: Path) -> None:
    assert (case / "taskspecs").is_dir(), f"{case.name}: a golden case needs a taskspecs/ folder"
    expected_text = case / EXPECTED_TEXT
    assert expected_text.is_file(), f"{case.name}: no {EXPECTED_TEXT}; run `make golden`"
    text, plan = run_case(case)
    assert text == expected_text.read_text(encoding="utf-8")
    expected_plan = case / EXPECTED_PLAN
    if plan is None:
        assert not expected_plan.exists(), f"{case.name}: {EXPECTED_PLAN} but no plan compiles"
    else:
        assert expected_plan.is_file(), f"{case.name}: compiles, but has no {EXPECTED_PLAN}"
        assert plan == expected_plan.read_bytes()


def test_no_stray_golden_files() -> None:
    """A golden file outside a case folder is a case that was lost."""
    for path in CASES.iterdir():
        assert path.is_dir(), f"stray file in golden cases: {path.name}"

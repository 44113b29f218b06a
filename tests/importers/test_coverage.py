"""Issue 13's bar, measured on the whole pinned release: import every lm-eval 0.4.13 task
that names a training split (one spec each, into a scratch catalog) and validate them.

The survey runs once for the module (about a minute of CPU); the figures it prints are
the ones `python -m taskseed.importers.lm_eval_survey OUT_DIR` reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from taskseed.importers.lm_eval_families import FamilyFinder
from taskseed.importers.lm_eval_survey import (
    Survey,
    coverage_table,
    hook_table,
    scratch_catalog,
    survey,
)
from taskseed.importers.lm_eval_translate import (
    NO_TRAINING_SPLIT,
    SCORED_ON_TRAINING,
    WHOLE_DOCUMENTS,
)
from tests.importers.helpers import CATALOG

LEGITIMATE = {NO_TRAINING_SPLIT, SCORED_ON_TRAINING, WHOLE_DOCUMENTS}


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory, finder: FamilyFinder) -> Survey:
    catalog = scratch_catalog(tmp_path_factory.mktemp("coverage"), CATALOG)
    result = survey(finder, catalog / "reasoning")
    print("\n" + hook_table(result) + "\n" + coverage_table(result))
    return result


def test_every_task_is_imported_or_skipped_with_a_legitimate_reason(measured: Survey) -> None:
    assert measured.tasks > 600  # the release names about 620 training splits
    assert len(measured.imported) + sum(measured.skipped.values()) == measured.tasks
    assert set(measured.skipped) <= LEGITIMATE, measured.skipped


def test_at_least_95_percent_of_the_imported_specs_validate(measured: Survey) -> None:
    share = len(measured.clean) / len(measured.imported)
    assert share >= 0.95, coverage_table(measured)
    # What a clean imported spec may still warn about: no fixture yet, no citation yet.
    assert set(measured.warnings) <= {"TS405", "TS600"}, measured.warnings


def test_every_hook_is_translated_or_says_why_not(measured: Survey) -> None:
    assert measured.hooks
    for record in measured.hooks.values():
        assert record.patterns, record
        if not record.translated:
            assert record.reasons, record


def test_specs_left_with_errors_say_where(measured: Survey) -> None:
    for spec, codes in measured.failing.items():
        assert set(codes) <= {"TS504", "TS206"}, (spec, codes)
        assert "__complete_by_hand__" in Path(spec).read_text() or "TS206" in codes

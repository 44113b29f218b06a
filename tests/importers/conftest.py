"""Fixtures for the importer tests: the installed lm-eval, and imports into scratch catalogs."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from taskseed.importers.lm_eval import import_lm_eval
from taskseed.importers.lm_eval_families import FamilyFinder
from taskseed.importers.lm_eval_index import tasks_root
from tests.importers.helpers import Imported, scratch_catalog


@pytest.fixture(scope="session")
def lm_eval_tasks() -> Path:
    root = tasks_root()
    if root is None:
        pytest.fail("lm-eval 0.4.13 must be installed (`make setup` installs it with --no-deps)")
    return root


@pytest.fixture(scope="session")
def finder(lm_eval_tasks: Path) -> FamilyFinder:
    """One finder for the session: its name index reads lm-eval's files once."""
    return FamilyFinder(lm_eval_tasks)


@pytest.fixture
def run_import(tmp_path: Path, finder: FamilyFinder) -> Callable[..., Imported]:
    """Import into `<tmp>/taskspecs/<folder>` in process; returns the exit code and stderr."""
    catalog = scratch_catalog(tmp_path)

    def run(
        *targets: str,
        folder: str = "reasoning",
        families: tuple[str, ...] = (),
        refer: bool = False,
    ) -> Imported:
        err, out = io.StringIO(), io.StringIO()
        out_dir = catalog / folder
        code = import_lm_eval(
            list(targets), out_dir, err, finder, families=families, refer=refer, out=out
        )
        return Imported(code, err.getvalue(), out_dir, out.getvalue())

    return run

"""Golden cases: each folder under cases/ holds a `taskspecs/` tree and the expected
rendered diagnostics (`expected.txt`), plus `expected.plan.json` when it compiles."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

from taskseed.compiler.driver import compile_paths
from taskseed.contract.plan import encode
from taskseed.compiler.diagnostic_formats import render_text, summary_line

CASES = Path(__file__).parent / "cases"
EXPECTED_TEXT = "expected.txt"
EXPECTED_PLAN = "expected.plan.json"


def case_dirs() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if p.is_dir())


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_case(case: Path) -> tuple[str, bytes | None]:
    """Compile a case's specs from inside its folder: (rendered text, plan bytes)."""
    with working_directory(case):
        result = compile_paths(["taskspecs"], root=Path("."))
        items = result.diagnostics.sorted()
        text = render_text(items, result.sources)
        text += ("\n" if items else "") + summary_line(items, len(result.files)) + "\n"
        plan = encode(result.plan) if result.plan is not None else None
    return text, plan

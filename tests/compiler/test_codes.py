"""Every diagnostic code is documented, used, and covered by a golden case."""

from __future__ import annotations

import re
from pathlib import Path

from taskseed.compiler.codes import CODES, explain, markdown

REPO = Path(__file__).resolve().parents[2]
CODE = re.compile(r"\"(TS\d{3})\"")
# Codes that golden cases cannot produce from a spec tree; each has its own test.
NOT_IN_GOLDEN = {
    "TS101": "tests/cli/test_cli.py",
    "TS104": "tests/cli/test_cli.py",
    "TS107": "tests/compiler/test_files.py",
    "TS108": "tests/compiler/test_files.py",
    "TS506": "tests/compiler/test_budgets.py",
    "TS900": "tests/cli/test_cli.py",
}


def used_codes() -> set[str]:
    found: set[str] = set()
    for folder in ("compiler", "cli", "runtime"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name == "codes.py":
                continue
            found.update(CODE.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_used_code_is_documented() -> None:
    for code in sorted(used_codes()):
        assert code in CODES, f"{code} is emitted but has no entry in compiler/codes.py"
        info = CODES[code]
        assert info.summary.strip() and info.explanation.strip(), f"{code} has no text"
        assert explain(code) is not None


def test_every_documented_code_is_used() -> None:
    unused = set(CODES) - used_codes() - {"TS900"}
    assert not unused, f"documented but never emitted: {sorted(unused)}"


def test_every_code_has_a_golden_case() -> None:
    golden = "".join(
        p.read_text(encoding="utf-8") for p in (REPO / "tests/golden/cases").rglob("expected.txt")
    )
    seen = set(re.findall(r"\[(TS\d{3})\]", golden))
    missing = set(CODES) - seen - set(NOT_IN_GOLDEN)
    assert not missing, f"codes without a golden case: {sorted(missing)}"


def test_docs_page_is_current() -> None:
    page = (REPO / "docs/diagnostics.md").read_text(encoding="utf-8")
    assert page == markdown(), "docs/diagnostics.md is stale; run `make docs`"


def test_explain_is_case_insensitive_and_rejects_unknown() -> None:
    assert explain("ts200") == explain("TS200")
    assert explain("TS999") is None

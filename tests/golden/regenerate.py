"""Rewrite every golden case's expected files: `make golden`."""

from __future__ import annotations

from tests.golden.harness import EXPECTED_PLAN, EXPECTED_TEXT, case_dirs, run_case


def main() -> None:
    for case in case_dirs():
        text, plan = run_case(case)
        (case / EXPECTED_TEXT).write_text(text, encoding="utf-8")
        plan_path = case / EXPECTED_PLAN
        if plan is None:
            plan_path.unlink(missing_ok=True)
        else:
            plan_path.write_bytes(plan)
        print(f"{case.name}: {'plan' if plan else 'diagnostics only'}")


if __name__ == "__main__":
    main()

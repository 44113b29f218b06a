"""`taskseed plan diff OLD NEW`: units added, removed and changed, and what reruns.

Each side is a plan (`.json`) or spec files and folders, compiled first as `taskseed
run` does; paths in a compiled plan are relative to its root (`--old-root`,
`--new-root`, default the current folder), so compile both sides from the same
repository root or their spec paths differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from taskseed.cli.errors import EXIT_DIAGNOSTICS, EXIT_OK, UserError


def register(plan_sub: Any) -> None:
    p = plan_sub.add_parser(
        "diff", help="units added, removed and changed between two plans, and what reruns"
    )
    p.add_argument("old", metavar="OLD", help="a plan.json, or a spec file or folder")
    p.add_argument("new", metavar="NEW", help="a plan.json, or a spec file or folder")
    p.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text (default), json, or github (workflow annotations for a pull request)",
    )
    p.add_argument("--old-root", help="compile OLD specs with paths relative to this folder")
    p.add_argument("--new-root", help="compile NEW specs with paths relative to this folder")
    p.add_argument(
        "--exit-code", action="store_true", help="exit 1 when any unit is added, removed or changed"
    )
    p.set_defaults(handler=run)


def load(path: str, root: str | None, side: str) -> Any:
    """A plan from a plan file, or compiled from specs (their diagnostics on stderr)."""
    from taskseed.cli.commands import read_plan

    if path.endswith(".json") and not Path(path).is_dir():
        return read_plan(path)
    from taskseed.compiler.diagnostic_formats import render_text
    from taskseed.compiler.driver import compile_paths

    result = compile_paths([path], root=Path(root) if root else None)
    if result.plan is None:
        sys.stderr.write(render_text(result.diagnostics.sorted(), result.sources))
        raise UserError(f"{side} specs `{path}` have errors; `taskseed validate {path}` shows them")
    return result.plan


def run(args: argparse.Namespace) -> int:
    from taskseed.compiler.plan_diff import diff_plans
    from taskseed.compiler.plan_diff_formats import RENDERERS

    old = load(args.old, args.old_root, "OLD")
    new = load(args.new, args.new_root, "NEW")
    diff = diff_plans(old, new)
    sys.stdout.write(RENDERERS[args.format](diff))
    differs = bool(diff.added or diff.removed or diff.changed)
    return EXIT_DIAGNOSTICS if args.exit_code and differs else EXIT_OK

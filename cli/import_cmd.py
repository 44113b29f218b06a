"""`taskseed import lm-eval ...`: convert lm-evaluation-harness task files to specs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from taskseed.cli.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="convert task files of other tools into task specs")
    p.add_argument("tool", choices=["lm-eval"], help="the tool the task files come from")
    p.add_argument(
        "tasks",
        nargs="*",
        metavar="TASK_OR_PATH",
        help="lm-eval task, group or tag names, or task files and folders",
    )
    p.add_argument(
        "--family",
        action="append",
        default=[],
        metavar="NAME",
        help="every task of an lm-eval task folder (or group or tag), one spec per shared "
        "template, with subtasks; repeatable",
    )
    p.add_argument(
        "--hooks",
        action="store_true",
        help="reference the Python hooks that cannot be translated (their files are copied "
        "to hooks/ beside the specs; runs need --trust-hooks) instead of leaving them to "
        "finish by hand",
    )
    p.add_argument("-o", "--output", required=True, help="folder for the specs")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taskseed.importers.lm_eval import import_lm_eval

    if not args.tasks and not args.family:
        raise UserError("name lm-eval tasks, or a --family, to import")
    return import_lm_eval(
        args.tasks,
        Path(args.output),
        sys.stderr,
        families=args.family,
        refer=args.hooks,
        out=sys.stdout,
    )

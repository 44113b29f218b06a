"""`taskseed import lm-eval ...`: convert lm-evaluation-harness task files to specs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="convert task files of other tools into task specs")
    p.add_argument("tool", choices=["lm-eval"], help="the tool the task files come from")
    p.add_argument("tasks", nargs="+", metavar="TASK_OR_PATH")
    p.add_argument("-o", "--output", required=True, help="folder for the specs")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taskseed.importers.lm_eval import import_lm_eval

    return import_lm_eval(args.tasks, Path(args.output), sys.stderr)

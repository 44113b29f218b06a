"""`taskseed catalog`: print the task catalog."""

from __future__ import annotations

import argparse
from typing import Any

from taskseed.cli.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("catalog", help="list the tasks and subtasks of a catalog")
    p.add_argument("paths", nargs="*", default=["taskspecs"], metavar="PATH")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise UserError("the catalog listing is being written")

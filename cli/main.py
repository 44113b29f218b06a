"""`taskseed`: the command line.

Exit codes: 0 clean, 1 diagnostics or bad input, 2 internal error. Commands import
what they need when they run, so that `taskseed validate` starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from taskseed.cli.errors import EXIT_DIAGNOSTICS, EXIT_INTERNAL, EXIT_OK, UserError
from taskseed.contract.version import VERSION

Handler = Callable[[argparse.Namespace], int]


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="how to print diagnostics (default: text)",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in text diagnostics (default: auto)",
    )


def trust_hooks_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--trust-hooks",
        action="store_true",
        help=f"run the Python hooks the specs name ({what}); without it they are only "
        "checked, never imported",
    )


def allow_option(parser: argparse.ArgumentParser) -> None:
    """`--allow-path DIR`: a folder outside the catalog that specs may read from."""
    parser.add_argument(
        "--allow-path",
        action="append",
        default=[],
        metavar="DIR",
        help="let specs also read files under DIR (repeatable; see the README's trust model)",
    )


def build_parser() -> argparse.ArgumentParser:
    from taskseed.cli import commands, plan_diff_cmd

    parser = argparse.ArgumentParser(
        prog="taskseed",
        description="Compile task specs into plans and run them to make synthetic data.",
    )
    parser.add_argument("--version", action="version", version=f"taskseed {VERSION}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("validate", help="check task specs and report every problem")
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    trust_hooks_option(p, "on the fixture rows")
    allow_option(p)
    _format_option(p)
    p.set_defaults(handler=commands.validate)

    p = sub.add_parser("compile", help="compile task specs into an execution plan")
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders")
    p.add_argument(
        "-o", "--output", default="plan.json", help="where to write the plan (- for stdout)"
    )
    p.add_argument("--root", default=None, help="paths in the plan are relative to this folder")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    trust_hooks_option(p, "on the fixture rows")
    allow_option(p)
    _format_option(p)
    p.set_defaults(handler=commands.compile_plan)

    p = sub.add_parser("explain", help="print the documentation of a diagnostic code")
    p.add_argument("code", help="a code such as TS200")
    p.set_defaults(handler=commands.explain)

    plan = sub.add_parser("plan", help="inspect a compiled plan")
    plan_sub = plan.add_subparsers(dest="plan_command", metavar="COMMAND", required=True)
    p = plan_sub.add_parser("show", help="summarise a plan: tasks, subtasks, kinds, templates")
    p.add_argument("plan", help="a plan.json file")
    p.add_argument(
        "--unit",
        help="print every resolved setting of one unit (its ID, task/subtask), by stage",
    )
    p.add_argument(
        "--json", action="store_true", help="print the summary (or, with --unit, the unit) as JSON"
    )
    p.set_defaults(handler=commands.plan_show)
    plan_diff_cmd.register(plan_sub)

    p = sub.add_parser("schemas", help="write the JSON Schemas of the spec, plan and record")
    p.add_argument("-o", "--output", default="schemas", help="folder (default: schemas)")
    p.add_argument("--check", action="store_true", help="fail if the files are not current")
    p.set_defaults(handler=commands.schemas)

    from taskseed.cli import catalog_cmd, import_cmd, preview_cmd, run_cmd

    run_cmd.register(sub)
    preview_cmd.register(sub)
    catalog_cmd.register(sub)
    import_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UserError as exc:
        print(f"taskseed: error: {exc}", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    except KeyboardInterrupt:
        print("taskseed: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the compiler itself failed
        print(
            f"taskseed: internal error (TS900): {type(exc).__name__}: {exc}\n"
            "This is a bug in taskseed; please report it with the input that triggers it.",
            file=sys.stderr,
        )
        if os.environ.get("TASKSEED_DEBUG"):
            traceback.print_exc()
        else:
            print("Set TASKSEED_DEBUG=1 to print the traceback.", file=sys.stderr)
        return EXIT_INTERNAL

"""Handlers of the compiler-side commands: validate, compile, explain, plan show, schemas."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import TextIO

from taskseed.cli.errors import EXIT_DIAGNOSTICS, EXIT_OK, UserError
from taskseed.runtime.atomic import write_atomic


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _report(args: argparse.Namespace, result: object, stream: TextIO) -> int:
    """Print diagnostics in the chosen format; the exit code they imply."""
    from taskseed.compiler.diagnostic_formats import RENDERERS, render_text, summary_line
    from taskseed.compiler.driver import CompileResult

    assert isinstance(result, CompileResult)
    items = result.diagnostics.sorted()
    if args.format == "text":
        stream.write(render_text(items, result.sources, color=_use_color(args.color, stream)))
        if items:
            stream.write("\n")
        stream.write(summary_line(items, len(result.files)) + "\n")
    else:
        stream.write(RENDERERS[args.format](items, result.sources))
    failing = result.diagnostics.has_errors or (args.strict and bool(items))
    return EXIT_DIAGNOSTICS if failing else EXIT_OK


def allowed_paths(args: argparse.Namespace) -> list[Path]:
    """The `--allow-path` folders, each checked to be a folder."""
    folders = [Path(p) for p in getattr(args, "allow_path", None) or []]
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"--allow-path {folder}: not a folder")
    return folders


def validate(args: argparse.Namespace) -> int:
    from taskseed.compiler.driver import compile_paths

    result = compile_paths(args.paths, trust_hooks=args.trust_hooks, allow=allowed_paths(args))
    return _report(args, result, sys.stdout)


def compile_plan(args: argparse.Namespace) -> int:
    from taskseed.compiler.driver import compile_paths
    from taskseed.contract.plan import encode

    root = Path(args.root) if args.root else None
    result = compile_paths(
        args.paths, root=root, trust_hooks=args.trust_hooks, allow=allowed_paths(args)
    )
    code = _report(args, result, sys.stderr)
    if code != EXIT_OK or result.plan is None:
        return code if code != EXIT_OK else EXIT_DIAGNOSTICS
    data = encode(result.plan)
    if args.output == "-":
        sys.stdout.buffer.write(data)
    else:
        write_atomic(Path(args.output), data)
        plan = result.plan
        tasks = len({u.task for u in plan.units})
        print(
            f"wrote {args.output}: {len(plan.units)} units from {tasks} tasks "
            f"(plan {plan.fingerprint})",
            file=sys.stderr,
        )
    return EXIT_OK


def explain(args: argparse.Namespace) -> int:
    from taskseed.compiler.codes import CODES
    from taskseed.compiler.codes import explain as explain_code

    text = explain_code(args.code)
    if text is None:
        raise UserError(f"unknown code `{args.code}`; codes: {', '.join(CODES)}")
    sys.stdout.write(text)
    return EXIT_OK


def read_plan(path: str) -> object:
    from taskseed.contract.plan import PlanError, decode

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"plan file not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read plan {path}: {exc}") from None
    try:
        return decode(data)
    except PlanError as exc:
        raise UserError(f"{path}: {exc}") from None


def plan_show(args: argparse.Namespace) -> int:
    import json

    import msgspec

    from taskseed.contract.plan import Plan

    plan = read_plan(args.plan)
    assert isinstance(plan, Plan)
    if args.unit:
        try:
            unit = plan.unit(args.unit)
        except KeyError:
            from taskseed.contract.suggest import did_you_mean

            hint = did_you_mean(args.unit, [u.id for u in plan.units]) or ""
            raise UserError(f"no unit `{args.unit}` in {args.plan}. {hint}".strip()) from None
        if args.json:
            raw = msgspec.json.encode(unit, order="deterministic")
            sys.stdout.write(msgspec.json.format(raw, indent=2).decode() + "\n")
        else:
            from taskseed.cli.unit_settings import format_unit_settings

            sys.stdout.write(format_unit_settings(plan, unit))
        return EXIT_OK
    summary = summarize(plan)
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        sys.stdout.write(format_summary(summary))
    return EXIT_OK


def summarize(plan: object) -> dict[str, object]:
    from taskseed.contract.plan import Plan, Unit

    assert isinstance(plan, Plan)
    domains: dict[str, dict[str, object]] = {}
    by_domain: dict[str, list[Unit]] = defaultdict(list)
    for unit in plan.units:
        by_domain[unit.domain].append(unit)
    for domain, units in sorted(by_domain.items()):
        tasks: dict[str, Counter[str]] = defaultdict(Counter)
        formats: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        for unit in units:
            tasks[unit.task]["subtasks"] += 1
            formats[unit.format.type] += 1
            for step in unit.steps:
                kinds[step.kind] += 1
        domains[domain] = {
            "tasks": len(tasks),
            "subtasks": len(units),
            "formats": dict(sorted(formats.items())),
            "kinds": dict(sorted(kinds.items())),
            "per_task": {t: c["subtasks"] for t, c in sorted(tasks.items())},
        }
    return {
        "fingerprint": plan.fingerprint,
        "generator": plan.generator,
        "version": plan.version,
        "units": len(plan.units),
        "tasks": len({u.task for u in plan.units}),
        "templates": {k: t.origin for k, t in plan.templates.items()},
        "fixtures": len(plan.fixtures),
        "domains": domains,
    }


def format_summary(summary: dict[str, object]) -> str:
    lines = [
        f"plan {summary['fingerprint']} (version {summary['version']}, {summary['generator']})",
        f"{summary['tasks']} tasks, {summary['units']} subtasks, "
        f"{len(summary['templates'])} templates, {summary['fixtures']} fixtures",  # type: ignore[arg-type]
        "",
    ]
    domains = summary["domains"]
    assert isinstance(domains, dict)
    for domain, info in domains.items():
        lines.append(f"{domain}: {info['tasks']} tasks, {info['subtasks']} subtasks")
        formats = ", ".join(f"{k} {v}" for k, v in info["formats"].items())
        kinds = ", ".join(f"{k} {v}" for k, v in info["kinds"].items())
        lines.append(f"  answer formats: {formats}")
        lines.append(f"  data kinds:     {kinds}")
        per_task = info["per_task"]
        width = max(len(t) for t in per_task)
        for task, count in per_task.items():
            lines.append(f"  {task:<{width}}  {count:>4} subtask{'s' if count != 1 else ''}")
        lines.append("")
    templates = summary["templates"]
    assert isinstance(templates, dict)
    lines.append("templates:")
    for key, origin in sorted(templates.items(), key=lambda kv: kv[1]):
        lines.append(f"  {key}  {origin}")
    return "\n".join(lines) + "\n"


def schemas(args: argparse.Namespace) -> int:
    from taskseed.compiler.schemas import SCHEMAS, render

    folder = Path(args.output)
    stale = []
    for name in SCHEMAS:
        text = render(name)
        path = folder / name
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        if args.check:
            stale.append(name)
        else:
            write_atomic(path, text.encode())
            print(f"wrote {path}", file=sys.stderr)
    if stale:
        print(
            f"stale schemas in {folder}: {', '.join(stale)}; run `make schemas`",
            file=sys.stderr,
        )
        return EXIT_DIAGNOSTICS
    return EXIT_OK

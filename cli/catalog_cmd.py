"""`taskseed catalog`: print the task catalog.

The catalog is compiled, and its plan units are summarised per domain and task: how
many subtasks, which answer format, where the seeds come from (dataset, configuration
pattern, split), and whether the spec was imported (`imported_from`) or written by
hand. A catalog with errors prints its diagnostics instead and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from taskseed.cli.errors import EXIT_DIAGNOSTICS, EXIT_OK

HAND_WRITTEN = "hand-written"


def register(sub: Any) -> None:
    from taskseed.cli.main import allow_option

    p = sub.add_parser("catalog", help="list the tasks and subtasks of a catalog")
    p.add_argument("paths", nargs="*", default=["taskspecs"], metavar="PATH")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")
    allow_option(p)
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in text diagnostics (default: auto)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taskseed.cli.commands import _report, allowed_paths
    from taskseed.compiler.driver import compile_paths

    result = compile_paths(args.paths, allow=allowed_paths(args))
    if not result.ok:
        report = argparse.Namespace(
            format="json" if args.json else "text", color=args.color, strict=False
        )
        _report(report, result, sys.stdout if args.json else sys.stderr)
        return EXIT_DIAGNOSTICS
    catalog = summarize(result.units)
    if args.json:
        sys.stdout.write(json.dumps(catalog, indent=2) + "\n")
    else:
        sys.stdout.write(format_catalog(catalog))
    return EXIT_OK


def summarize(units: Sequence[Any]) -> dict[str, Any]:
    """Plan units -> {domains: {domain: {tasks: [...], totals}}, totals}."""
    by_task: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for unit in units:
        by_task[(unit.domain, unit.task)].append(unit)
    domains: dict[str, dict[str, Any]] = {}
    for (domain, task), members in sorted(by_task.items()):
        entry = domains.setdefault(domain, {"tasks": [], "totals": {"tasks": 0, "subtasks": 0}})
        entry["tasks"].append(_task(task, members))
        entry["totals"]["tasks"] += 1
        entry["totals"]["subtasks"] += len(members)
    tasks = [t for d in domains.values() for t in d["tasks"]]
    imported = sum(1 for t in tasks if t["imported_from"] is not None)
    return {
        "domains": domains,
        "totals": {
            "tasks": len(tasks),
            "subtasks": sum(t["subtasks"] for t in tasks),
            "imported": imported,
            "hand_written": len(tasks) - imported,
        },
    }


def _task(task: str, units: list[Any]) -> dict[str, Any]:
    first = units[0]
    configs = sorted({u.seeds.config for u in units if u.seeds.config is not None})
    imported = sorted({u.imported_from for u in units if u.imported_from is not None})
    return {
        "task": task,
        "title": first.title,
        "subtasks": len(units),
        "formats": sorted({u.format.type for u in units}),
        "seeds": {
            "datasets": sorted({u.seeds.dataset for u in units if u.seeds.dataset is not None}),
            "files": sorted({f for u in units for f in u.seeds.files}),
            "config": config_pattern(configs),
            "configs": len(configs),
            "splits": sorted({u.seeds.split for u in units}),
        },
        "imported_from": imported[0] if imported else None,
    }


def config_pattern(configs: Sequence[str]) -> str | None:
    """One configuration as it is; several as their shared prefix and suffix around `*`."""
    if not configs:
        return None
    if len(configs) == 1:
        return configs[0]
    prefix = _shared_start(configs)
    rest = [c[len(prefix) :] for c in configs]
    suffix = _shared_start([r[::-1] for r in rest])[::-1]
    return f"{prefix}*{suffix}"


def _shared_start(texts: Sequence[str]) -> str:
    shortest = min(texts, key=len)
    for index, char in enumerate(shortest):
        if any(text[index] != char for text in texts):
            return shortest[:index]
    return shortest


def seed_source(seeds: dict[str, Any]) -> str:
    where = ", ".join(seeds["datasets"] or seeds["files"]) or "?"
    parts = [where]
    if seeds["config"] is not None:
        count = seeds["configs"]
        parts.append(seeds["config"] + (f" ({count} configs)" if count > 1 else ""))
    parts.append("/".join(seeds["splits"]))
    return " ".join(parts)


def format_catalog(catalog: dict[str, Any]) -> str:
    lines: list[str] = []
    header = ("task", "subtasks", "format", "seeds", "origin")
    for domain, entry in catalog["domains"].items():
        totals = entry["totals"]
        lines.append(
            f"{domain}: {_count(totals['tasks'], 'task')}, {_count(totals['subtasks'], 'subtask')}"
        )
        rows = [
            (
                t["task"],
                str(t["subtasks"]),
                ", ".join(t["formats"]),
                seed_source(t["seeds"]),
                f"imported ({t['imported_from']})" if t["imported_from"] else HAND_WRITTEN,
            )
            for t in entry["tasks"]
        ]
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
        for row in (header, *rows):
            cells = [
                cell.rjust(width) if i == 1 else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=False))
            ]
            lines.append(("  " + "  ".join(cells) + "  " + row[-1]).rstrip())
        lines.append("")
    totals = catalog["totals"]
    per_domain = "; ".join(
        f"{d} {e['totals']['tasks']} / {e['totals']['subtasks']}"
        for d, e in catalog["domains"].items()
    )
    lines.append(
        f"total: {_count(totals['tasks'], 'task family', 'task families')} "
        f"({totals['imported']} imported, {totals['hand_written']} hand-written), "
        f"{_count(totals['subtasks'], 'subtask')}"
        + (f"; per domain (families / subtasks): {per_domain}" if per_domain else "")
    )
    return "\n".join(lines) + "\n"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"

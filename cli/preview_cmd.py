"""`taskseed preview`: a few seeds of a task through every stage, before a full run.

With an engine, the seeds go through the real runtime (`run_plan` with
`--limit-seeds N`) into a temporary folder, which is removed afterwards: a preview
writes nothing to a real run's ledger or output folder. Each seed is printed beside
its items with each one's verdict (kept, or rejected by which stage and why; the
verification votes), then an estimate of the full run. `--no-engine` renders the
prompts only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from taskseed.cli.errors import EXIT_OK, UserError

PREVIEW_SEEDS = 5  # seeds per subtask a preview takes unless --seeds says otherwise


def register(sub: Any) -> None:
    from taskseed.cli.main import allow_option
    from taskseed.cli.run_cmd import add_engine_arguments, add_seed_arguments

    p = sub.add_parser(
        "preview",
        help="a few seeds through every stage: prompts, items, verdicts, full-run estimate",
        description="Take the first seeds of the selected subtasks, run them through every "
        "stage on the engine (in a temporary folder: nothing is written to a real run's "
        "ledger or output), print each seed beside its items and their verdicts, and "
        "estimate the full run's requests, tokens and time.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="PLAN_OR_SPECS",
        help="a plan.json, or spec files and folders to compile first",
    )
    p.add_argument("--tasks", default="", help="comma-separated tasks or task/subtask globs")
    p.add_argument(
        "--seeds",
        type=int,
        default=PREVIEW_SEEDS,
        metavar="N",
        help=f"seeds per subtask (default {PREVIEW_SEEDS})",
    )
    p.add_argument(
        "--no-engine",
        action="store_true",
        help="render the prompts only (no engine is started)",
    )
    add_seed_arguments(p)
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json (machine-readable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    allow_option(p)
    add_engine_arguments(p)
    p.set_defaults(handler=preview_command, executor="local")


def preview_command(args: argparse.Namespace) -> int:
    from taskseed.cli.run_cmd import at_least_one, selected_units
    from taskseed.runtime.options import RunOptions
    from taskseed.runtime.preview import first_seeds, render_prompts, seed_dict

    at_least_one(args, ("seeds", "max_tokens"))
    plan, units = selected_units(args)
    options = RunOptions(
        use_fixtures=args.fixtures,
        limit_seeds=args.seeds,
        seed=args.seed,
        root=Path(args.root),
        timeout_s=args.timeout,
        max_tokens=args.max_tokens,
        slice_size=args.seeds,
    )
    from taskseed.runtime.errors import SeedError

    try:
        seeds = {u.id: first_seeds(plan, u, options, args.seeds) for u in units}
    except SeedError as exc:
        raise UserError(str(exc)) from None
    if args.no_engine:
        report: dict[str, Any] = {
            "units": [
                {
                    "unit": unit.id,
                    "seeds": [
                        {
                            "seed": seed_dict(seed),
                            "prompts": [prompt_dict(p) for p in render_prompts(plan, unit, seed)],
                        }
                        for seed in seeds[unit.id][0]
                    ],
                    "not_seeds": [reject_dict(r) for r in seeds[unit.id][1]],
                }
                for unit in units
            ]
        }
    else:
        report = run_preview(args, plan, units, options, seeds)
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        from taskseed.cli.preview_print import print_report

        print_report(report)
    return EXIT_OK


def run_preview(
    args: argparse.Namespace,
    plan: Any,
    units: Any,
    options: Any,
    seeds: dict[str, Any],
) -> dict[str, Any]:
    """The seeds through the real runtime in a temporary folder; what it made of them."""
    from rich.console import Console

    from taskseed.cli.run_cmd import open_engine, run_here
    from taskseed.runtime.options import DEDUP_MEMORY_MB
    from taskseed.runtime.preview import estimate, full_size, seed_dict, verdicts
    from taskseed.runtime.run import RunConfig

    engine = open_engine(args)
    console = Console(stderr=True)
    show = not args.no_progress and console.is_terminal
    console.print(
        f"taskseed preview: {len(units)} unit(s), {args.seeds} seed(s) each, engine "
        f"{engine.name} ({engine.model})",
        soft_wrap=True,
    )
    with tempfile.TemporaryDirectory(prefix="taskseed-preview-") as tmp:
        out = Path(tmp) / "out"
        config = RunConfig(
            out=out,
            options=options,
            concurrency=max(engine.max_concurrency * 2, 2),
            dedup_memory_mb=DEDUP_MEMORY_MB,
        )
        manifest = run_here(plan, units, engine, config, console, show)
        by_seed, unseeded = verdicts(out)
    sizes = {u.id: full_size(plan, u, options) for u in units}
    return {
        "engine": manifest.get("engine", {}),
        "units": [
            {
                "unit": unit.id,
                "seeds": [
                    {"seed": seed_dict(seed), "items": by_seed.get((unit.id, seed.id), [])}
                    for seed in seeds[unit.id][0]
                ],
                "not_seeds": [v for v in unseeded if v["unit"] == unit.id],
                "counts": manifest["units"].get(unit.id, {}).get("counts", {}),
            }
            for unit in units
        ],
        "estimate": estimate(units, manifest, sizes),
    }


def prompt_dict(prompt: Any) -> dict[str, Any]:
    return {
        "stage": prompt.stage,
        "step": prompt.step,
        "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
        "error": prompt.error,
        "note": prompt.note,
    }


def reject_dict(reject: Any) -> dict[str, Any]:
    return {
        "id": reject.id,
        "verdict": "rejected",
        "stage": reject.stage,
        "reason": reject.reason,
        "source": reject.source,
    }

"""Run a plan: every selected unit through the stages, then finalize.

Units whose staged result matches this run's key are skipped; the others run
concurrently (bounded), each writing its staged result atomically when done; then
`finalize` deduplicates and writes the dataset. Everything the engine answered is in
the ledger, so a killed run started again with the same command finishes the job
without sending any completed request twice.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskseed.compiler.plan_model import Plan, Unit, encode
from taskseed.runtime.atomic import write_atomic
from taskseed.runtime.engines.base import Engine
from taskseed.runtime.finalize import finalize
from taskseed.runtime.ledger import Ledger, LedgeredEngine
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.results import UnitOutput
from taskseed.runtime.staging import Staging, run_key
from taskseed.runtime.unit import RunOptions, UnitRunner
from taskseed.runtime.writer import Format


class SelectionError(Exception):
    """A --tasks pattern that matches no unit."""


def select_units(plan: Plan, patterns: Sequence[str]) -> list[Unit]:
    """Units whose task or `task/subtask` ID matches one of the patterns (globs)."""
    if not patterns:
        return list(plan.units)
    chosen: dict[str, Unit] = {}
    for pattern in patterns:
        matched = [
            u
            for u in plan.units
            if fnmatch.fnmatchcase(u.id, pattern) or fnmatch.fnmatchcase(u.task, pattern)
        ]
        if not matched:
            from taskseed.compiler.suggest import did_you_mean

            hint = did_you_mean(
                pattern, sorted({u.task for u in plan.units} | {u.id for u in plan.units})
            )
            raise SelectionError(
                f"--tasks `{pattern}` matches no unit" + (f"; {hint}" if hint else "")
            )
        chosen.update((u.id, u) for u in matched)
    return [chosen[k] for k in sorted(chosen)]


@dataclass(frozen=True)
class RunConfig:
    out: Path
    options: RunOptions
    fmt: Format = "jsonl"
    shard_size: int = 10_000
    concurrency: int = 8  # engine requests in flight
    unit_concurrency: int = 4


async def run_plan(
    plan: Plan,
    units: Sequence[Unit],
    engine: Engine,
    config: RunConfig,
    progress: StageProgress,
) -> dict[str, Any]:
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "plan.json", encode(plan))
    ledger = Ledger(out / "ledger.sqlite")
    ledgered = LedgeredEngine(engine, ledger)
    staging = Staging(out)
    options = config.options
    keys = {
        unit.id: run_key(
            unit.fingerprint,
            engine.model,
            options.seed,
            options.limit_seeds,
            options.use_fixtures,
            options.max_tokens,
        )
        for unit in units
    }
    start = time.perf_counter()
    outputs: list[UnitOutput] = []
    pending: list[Unit] = []
    for unit in units:
        staged = staging.load(unit.id, keys[unit.id])
        if staged is None:
            pending.append(unit)
        else:
            outputs.append(staged)
            progress.advance("units", 1)
    requests = asyncio.Semaphore(max(config.concurrency, 1))
    unit_slots = asyncio.Semaphore(max(config.unit_concurrency, 1))

    async def one(unit: Unit) -> UnitOutput:
        async with unit_slots:
            runner = UnitRunner(plan, unit, ledgered, options, requests, progress.advance)
            output = await runner.run(keys[unit.id])
        staging.save(output)
        progress.advance("units", 1)
        return output

    try:
        tasks = [asyncio.create_task(one(unit)) for unit in pending]
        try:
            outputs.extend(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    finally:
        ledger_totals = ledger.totals()
        ledger.close()
    seconds = time.perf_counter() - start
    run_info = {
        "engine": engine.describe(),
        "run": {
            "units": [u.id for u in units],
            "fixtures": options.use_fixtures,
            "limit_seeds": options.limit_seeds,
            "max_tokens": options.max_tokens,
            "seed": options.seed,
            "format": config.fmt,
            "resumed_units": len(units) - len(pending),
        },
        "tokens": {
            "prompt": sum(o.prompt_tokens for o in outputs),
            "completion": sum(o.completion_tokens for o in outputs),
            "sent_this_run": ledgered.stats.sent,
            "replayed_this_run": ledgered.stats.replayed,
            "ledger": ledger_totals,
        },
        "timings": {
            "seconds": round(seconds, 3),
            "engine_seconds_this_run": round(ledgered.stats.engine_seconds, 3),
            "completion_tokens_per_second_this_run": round(
                ledgered.stats.completion_tokens / seconds, 2
            )
            if seconds > 0
            else 0.0,
        },
    }
    return finalize(
        plan, units, outputs, out, fmt=config.fmt, shard_size=config.shard_size, run_info=run_info
    )

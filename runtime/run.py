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
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskseed.contract.plan import Plan, Unit, encode
from taskseed.runtime.atomic import write_atomic
from taskseed.runtime.engines.base import Engine
from taskseed.runtime.finalize import finalize
from taskseed.runtime.ledger import Ledger, LedgeredEngine, LedgerStats
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.results import UnitOutput
from taskseed.runtime.seeds import matching_files
from taskseed.runtime.staging import Staging, run_key
from taskseed.runtime.unit import RunOptions, UnitRunner
from taskseed.runtime.writer import Format

LEDGER = "ledger.sqlite"


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
            from taskseed.contract.suggest import did_you_mean

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


@dataclass
class UnitsResult:
    """What running a set of units left behind (staged results are on disk too)."""

    outputs: list[UnitOutput]
    stats: LedgerStats
    ledger_totals: dict[str, Any]
    resumed: int
    seconds: float


def unit_keys(units: Sequence[Unit], model: str, options: RunOptions) -> dict[str, str]:
    """The run key of each unit: what its staged result depends on besides the ledger.

    Local held-out files are named by the plan, not embedded in it, so their contents
    are part of the key: a changed evaluation file re-runs the units it checks.
    """
    stamps: dict[str, str] = {}

    def stamp(pattern: str) -> str:
        if pattern not in stamps:
            digest = hashlib.sha256()
            for path in matching_files(pattern, options.root):
                name = Path(path).relative_to(options.root).as_posix()
                digest.update(name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
            stamps[pattern] = digest.hexdigest()[:16]
        return stamps[pattern]

    return {
        unit.id: run_key(
            unit.fingerprint,
            model,
            options.seed,
            options.limit_seeds,
            options.use_fixtures,
            options.max_tokens,
            *(stamp(f) for f in unit.decontaminate.files if unit.decontaminate.enabled),
        )
        for unit in units
    }


def ledger_paths(out: Path) -> list[Path]:
    """Every ledger of an output folder: the local one and one per Ray shard."""
    return sorted(p for p in [out / LEDGER, *out.glob(f"shards/*/{LEDGER}")] if p.is_file())


async def run_units(
    plan: Plan,
    units: Sequence[Unit],
    engine: Engine,
    options: RunOptions,
    out: Path,
    *,
    ledger_path: Path,
    concurrency: int,
    unit_concurrency: int,
    progress: Callable[[str, int], None],
) -> UnitsResult:
    """Run the units not yet staged; answers go to `ledger_path`, and every other
    ledger in `out` is read too, so nothing already paid for is asked again."""
    ledger = Ledger(ledger_path, read_also=[p for p in ledger_paths(out) if p != ledger_path])
    ledgered = LedgeredEngine(engine, ledger)
    staging = Staging(out)
    keys = unit_keys(units, engine.model, options)
    start = time.perf_counter()
    outputs: list[UnitOutput] = []
    pending: list[Unit] = []
    for unit in units:
        staged = staging.load(unit.id, keys[unit.id])
        if staged is None:
            pending.append(unit)
        else:
            outputs.append(staged)
            progress("units", 1)
    requests = asyncio.Semaphore(max(concurrency, 1))
    unit_slots = asyncio.Semaphore(max(unit_concurrency, 1))

    async def one(unit: Unit) -> UnitOutput:
        async with unit_slots:
            runner = UnitRunner(plan, unit, ledgered, options, requests, progress)
            output = await runner.run(keys[unit.id])
        staging.save(output)
        progress("units", 1)
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
        totals = ledger.totals()
        ledger.close()
    return UnitsResult(
        outputs=sorted(outputs, key=lambda o: o.unit),
        stats=ledgered.stats,
        ledger_totals=totals,
        resumed=len(units) - len(pending),
        seconds=time.perf_counter() - start,
    )


def run_info(
    engine: dict[str, Any],
    units: Sequence[Unit],
    config: RunConfig,
    results: Sequence[UnitsResult],
    seconds: float,
    executor: dict[str, Any],
) -> dict[str, Any]:
    """The manifest's description of this run (everything but counts and files)."""
    options = config.options
    outputs = [o for r in results for o in r.outputs]
    sent = sum(r.stats.sent for r in results)
    completion_sent = sum(r.stats.completion_tokens for r in results)
    return {
        "engine": engine,
        "executor": executor,
        "run": {
            "units": [u.id for u in units],
            "fixtures": options.use_fixtures,
            "limit_seeds": options.limit_seeds,
            "max_tokens": options.max_tokens,
            "seed": options.seed,
            "format": config.fmt,
            "resumed_units": sum(r.resumed for r in results),
        },
        "tokens": {
            "prompt": sum(o.prompt_tokens for o in outputs),
            "completion": sum(o.completion_tokens for o in outputs),
            "sent_this_run": sent,
            "replayed_this_run": sum(r.stats.replayed for r in results),
            "ledgers": [r.ledger_totals for r in results],
        },
        # Per unit: the held-out items checked against, by source, and what was skipped
        # (an offline run does not load held-out splits).
        "decontamination": {
            o.unit: o.decontamination for o in sorted(outputs, key=lambda o: o.unit)
        },
        "timings": {
            "seconds": round(seconds, 3),
            "engine_seconds_this_run": round(sum(r.stats.engine_seconds for r in results), 3),
            "completion_tokens_per_second_this_run": round(completion_sent / seconds, 2)
            if seconds > 0
            else 0.0,
        },
    }


async def run_plan(
    plan: Plan,
    units: Sequence[Unit],
    engine: Engine,
    config: RunConfig,
    progress: StageProgress,
) -> dict[str, Any]:
    """Run the units in this process, then finalize."""
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "plan.json", encode(plan))
    start = time.perf_counter()
    result = await run_units(
        plan,
        units,
        engine,
        config.options,
        out,
        ledger_path=out / LEDGER,
        concurrency=config.concurrency,
        unit_concurrency=config.unit_concurrency,
        progress=progress.advance,
    )
    info = run_info(
        engine.describe(),
        units,
        config,
        [result],
        time.perf_counter() - start,
        {"name": "local"},
    )
    return finalize(
        plan,
        units,
        result.outputs,
        out,
        fmt=config.fmt,
        shard_size=config.shard_size,
        run_info=info,
    )

"""Run a plan: every selected unit through the stages, then finalize.

Units run concurrently (bounded), each slice by slice (`unit.py`), every slice
committed to staging when done; slices already committed under this run's key are
skipped. Then `finalize` deduplicates and writes the dataset. Everything the engine
answered is in the ledger, so a killed run started again with the same command
finishes the job without sending any completed request twice.
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
from taskseed.runtime.calls import EngineCalls
from taskseed.runtime.engines.base import Engine
from taskseed.runtime.finalize import finalize, stage_plan
from taskseed.runtime.ledger import Ledger, LedgeredEngine, LedgerStats
from taskseed.runtime.options import DEDUP_MEMORY_MB, RunOptions
from taskseed.runtime.output_dir import OutputFolder
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.results import UnitSummary
from taskseed.runtime.seeds import matching_files
from taskseed.runtime.slots import Slots
from taskseed.runtime.staging import Staging, run_key
from taskseed.runtime.unit import run_unit
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
    dedup_memory_mb: int = DEDUP_MEMORY_MB
    force: bool = False  # write into an output folder taskseed did not create


@dataclass
class UnitsResult:
    """What running a set of units left behind (staged results are on disk too)."""

    summaries: list[UnitSummary]
    stats: LedgerStats
    ledger_totals: dict[str, Any]
    resumed: int
    seconds: float


def unit_keys(units: Sequence[Unit], model: str, options: RunOptions) -> dict[str, str]:
    """The run key of each unit: what its staged slices depend on besides the ledger.

    Local held-out files are named by the plan, not embedded in it, so their contents
    are part of the key: a changed evaluation file re-runs the units it checks. Local
    seed files (often large) count by name, size and modification time.
    """
    stamps: dict[tuple[str, str, bool], str] = {}

    def stamp(unit: Unit, pattern: str, role: str, contents: bool) -> str:
        if (pattern, role, contents) not in stamps:
            digest = hashlib.sha256()
            for path in matching_files(pattern, options.root, owner=unit.id, role=role):
                name = Path(path).relative_to(options.root).as_posix()
                if contents:
                    data = Path(path).read_bytes()
                else:
                    info = Path(path).stat()
                    data = f"{info.st_size}:{info.st_mtime_ns}".encode()
                digest.update(name.encode() + b"\0" + data + b"\0")
            stamps[(pattern, role, contents)] = digest.hexdigest()[:16]
        return stamps[(pattern, role, contents)]

    def key(unit: Unit) -> str:
        held_out = unit.decontaminate.files if unit.decontaminate.enabled else []
        seeds = [] if options.use_fixtures else unit.seeds.files
        return run_key(
            unit.fingerprint,
            model,
            options.seed,
            options.limit_seeds,
            options.use_fixtures,
            options.max_tokens,
            options.slice_size,
            *(stamp(unit, f, "held-out", True) for f in held_out),
            *(stamp(unit, f, "seed", False) for f in seeds),
        )

    return {unit.id: key(unit) for unit in units}


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
    """Run the units' slices not yet committed; answers go to `ledger_path`, and every
    other ledger in `out` is read too, so nothing already paid for is asked again."""
    ledger = Ledger(
        ledger_path,
        read_also=[p for p in ledger_paths(out) if p != ledger_path],
        keep_requests=options.ledger_requests,
    )
    ledgered = LedgeredEngine(engine, ledger)
    calls = EngineCalls(
        ledgered,
        Slots(concurrency),
        options.timeout_s,
        options.retries,
        options.backoff_s,
        progress,
    )
    staging = Staging(out)
    keys = unit_keys(units, engine.model, options)
    start = time.perf_counter()
    unit_slots = asyncio.Semaphore(max(unit_concurrency, 1))

    async def one(unit: Unit) -> UnitSummary:
        async with unit_slots:
            summary = await run_unit(
                plan,
                unit,
                calls=calls,
                options=options,
                staging=staging,
                key=keys[unit.id],
                model=engine.model,
                progress=progress,
            )
        progress("units", 1)
        return summary

    try:
        tasks = [asyncio.create_task(one(unit)) for unit in units]
        try:
            summaries = list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    finally:
        totals = ledger.totals()
        ledger.close()
    return UnitsResult(
        summaries=sorted(summaries, key=lambda s: s.unit),
        stats=ledgered.stats,
        ledger_totals=totals,
        resumed=sum(1 for s in summaries if s.resumed_slices and s.resumed_slices == s.slices),
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
    summaries = [s for r in results for s in r.summaries]
    sent = sum(r.stats.sent for r in results)
    completion_sent = sum(r.stats.completion_tokens for r in results)
    return {
        "engine": engine,
        "executor": executor,
        "run": {
            "units": [u.id for u in units],
            "fixtures": options.use_fixtures,
            "limit_seeds": options.limit_seeds,
            "target_records": options.target_records,
            "max_tokens": options.max_tokens,
            "seed": options.seed,
            "format": config.fmt,
            "slice_size": options.slice_size,
            "resumed_units": sum(r.resumed for r in results),
            "resumed_slices": sum(s.resumed_slices for s in summaries),
        },
        "tokens": {
            "prompt": sum(s.prompt_tokens for s in summaries),
            "completion": sum(s.completion_tokens for s in summaries),
            "sent_this_run": sent,
            "replayed_this_run": sum(r.stats.replayed for r in results),
            "ledgers": [r.ledger_totals for r in results],
        },
        # Per unit: the held-out items checked against, by source, and what was skipped
        # (an offline run does not load held-out splits).
        "decontamination": {
            s.unit: s.decontamination for s in sorted(summaries, key=lambda s: s.unit)
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
    with OutputFolder(out, force=config.force):
        stage_plan(out, encode(plan))
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
            result.summaries,
            out,
            fmt=config.fmt,
            shard_size=config.shard_size,
            run_info=info,
            dedup_memory_mb=config.dedup_memory_mb,
        )

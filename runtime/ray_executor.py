"""Past one machine: plan units spread over a Ray cluster.

The selected units are dealt round-robin (in unit-ID order) to shards. Each shard is a
Ray task with one engine of its own (one per GPU worker, or one per endpoint for
servers) and its own ledger, `out/shards/shard-NNNN/ledger.sqlite`; every ledger reads
the others too, so a run resumed with another number of shards, or locally, still
replays what was paid for. Each unit's slices are committed to the shared output
folder as they complete; shards send back only each unit's summary. When every shard
is done, finalize (cross-shard dedup and writing) runs as a Ray task of its own, reads
the committed slices and writes the one output folder and manifest.

The output folder must be visible to every node (a shared file system), as with any
multi-node pipeline that writes files. Ray is the optional extra `[ray]`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from taskseed.contract.plan import Plan, Unit, decode, encode
from taskseed.runtime.finalize import finalize, stage_plan
from taskseed.runtime.ledger import LedgerStats
from taskseed.runtime.output_dir import OutputFolder
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.results import UnitSummary
from taskseed.runtime.run import LEDGER, RunConfig, UnitsResult, run_info, run_units


class RayUnavailable(Exception):
    """Ray is not installed, or the cluster cannot be reached."""


@dataclass(frozen=True)
class RaySettings:
    address: str | None = None  # None: start a local instance; "auto": the running cluster
    shards: int | None = None  # default: GPUs, or endpoints, or CPUs / cpus_per_shard
    cpus_per_shard: float = 1.0
    gpus_per_shard: float = 0.0
    local_cpus: int | None = None  # when starting a local instance


def shard_plan(unit_ids: Sequence[str], shards: int) -> list[list[str]]:
    """Unit IDs per shard: round-robin in ID order, so the split is reproducible."""
    ordered = sorted(unit_ids)
    count = max(1, min(shards, len(ordered)))
    return [ordered[k::count] for k in range(count)]


def _shard_main(
    plan_bytes: bytes,
    unit_ids: list[str],
    engine_name: str,
    engine_options: dict[str, Any],
    config: RunConfig,
    shard: int,
) -> bytes:
    """One shard, inside a Ray worker: its units through the stages, committed on disk."""
    from taskseed.runtime.engines import make_engine

    plan = decode(plan_bytes)
    units = [plan.unit(unit_id) for unit_id in unit_ids]
    engine = make_engine(engine_name, **engine_options)

    async def main() -> UnitsResult:
        try:
            return await run_units(
                plan,
                units,
                engine,
                config.options,
                config.out,
                ledger_path=config.out / "shards" / f"shard-{shard:04d}" / LEDGER,
                concurrency=config.concurrency,
                unit_concurrency=config.unit_concurrency,
                progress=lambda stage, n: None,
            )
        finally:
            await engine.close()

    result = asyncio.run(main())
    return msgspec.msgpack.encode(
        {
            "summaries": result.summaries,
            "stats": msgspec.structs.asdict(_Stats(**vars(result.stats))),
            "ledger": result.ledger_totals,
            "resumed": result.resumed,
            "seconds": result.seconds,
            "engine": engine.describe(),
        }
    )


class _Stats(msgspec.Struct):
    sent: int = 0
    replayed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    engine_seconds: float = 0.0


class _ShardResult(msgspec.Struct):
    summaries: list[UnitSummary]
    stats: _Stats
    ledger: dict[str, Any]
    resumed: int
    seconds: float
    engine: dict[str, Any]


def _finalize_main(
    plan_bytes: bytes,
    unit_ids: list[str],
    summaries: bytes,
    config: RunConfig,
    info: dict[str, Any],
) -> dict[str, Any]:
    """Cross-shard dedup and writing, as a Ray task: it reads the committed slices."""
    plan = decode(plan_bytes)
    units = [plan.unit(unit_id) for unit_id in unit_ids]
    return finalize(
        plan,
        units,
        msgspec.msgpack.decode(summaries, type=list[UnitSummary]),
        config.out,
        fmt=config.fmt,
        shard_size=config.shard_size,
        run_info=info,
        dedup_memory_mb=config.dedup_memory_mb,
    )


def _connect(ray: Any, settings: RaySettings) -> None:
    if ray.is_initialized():
        return
    try:
        if settings.address is None:
            ray.init(num_cpus=settings.local_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=settings.address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot reach the Ray cluster at {settings.address}: {exc}") from None


def _default_shards(ray: Any, settings: RaySettings, endpoints: int) -> int:
    if settings.shards:
        return settings.shards
    if endpoints > 1:
        return endpoints
    resources = ray.cluster_resources()
    if settings.gpus_per_shard > 0:
        return max(1, int(resources.get("GPU", 0) // settings.gpus_per_shard))
    return max(1, int(resources.get("CPU", 1) // max(settings.cpus_per_shard, 0.001)))


def run_on_ray(
    plan: Plan,
    units: Sequence[Unit],
    engine_name: str,
    engine_options: dict[str, Any],
    config: RunConfig,
    settings: RaySettings,
    progress: StageProgress,
) -> dict[str, Any]:
    try:
        import ray
    except ModuleNotFoundError:
        raise RayUnavailable("the ray executor needs Ray: pip install 'taskseed[ray]'") from None
    out = config.out.resolve()
    config = replace(
        config, out=out, options=replace(config.options, root=config.options.root.resolve())
    )
    with OutputFolder(out, force=config.force):
        _connect(ray, settings)
        return _run(ray, plan, units, engine_name, engine_options, config, settings, progress)


def _run(
    ray: Any,
    plan: Plan,
    units: Sequence[Unit],
    engine_name: str,
    engine_options: dict[str, Any],
    config: RunConfig,
    settings: RaySettings,
    progress: StageProgress,
) -> dict[str, Any]:
    plan_bytes = encode(plan)
    stage_plan(config.out, plan_bytes)
    endpoints = _endpoints(engine_options)
    shards = shard_plan([u.id for u in units], _default_shards(ray, settings, len(endpoints)))
    shard_task = ray.remote(_shard_main).options(
        num_cpus=settings.cpus_per_shard, num_gpus=settings.gpus_per_shard, max_retries=2
    )
    start = time.perf_counter()
    pending = {}
    for index, unit_ids in enumerate(shards):
        options = dict(engine_options)
        if endpoints:
            options["base_url"] = endpoints[index % len(endpoints)]
        ref = shard_task.remote(plan_bytes, unit_ids, engine_name, options, config, index)
        pending[ref] = unit_ids
    results: list[_ShardResult] = []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            unit_ids = pending.pop(ref)
            results.append(msgspec.msgpack.decode(ray.get(ref), type=_ShardResult))
            progress.advance("units", len(unit_ids))
    summaries = sorted((s for r in results for s in r.summaries), key=lambda s: s.unit)
    as_units = [
        UnitsResult(
            summaries=r.summaries,
            stats=LedgerStats(**msgspec.structs.asdict(r.stats)),
            ledger_totals=r.ledger,
            resumed=r.resumed,
            seconds=r.seconds,
        )
        for r in results
    ]
    info = run_info(
        results[0].engine if results else {"engine": engine_name},
        units,
        config,
        as_units,
        time.perf_counter() - start,
        {"name": "ray", "address": settings.address or "local", "shards": shards},
    )
    finalize_task = ray.remote(_finalize_main).options(num_cpus=1)
    finalized = finalize_task.remote(
        plan_bytes, [u.id for u in units], msgspec.msgpack.encode(summaries), config, info
    )
    manifest: dict[str, Any] = ray.get(finalized)
    return manifest


def _endpoints(options: dict[str, Any]) -> list[str]:
    base = options.get("base_url")
    if not isinstance(base, str) or "," not in base:
        return [base] if isinstance(base, str) else []
    return [part.strip() for part in base.split(",") if part.strip()]

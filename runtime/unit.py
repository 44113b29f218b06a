"""One plan unit, slice by slice, through the per-item stages (`stages/`).

The unit's seeds are read in slices of `slice_size` source rows (`stages/seeds.py`).
Each slice is normalized as it is read, then every seed of it flows on its own through
generate -> filter -> decontaminate -> verify (-> judge) -> enrich (-> filter ->
decontaminate):
no stage waits for the slowest seed of its slice, and the next slice starts while the
last one's slowest seeds finish (`slices_in_flight`), so the engine stays full from
the first request to the last. When all of a slice's seeds are done, the slice is
committed to staging (`staging.py`) in one atomic step; a killed run starts again at
the first slice that is not committed, and replays the engine answers of the ones that
were in flight from the ledger.

With a target in kept records (`--target-records`), the unit stops starting slices
once its committed slices 0..j, in order, have kept it, and cancels those after j still
in flight; its result is slices 0..j (`staging.result_slices`) whichever finished first.

A slice that fails to read (a file that turns out corrupt halfway) stops the unit
after the slices in flight are committed; a seed whose request fails, or whose row is
bad, is a reject, never a failed slice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Iterator
from typing import Any

import msgspec

from taskseed.contract.plan import Plan, Unit
from taskseed.contract.records import OutputRecord, SeedRecord
from taskseed.runtime.calls import EngineCalls
from taskseed.runtime.decontaminate import held_out_index
from taskseed.runtime.dedup import item_text
from taskseed.runtime.options import RunOptions as RunOptions  # re-exported for callers
from taskseed.runtime.results import STAGES, UnitSummary, add_stage_use, stage_use
from taskseed.runtime.stages.base import Funnel, Progress, Slice, UnitContext
from taskseed.runtime.stages.decontaminate import Decontaminate
from taskseed.runtime.stages.enrich import Enrich
from taskseed.runtime.stages.filter import Filter
from taskseed.runtime.stages.generate import Generate
from taskseed.runtime.stages.judge import Judge
from taskseed.runtime.stages.normalize import Normalize
from taskseed.runtime.stages.seeds import RawSlice, Seeds
from taskseed.runtime.stages.verify import Verify
from taskseed.runtime.staging import (
    SliceMeta,
    Staging,
    kept_records,
    read_seeds,
    result_slices,
)


async def run_unit(
    plan: Plan,
    unit: Unit,
    *,
    calls: EngineCalls,
    options: RunOptions,
    staging: Staging,
    key: str,
    model: str,
    progress: Progress,
) -> UnitSummary:
    """Run the unit's slices not yet committed under `key`; sum up all of them."""
    committed = staging.committed(unit.id, key, clean=True)
    resumed = len(committed)
    target = options.target_records
    if not result_slices(committed, target)[1]:
        built = await asyncio.to_thread(
            held_out_index, unit, use_fixtures=options.use_fixtures, root=options.root
        )
        context = UnitContext(plan, unit, options, calls, model, built.index, progress)
        runner = _UnitRunner(context, staging, key, built.info)
        await runner.run(committed)
        committed = staging.committed(unit.id, key)
    used, _ = result_slices(committed, target)
    return summarize(unit.id, key, used, min(resumed, len(used)), target)


def summarize(
    unit_id: str,
    key: str,
    committed: dict[int, SliceMeta],
    resumed: int,
    target: int | None = None,
) -> UnitSummary:
    metas = [committed[i] for i in sorted(committed)]
    totals: Counter[str] = Counter()
    for meta in metas:
        totals.update(meta.counts)
    order = {name: index for index, name in enumerate(STAGES)}
    counts = {name: totals[name] for name in sorted(totals, key=lambda n: (order.get(n, 99), n))}
    return UnitSummary(
        unit=unit_id,
        run_key=key,
        slices=len(metas),
        counts=counts,
        decontamination=metas[0].decontamination if metas else {},
        prompt_tokens=sum(m.prompt_tokens for m in metas),
        completion_tokens=sum(m.completion_tokens for m in metas),
        requests_sent=sum(m.requests_sent for m in metas),
        requests_replayed=sum(m.requests_replayed for m in metas),
        seconds=round(sum(m.seconds for m in metas), 3),
        stages=add_stage_use(m.stages for m in metas),
        resumed_slices=resumed,
        records=sum(kept_records(m) for m in metas),
        target_records=target,
    )


class _UnitRunner:
    def __init__(
        self, context: UnitContext, staging: Staging, key: str, decontamination: dict[str, Any]
    ) -> None:
        self.context = context
        self.unit = context.unit
        self.staging = staging
        self.key = key
        self.decontamination = decontamination
        self.seeds = Seeds(context)
        self.normalize = Normalize(context)
        self.generate = Generate(context)
        self.filter = Filter(context)
        self.decontaminate = Decontaminate(context)
        self.verify = Verify(context)
        self.judge = Judge(context) if self.unit.judge.enabled else None
        self.enrich = Enrich(context)
        self.steps = {step.kind: step for step in self.unit.steps}
        self.done: dict[int, SliceMeta] = {}  # committed slices, by index
        self.commits: list[asyncio.Future[None]] = []

    async def run(self, committed: dict[int, SliceMeta]) -> None:
        options = self.context.options
        seen: set[str] = set()
        for index in sorted(committed):
            seen.update(read_seeds(self.staging.slice_folder(self.unit.id, index))["id"])
        slots = asyncio.Semaphore(max(options.slices_in_flight, 1))
        tasks: list[asyncio.Task[None]] = []
        failed: list[BaseException] = []
        target = options.target_records
        self.done = dict(committed)
        reached = False

        def done(task: asyncio.Task[None]) -> None:
            slots.release()
            if not task.cancelled() and task.exception() is not None:
                failed.append(task.exception())  # type: ignore[arg-type]

        taken = 0  # seeds taken by the slices before this one, for --limit-seeds
        reader: Iterator[RawSlice] | None = None
        index = 0
        try:
            while not failed:
                meta = committed.get(index)
                if meta is not None:
                    taken += meta.taken
                    reader = None  # the rows of a committed slice are not read again
                    if meta.last:
                        break
                    index += 1
                    continue
                await slots.acquire()
                if failed:
                    slots.release()
                    break
                if target is not None and result_slices(self.done, target)[1]:
                    # The slices so far, in order, kept the target: no more seeds.
                    slots.release()
                    reached = True
                    break
                if reader is None:
                    reader = self.seeds.slices(index)
                raw = next(reader)
                funnel = Funnel(self.unit.id)
                room = None if options.limit_seeds is None else options.limit_seeds - taken
                rows, full = self.seeds.select(raw, funnel, room)
                taken += len(rows)
                seeds = self.normalize.run(rows, funnel, seen)
                current = Slice(index, funnel, {seed.id: seed for seed in seeds})
                last = raw.last or full
                task = asyncio.create_task(self.slice(current, len(raw.rows), len(rows), last))
                task.add_done_callback(done)
                tasks.append(task)
                if last:
                    break
                index += 1
        except Exception:
            # The source failed to read: the slices in flight are committed, then it stops.
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        except BaseException:
            await _cancel(tasks)
            raise
        if reached:
            # Slices after the target's are not part of the result: stop them (their
            # answers so far are in the ledger; a commit under way still finishes).
            await _cancel([t for t in tasks if not t.done()])
            await asyncio.gather(*self.commits, return_exceptions=True)
            tasks = [t for t in tasks if not t.cancelled()]
        try:
            # A slice that fails stops the unit; the others in flight are committed first.
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except BaseException:
            await _cancel(tasks)
            raise
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def slice(self, current: Slice, rows: int, taken: int, last: bool) -> None:
        start = time.perf_counter()
        flows = await gather(self.seed_flow(seed, current) for seed in current.seeds.values())
        records = sorted((record for flow in flows for record in flow), key=lambda r: r.id)
        dedup = self.unit.dedup
        fields = dedup.fields if dedup.enabled and dedup.against_seeds else None
        seeds = [
            (seed.id, None if fields is None else item_text(msgspec.structs.asdict(seed), fields))
            for seed in current.seeds.values()
        ]
        funnel = current.funnel
        meta = SliceMeta(
            run_key=self.key,
            index=current.index,
            rows=rows,
            taken=taken,
            last=last,
            counts=dict(funnel.counts),
            kinds=dict(Counter(r.kind for r in records)),
            families=dict(Counter(r.family for r in records)),
            rejects=len(funnel.rejects),
            prompt_tokens=funnel.tokens["prompt"],
            completion_tokens=funnel.tokens["completion"],
            requests_sent=funnel.tokens["sent"],
            requests_replayed=funnel.tokens["replayed"],
            seconds=round(time.perf_counter() - start, 3),
            stages=stage_use(funnel.tokens),
            decontamination=self.decontamination,
        )
        commit = asyncio.ensure_future(
            asyncio.to_thread(
                self.staging.commit, self.unit.id, meta, records, funnel.rejects, seeds
            )
        )
        self.commits.append(commit)
        await asyncio.shield(commit)  # a slice cancelled now is still committed whole
        self.done[current.index] = meta
        self.context.progress("slices", 1)

    async def seed_flow(self, seed: SeedRecord, current: Slice) -> list[OutputRecord]:
        """One seed: similar questions -> filter -> decontaminate -> verify (-> judge)
        -> enrichments -> filter -> decontaminate."""
        funnel = current.funnel
        base: list[OutputRecord] = []
        similar = self.steps.get("similar_question")
        if similar is not None:
            generated = await self.generate.run(seed, similar, funnel)
            filtered = await self.filter.run(generated, funnel, count="filtered")
            items = self.decontaminate.run(filtered, funnel, count="decontaminated")
            verified = await gather(self.verify.run(item, current) for item in items)
            base = [item for item in verified if item is not None]
            if self.judge is not None:
                judge = self.judge
                judged = await gather(judge.run(item, current) for item in base)
                base = [item for item in judged if item is not None]
        records = list(base)
        for kind in ("answer_enriched", "context_enriched"):
            step = self.steps.get(kind)
            if step is None:
                continue
            inputs = base if step.inputs == "similar_question" else [self.context.seed_item(seed)]
            batches = await gather(self.enrich.run(step, item, current) for item in inputs)
            enriched = [item for batch in batches for item in batch]
            filtered = await self.filter.run(enriched, funnel)
            kept = self.decontaminate.run(filtered, funnel, count="enriched")
            self.context.progress("enrich", len(kept))
            records.extend(kept)
        return records


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def gather(tasks: Any) -> list[Any]:
    awaitables: list[Awaitable[Any]] = list(tasks)
    return list(await asyncio.gather(*awaitables))

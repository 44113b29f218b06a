"""One plan unit through the stages: seeds -> normalize -> generate -> parse -> filter ->
decontaminate -> verify -> enrich (-> parse, agree, filter, decontaminate). Dedup and
writing happen in `finalize.py`, across units.

Verification is a majority vote over k sampled answers for multiple-choice, numeric
and short answers (votes counted by a polars group-by, micro-batched across items); a
code item is verified by running its tests in a confined subprocess (`code_check.py`)
instead, and needs no engine call. A code item without tests, and every free-form
item, stays "unverified" and is kept.

Engine calls are bounded by a shared semaphore, time out, and are retried with
exponential backoff; a request that still fails becomes a reject, never a crash.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from taskseed.contract.mapping import MappingError, normalize, row_id
from taskseed.contract.plan import Plan, PlanStep, Unit
from taskseed.contract.records import ItemFields, OutputRecord, SeedRecord, Verification
from taskseed.runtime import output_schemas
from taskseed.runtime.answers import answer_key, same_answer
from taskseed.runtime.batcher import MicroBatcher
from taskseed.runtime.code_check import CodeResult, code_text, run_tests
from taskseed.runtime.decontaminate import HeldOut, held_out_index
from taskseed.runtime.dedup import item_text
from taskseed.runtime.engines.base import ChatRequest, Completion, EngineError
from taskseed.runtime.filters import reject_reasons
from taskseed.runtime.ledger import LedgeredEngine
from taskseed.runtime.parse import Malformed, parse_fields, parse_item
from taskseed.runtime.prompts import capped, chat_request, item_dict, render, request_seed
from taskseed.runtime.results import Reject, UnitOutput, record_id
from taskseed.runtime.seeds import iter_rows
from taskseed.runtime.verify import Ballot, vote_many

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class RunOptions:
    use_fixtures: bool = False
    limit_seeds: int | None = None
    seed: int = 0
    root: Path = Path(".")
    timeout_s: float = 600.0
    retries: int = 3
    backoff_s: float = 0.5
    max_tokens: int | None = None  # a cap on every request's max_tokens


@dataclass
class UnitRunner:
    plan: Plan
    unit: Unit
    engine: LedgeredEngine
    options: RunOptions
    semaphore: asyncio.Semaphore
    progress: Progress = lambda stage, n: None
    counts: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    tokens: Counter[str] = field(default_factory=Counter)
    seeds: dict[str, SeedRecord] = field(default_factory=dict)
    held_out: HeldOut | None = None
    decontamination: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unit = self.unit
        self.filter_batches: MicroBatcher[dict[str, Any], str | None] = MicroBatcher(
            lambda rows: reject_reasons(rows, unit.filters, unit.format)
        )
        self.vote_batches: MicroBatcher[Ballot, tuple[Verification, bool]] = MicroBatcher(vote_many)

    # ------------------------------------------------------------------ engine

    async def call(self, request: ChatRequest) -> Completion | str:
        """A completion, or the reason the engine could not give one."""
        last = ""
        for attempt in range(self.options.retries + 1):
            try:
                async with self.semaphore:
                    completion, replayed = await asyncio.wait_for(
                        self.engine.generate(request), self.options.timeout_s
                    )
            except (EngineError, TimeoutError, OSError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if isinstance(exc, EngineError) and not exc.retryable:
                    return f"engine refused: {exc}"
                if attempt < self.options.retries:
                    await asyncio.sleep(self.options.backoff_s * 2**attempt)
                continue
            self.tokens["replayed" if replayed else "sent"] += 1
            self.tokens["prompt"] += completion.prompt_tokens
            self.tokens["completion"] += completion.completion_tokens
            self.progress("requests", 1)
            return completion
        return f"engine failed after {self.options.retries + 1} attempts: {last}"

    def reject(self, stage: str, item_id: str, reason: str, **extra: Any) -> None:
        self.rejects.append(
            Reject(id=item_id, unit=self.unit.id, stage=stage, reason=reason, **extra)
        )

    def drop(
        self, stage: str, item: OutputRecord, reason: str, payload: dict[str, Any] | None = None
    ) -> None:
        """Reject a generated item, keeping it (or `payload`) in the rejects file."""
        kept = payload if payload is not None else msgspec.structs.asdict(item)
        self.reject(stage, item.id, reason, kind=item.kind, seed_id=item.seed_id, item=kept)

    def malformed(
        self, stage: str, item_id: str, why: Malformed, kind: str, seed_id: str, text: str
    ) -> None:
        """Reject an engine answer that did not parse, keeping (the start of) its text."""
        self.reject(
            stage, item_id, why.reason, kind=kind, seed_id=seed_id, item={"text": text[:2000]}
        )

    # ------------------------------------------------------------------- run

    async def run(self, run_key: str) -> UnitOutput:
        start = time.perf_counter()
        seeds = self.normalize()
        self.seeds = {seed.id: seed for seed in seeds}
        # Held-out files and splits are read off the event loop; units of one task that
        # share their held-out data share the index.
        options = self.options
        built = await asyncio.to_thread(
            held_out_index, self.unit, use_fixtures=options.use_fixtures, root=options.root
        )
        self.held_out, self.decontamination = built.index, built.info
        # Each seed flows through the stages on its own: no stage waits for the slowest
        # seed of the unit, so the engine stays full from the first request to the last.
        flows = await gather(self.seed_flow(seed) for seed in seeds)
        records = [record for flow in flows for record in flow]
        return UnitOutput(
            unit=self.unit.id,
            run_key=run_key,
            records=sorted(records, key=lambda r: r.id),
            rejects=sorted(self.rejects, key=lambda r: (r.stage, r.id)),
            seed_texts={
                s.id: item_text(msgspec.structs.asdict(s), self.unit.dedup.fields) for s in seeds
            },
            counts=dict(self.counts),
            decontamination=self.decontamination,
            prompt_tokens=self.tokens["prompt"],
            completion_tokens=self.tokens["completion"],
            requests_sent=self.tokens["sent"],
            requests_replayed=self.tokens["replayed"],
            seconds=round(time.perf_counter() - start, 3),
        )

    async def seed_flow(self, seed: SeedRecord) -> list[OutputRecord]:
        """One seed: similar questions -> filter -> decontaminate -> verify -> enrichments
        -> filter -> decontaminate."""
        steps = {step.kind: step for step in self.unit.steps}
        base: list[OutputRecord] = []
        similar = steps.get("similar_question")
        if similar is not None:
            filtered = await self.filter(await self.similar(seed, similar), count="filtered")
            items = self.decontaminate(filtered, count="decontaminated")
            base = [item for item in await gather(self.verify(i) for i in items) if item]
        records = list(base)
        for kind in ("answer_enriched", "context_enriched"):
            step = steps.get(kind)
            if step is None:
                continue
            inputs = base if step.inputs == "similar_question" else [self.seed_item(seed)]
            batches = await gather(self.enrich(step, item) for item in inputs)
            enriched = [item for batch in batches for item in batch]
            kept = self.decontaminate(await self.filter(enriched), count="enriched")
            self.progress("enrich", len(kept))
            records.extend(kept)
        return records

    # ---------------------------------------------------------------- stages

    def normalize(self) -> list[SeedRecord]:
        seeds: list[SeedRecord] = []
        seen: set[str] = set()
        rows = iter_rows(
            self.plan,
            self.unit,
            use_fixtures=self.options.use_fixtures,
            root=self.options.root,
            limit=self.options.limit_seeds,
        )
        for row in rows:
            self.counts["seeds"] += 1
            self.progress("seeds", 1)
            try:
                record = normalize(
                    row, self.unit.mapping, self.unit.format, self.unit.task, self.unit.subtask
                )
            except MappingError as exc:
                self.reject("normalize", row_id(row), str(exc))
                continue
            if record.id in seen:
                self.reject("normalize", record.id, "duplicate seed id", seed_id=record.id)
                continue
            seen.add(record.id)
            seeds.append(record)
        self.counts["normalized"] = len(seeds)
        return seeds

    async def similar(self, seed: SeedRecord, step: PlanStep) -> list[OutputRecord]:
        unit = self.unit
        messages = render(self.plan, unit, step.prompt, seed=seed, item=None, n=step.per_seed)
        request = chat_request(
            messages,
            capped(step.sampling, self.options.max_tokens),
            request_seed(self.options.seed, unit.id, seed.id, step.kind),
            n=step.per_seed,
            json_schema=output_schemas.similar_question(unit.format, seed),
        )
        result = await self.call(request)
        if isinstance(result, str):
            for index in range(step.per_seed):
                self.reject(
                    "generate",
                    record_id(unit.id, seed.id, step.kind, str(index)),
                    result,
                    kind=step.kind,
                    seed_id=seed.id,
                )
            return []
        items = []
        for index, choice in enumerate(result.choices):
            self.counts["generated"] += 1
            item_id = record_id(unit.id, seed.id, step.kind, str(index))
            parsed = parse_item(choice, unit.format, seed, shuffle_key=item_id)
            if isinstance(parsed, Malformed):
                self.malformed("parse", item_id, parsed, step.kind, seed.id, choice.text)
                continue
            self.counts["parsed"] += 1
            self.progress("generate", 1)
            items.append(self.record(parsed, item_id, step.kind, seed.id, None))
        return items

    async def verify(self, item: OutputRecord) -> OutputRecord | None:
        unit, spec = self.unit, self.unit.verify
        fmt = unit.format
        method = spec.extractor
        if spec.enabled and fmt.type == "code":
            return await self.verify_code(item)
        if not spec.enabled or spec.prompt is None or fmt.type in ("code", "free_form"):
            reason = "disabled" if not spec.enabled else f"no {fmt.type} extractor"
            verification = Verification(status="unverified", k=0, method=reason)
            return msgspec.structs.replace(item, verification=verification)
        seed = self.seeds[item.seed_id]
        messages = render(self.plan, unit, spec.prompt, seed=seed, item=item_dict(item), n=spec.k)
        request = chat_request(
            messages,
            capped(spec.sampling, self.options.max_tokens),
            request_seed(self.options.seed, unit.id, item.id, "verify"),
            n=spec.k,
            json_schema=output_schemas.verify_answer(fmt, item),
        )
        result = await self.call(request)
        if isinstance(result, str):
            self.reject("verify", item.id, result, kind=item.kind, seed_id=item.seed_id)
            return None
        keys = []
        for choice in result.choices:
            fields = parse_fields(choice, ("answer",))
            keys.append(
                None
                if isinstance(fields, Malformed)
                else answer_key(fields["answer"], fmt, item.choices)
            )
        ballot = Ballot(
            keys,
            spec.k,
            spec.threshold,
            lambda key: same_answer(key, item.answer, fmt, item.choices),
            method,
        )
        [(record, passed)] = await self.vote_batches.submit([ballot])
        if not passed:
            self.drop(
                "verify",
                item,
                f"majority {record.majority!r} with agreement {record.agreement:.2f} "
                f"(threshold {spec.threshold}) does not confirm the answer {item.answer!r}",
                msgspec.structs.asdict(record),
            )
            return None
        self.counts["verified"] += 1
        self.progress("verify", 1)
        return msgspec.structs.replace(item, verification=record)

    async def verify_code(self, item: OutputRecord) -> OutputRecord | None:
        """A code item: its tests, run against its answer; no tests, no verification."""
        if not self.runs_code(item) or not item.tests:
            language = self.unit.format.language
            why = "no tests" if not item.tests else f"no test runner for {language}"
            verification = Verification(status="unverified", k=0, method=why)
            return msgspec.structs.replace(item, verification=verification)
        result = await self.run_code(item.answer, item.tests)
        if not result.passed:
            self.drop("verify", item, f"the solution fails its tests: {result.reason}")
            return None
        self.counts["verified"] += 1
        self.progress("verify", 1)
        return msgspec.structs.replace(item, verification=tests_passed(result))

    def runs_code(self, item: OutputRecord) -> bool:
        """Whether the item's tests can be run: it has some, and they are Python."""
        language = self.unit.format.language.lower()
        return bool(item.tests) and language in ("python", "python3", "py")

    async def run_code(self, answer: str, tests: list[str]) -> CodeResult:
        fmt = self.unit.format
        return await run_tests(
            code_text(answer), tests, timeout_s=fmt.timeout_s, entry_point=fmt.entry_point
        )

    async def enrich(self, step: PlanStep, item: OutputRecord) -> list[OutputRecord]:
        unit, fmt = self.unit, self.unit.format
        seed = self.seeds[item.seed_id]
        messages = render(
            self.plan, unit, step.prompt, seed=seed, item=item_dict(item), n=step.per_seed
        )
        schema = (
            output_schemas.answer_enriched(fmt, item)
            if step.kind == "answer_enriched"
            else output_schemas.context_enriched()
        )
        request = chat_request(
            messages,
            capped(step.sampling, self.options.max_tokens),
            request_seed(self.options.seed, unit.id, item.id, step.kind),
            n=step.per_seed,
            json_schema=schema,
        )
        result = await self.call(request)
        out = []
        for index, choice in enumerate(result.choices if not isinstance(result, str) else []):
            item_id = record_id(unit.id, item.id, step.kind, str(index))
            names = ("rationale", "answer") if step.kind == "answer_enriched" else ("context",)
            fields = parse_fields(choice, names)
            if isinstance(fields, Malformed):
                self.malformed("enrich", item_id, fields, step.kind, item.seed_id, choice.text)
                continue
            if step.kind == "answer_enriched":
                key = answer_key(fields["answer"], fmt, item.choices)
                extractable = fmt.type not in ("code", "free_form")
                if extractable and (
                    key is None or not same_answer(key, item.answer, fmt, item.choices)
                ):
                    self.reject(
                        "enrich",
                        item_id,
                        f"the explanation ends at {fields['answer']!r}, not at the "
                        f"verified answer {item.answer!r}",
                        kind=step.kind,
                        seed_id=item.seed_id,
                    )
                    continue
                enriched = msgspec.structs.replace(item, rationale=fields["rationale"])
                if fmt.type == "code" and self.runs_code(item) and item.tests:
                    # The explanation comes with its own solution: it must pass the
                    # item's tests too, and is the answer the explanation belongs to.
                    tested = await self.run_code(fields["answer"], item.tests)
                    if not tested.passed:
                        self.reject(
                            "enrich",
                            item_id,
                            f"the explanation's solution fails the item's tests: {tested.reason}",
                            kind=step.kind,
                            seed_id=item.seed_id,
                        )
                        continue
                    enriched = msgspec.structs.replace(
                        enriched, answer=fields["answer"], verification=tests_passed(tested)
                    )
            else:
                context = fields["context"]
                if item.context:
                    context = f"{context}\n\n{item.context}"
                enriched = msgspec.structs.replace(item, context=context)
            out.append(
                msgspec.structs.replace(enriched, id=item_id, kind=step.kind, parent_id=item.id)
            )
        if isinstance(result, str):
            self.reject(
                "enrich",
                record_id(unit.id, item.id, step.kind),
                result,
                kind=step.kind,
                seed_id=item.seed_id,
            )
        return out

    async def filter(
        self, items: list[OutputRecord], *, count: str | None = None
    ) -> list[OutputRecord]:
        """The items that pass the unit's filters; `count` names the funnel stage."""
        rows = [msgspec.structs.asdict(i) for i in items]
        reasons = await self.filter_batches.submit(rows)
        kept = []
        for item, row, reason in zip(items, rows, reasons, strict=True):
            if reason is None:
                kept.append(item)
            else:
                self.drop("filter", item, reason, row)
        if count is not None:
            self.counts[count] += len(kept)
        return kept

    def decontaminate(self, items: list[OutputRecord], *, count: str) -> list[OutputRecord]:
        """The items that reproduce no held-out evaluation item; `count` as in `filter`."""
        kept = []
        for item in items:
            row = msgspec.structs.asdict(item)
            reason = self.held_out.check(row) if self.held_out is not None else None
            if reason is None:
                kept.append(item)
            else:
                self.drop("decontaminate", item, reason, row)
        self.counts[count] += len(kept)
        return kept

    # --------------------------------------------------------------- helpers

    def record(
        self, fields: ItemFields, item_id: str, kind: str, seed_id: str, parent: str | None
    ) -> OutputRecord:
        unit = self.unit
        return OutputRecord(
            **msgspec.structs.asdict(fields),
            id=item_id,
            task=unit.task,
            subtask=unit.subtask,
            domain=unit.domain,
            kind=kind,  # type: ignore[arg-type]
            family=unit.family,
            seed_id=seed_id,
            parent_id=parent,
            unit_fingerprint=unit.fingerprint,
            model=self.engine.model,
            license=unit.source.license,
        )

    def seed_item(self, seed: SeedRecord) -> OutputRecord:
        """A seed as the input item of an enrichment that takes its input `from: seed`."""
        fields = ItemFields(**{f: getattr(seed, f) for f in ItemFields.__struct_fields__})
        record = self.record(
            fields, record_id(self.unit.id, "seed", seed.id), "similar_question", seed.id, None
        )
        return msgspec.structs.replace(
            record, verification=Verification(status="unverified", k=0, method="seed")
        )


def tests_passed(result: CodeResult) -> Verification:
    return Verification(
        status="verified",
        k=result.tests,
        votes={"passed": result.passed_tests},
        agreement=1.0,
        method="tests",
    )


async def gather(tasks: Any) -> list[Any]:
    awaitables: list[Awaitable[Any]] = list(tasks)
    return list(await asyncio.gather(*awaitables))

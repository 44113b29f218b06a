"""What every stage shares: one small contract and one funnel.

A stage takes the items of one seed (or a batch of them) and returns those it keeps.
Everything it drops goes through the slice's `Funnel`, which keeps the reject (stage,
item, reason and the item itself) and counts what each stage kept, so the funnel of a
unit adds up: nothing is silently lost. The per-item stages are async and share the
unit's `UnitContext`: the plan, the unit, the run options, the engine calls and the
held-out index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from taskseed.contract.jinja_budget import RenderError
from taskseed.contract.plan import Plan, Unit
from taskseed.contract.records import ItemFields, OutputRecord, SeedRecord, Verification
from taskseed.runtime.calls import EngineCalls
from taskseed.runtime.decontaminate import HeldOut
from taskseed.runtime.options import RunOptions
from taskseed.runtime.parse import Malformed
from taskseed.runtime.results import Reject, record_id

Progress = Callable[[str, int], None]


@dataclass
class Funnel:
    """One slice's counts per stage, its rejects, and the tokens it used."""

    unit: str
    counts: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    tokens: Counter[str] = field(default_factory=Counter)

    def kept(self, stage_count: str, amount: int = 1) -> None:
        self.counts[stage_count] += amount

    def reject(self, stage: str, item_id: str, reason: str, **extra: Any) -> None:
        self.rejects.append(Reject(id=item_id, unit=self.unit, stage=stage, reason=reason, **extra))


@dataclass
class Slice:
    """The seeds of one slice in flight, and its funnel."""

    index: int
    funnel: Funnel
    seeds: dict[str, SeedRecord] = field(default_factory=dict)


@dataclass
class UnitContext:
    """What the stages of one unit read: plan, unit, options, engine, held-out index."""

    plan: Plan
    unit: Unit
    options: RunOptions
    calls: EngineCalls
    model: str
    held_out: HeldOut | None = None
    progress: Progress = lambda stage, n: None

    def record(
        self, fields: ItemFields, item_id: str, kind: str, seed_id: str, parent: str | None
    ) -> OutputRecord:
        """A generated item of this unit."""
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
            model=self.model,
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


class Stage:
    """A step over a unit's items; `name` is the stage every reject it makes names."""

    name: ClassVar[str]

    def __init__(self, context: UnitContext) -> None:
        self.context = context
        self.unit = context.unit

    def drop(
        self,
        funnel: Funnel,
        item: OutputRecord,
        reason: str,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Reject an item, keeping it (or `payload`) in the rejects file."""
        kept = payload if payload is not None else msgspec.structs.asdict(item)
        funnel.reject(self.name, item.id, reason, kind=item.kind, seed_id=item.seed_id, item=kept)

    def malformed(
        self,
        funnel: Funnel,
        item_id: str,
        why: Malformed,
        kind: str,
        seed_id: str,
        text: str,
        *,
        stage: str | None = None,
    ) -> None:
        """Reject an engine answer that did not parse, keeping (the start of) its text."""
        funnel.reject(
            stage or self.name,
            item_id,
            why.reason,
            kind=kind,
            seed_id=seed_id,
            item={"text": text[:2000]},
        )


def template_failure(exc: Exception) -> str:
    """The reject reason of a prompt that did not render (sandbox, budget, data)."""
    if isinstance(exc, RenderError):  # its message names the error it wraps
        return f"the prompt template failed: {exc}"
    return f"the prompt template failed: {type(exc).__name__}: {exc}"

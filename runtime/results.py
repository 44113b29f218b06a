"""What the stages produce: rejects with their reasons, and the counts of a unit.

Every row or item that is dropped becomes a `Reject` naming its stage and reason, so
that the funnel adds up: nothing is silently lost.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec

STAGES = (
    "seeds",  # native rows read (after `seeds.where`), readable or not
    "normalized",  # rows that mapped to seed records
    "generated",  # samples the engine returned for similar questions
    "parsed",  # samples that parsed into items of the right shape
    "filtered",  # items that passed the filters
    "decontaminated",  # items that reproduce no held-out evaluation item
    "verified",  # items verification kept: the vote agreed, the tests passed, or
    # (counted again as `unverified`, outside this chain) no vote or test could apply
    "judged",  # verified items the judge kept (only where the unit's judge is on)
    "enriched",  # enriched items kept (answer_enriched + context_enriched)
    "written",  # records in the dataset, after dedup
)


class Reject(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    unit: str
    stage: str  # seeds, normalize, generate, parse, filter, decontaminate, verify, judge,
    # enrich, dedup
    reason: str
    kind: str | None = None
    seed_id: str | None = None
    source: str | None = None  # a seed row's file and line (seeds and normalize rejects)
    item: dict[str, Any] | None = None


class UnitSummary(msgspec.Struct, kw_only=True):
    """What a unit's committed slices add up to: the manifest's entry for the unit."""

    unit: str
    run_key: str
    slices: int
    counts: dict[str, int]
    decontamination: dict[str, Any] = msgspec.field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests_sent: int = 0
    requests_replayed: int = 0
    seconds: float = 0.0
    stages: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    resumed_slices: int = 0  # slices that were already committed when this run started
    records: int = 0  # records the slices kept (verified and enriched), before dedup
    target_records: int | None = None  # --target-records, if given


def stage_use(tokens: Counter[str]) -> dict[str, dict[str, int]]:
    """The `stage:what` counts of `EngineCalls.call` as {stage: {what: count}}."""
    use: dict[str, dict[str, int]] = {}
    for key, value in sorted(tokens.items()):
        stage, sep, what = key.partition(":")
        if sep:
            use.setdefault(stage, {})[what] = value
    return use


def add_stage_use(parts: Iterable[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Per-stage engine use, added up."""
    total: dict[str, Counter[str]] = {}
    for part in parts:
        for stage, use in part.items():
            total.setdefault(stage, Counter()).update(use)
    return {stage: dict(sorted(total[stage].items())) for stage in sorted(total)}


def record_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]

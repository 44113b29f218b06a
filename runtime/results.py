"""What the stages produce: kept records, rejects with their reasons, and counts.

Every row or item that is dropped becomes a `Reject` naming its stage and reason, so
that the funnel adds up: nothing is silently lost.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from taskseed.contract.records import OutputRecord

STAGES = (
    "seeds",  # native rows read
    "normalized",  # rows that mapped to seed records
    "generated",  # samples the engine returned for similar questions
    "parsed",  # samples that parsed into items of the right shape
    "filtered",  # items that passed the filters
    "decontaminated",  # items that reproduce no held-out evaluation item
    "verified",  # items whose majority vote agreed with their answer
    "enriched",  # enriched items kept (answer_enriched + context_enriched)
    "written",  # records in the dataset, after dedup
)


class Reject(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    unit: str
    stage: str  # normalize, generate, parse, filter, decontaminate, verify, enrich, dedup
    reason: str
    kind: str | None = None
    seed_id: str | None = None
    item: dict[str, Any] | None = None


class UnitOutput(msgspec.Struct, kw_only=True):
    """One unit's staged result: written when the unit completes, read by finalize."""

    unit: str
    run_key: str
    records: list[OutputRecord]
    rejects: list[Reject]
    seed_texts: dict[str, str]  # seed id -> text, for dedup against seeds
    counts: dict[str, int]
    decontamination: dict[str, Any] = msgspec.field(default_factory=dict)  # for the manifest
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests_sent: int = 0
    requests_replayed: int = 0
    seconds: float = 0.0


def record_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]

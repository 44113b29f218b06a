"""The unified seed record: what every task's native rows are normalized into.

Answers are kept as semantic text (`answer`), with the index and label beside it when
the task is multiple choice, and `answer_source` says which kind of target the seed
row gave (an index, a label, or the text itself).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

AnswerSource = Literal["index", "label", "text"]


class ItemFields(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A question and its answer: what seed records and generated items share."""

    question: str
    context: str | None = None
    choices: list[str] | None = None
    answer: str
    answer_index: int | None = None
    answer_label: str | None = None
    rationale: str | None = None
    tests: list[str] | None = None


class SeedRecord(ItemFields, kw_only=True, omit_defaults=True):
    """One seed, normalized from its dataset's native row."""

    id: str
    task: str
    subtask: str
    answer_source: AnswerSource
    answer_aliases: list[str] = msgspec.field(default_factory=list)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(SeedRecord))
# Generated items have the record's fields, plus where they came from.
ITEM_FIELDS: tuple[str, ...] = (*RECORD_FIELDS, "kind", "seed_id")
TASK_FIELDS: tuple[str, ...] = ("id", "name", "subtask", "title", "domain", "vars")


def record_dict(record: SeedRecord) -> dict[str, Any]:
    """All fields, defaults included, as templates see them."""
    return {name: getattr(record, name) for name in RECORD_FIELDS}


DataKind = Literal["similar_question", "answer_enriched", "context_enriched"]


class Verification(msgspec.Struct, kw_only=True):
    """The majority vote over k sampled answers."""

    status: Literal["verified", "unverified"]
    k: int
    votes: dict[str, int] = msgspec.field(default_factory=dict)
    majority: str | None = None
    agreement: float = 0.0
    method: str = ""


class Judgement(msgspec.Struct, kw_only=True):
    """The LLM judge's k scorings of an item: each criterion's mean score, their mean,
    and the verdicts, over the samples that gave every score (the others abstain)."""

    k: int
    scores: dict[str, float] = msgspec.field(default_factory=dict)
    overall: float = 0.0
    threshold: float = 0.0
    abstained: int = 0  # samples whose scores were missing or malformed
    verdicts: list[str] = msgspec.field(default_factory=list)


class OutputRecord(ItemFields, kw_only=True, omit_defaults=True):
    """One generated item as written to the dataset."""

    id: str
    task: str
    subtask: str
    domain: str
    kind: DataKind
    family: Literal["multiple_choice", "generative"]
    seed_id: str
    parent_id: str | None = None
    verification: Verification | None = None
    judgement: Judgement | None = None  # only where the unit's judge is on
    unit_fingerprint: str
    model: str
    license: str

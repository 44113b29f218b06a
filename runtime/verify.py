"""Stage 5, verify: a majority vote over k sampled answers.

Each sampled answer is reduced to a canonical key by its format's extractor (an answer
nothing can be extracted from abstains, but still counts in k). The majority is the
most frequent key; ties go to the lexicographically smallest key, so the vote is
deterministic. An item is kept only when the majority names its own answer and the
share of the k samples that do so reaches the threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from taskseed.compiler.records import Verification


def vote(
    keys: list[str | None],
    k: int,
    threshold: float,
    names_answer: Callable[[str], bool],
    method: str,
) -> tuple[Verification, bool]:
    """The verification record, and whether the item passes."""
    counts = Counter(key for key in keys if key is not None)
    majority = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else None
    agreeing = sum(count for key, count in counts.items() if names_answer(key))
    agreement = agreeing / k if k else 0.0
    passed = majority is not None and names_answer(majority) and agreement >= threshold
    record = Verification(
        status="verified" if passed else "unverified",
        k=k,
        votes=dict(sorted(counts.items())),
        majority=majority,
        agreement=round(agreement, 4),
        method=method,
    )
    return record, passed

"""The judge's scorings: each sample parsed against the score schema, then averaged.

A sample gives an integer score in `[low, high]` for every criterion (a whole float
such as `4.0`, or digits in a string, count as that integer) and a short verdict. A
sample that does not (no JSON, a criterion missing, a score out of range) abstains: it
is counted, and left out of the means. The means are exact fractions until they are
rounded for the record, so a mean that equals the threshold reaches it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from taskseed.contract.records import Judgement
from taskseed.runtime.engines.base import Choice
from taskseed.runtime.parse import Malformed, load_object

MAX_VERDICT_CHARS = 500


@dataclass(frozen=True, slots=True)
class Scoring:
    """One sample's scores by criterion, and its verdict."""

    scores: dict[str, int]
    verdict: str


def parse_scoring(
    choice: Choice, criteria: Sequence[str], low: int, high: int
) -> Scoring | Malformed:
    obj = load_object(choice)
    if isinstance(obj, Malformed):
        return obj
    given = obj.get("scores")
    if not isinstance(given, dict):
        return Malformed("missing field `scores`" if given is None else "`scores` is not an object")
    scores = {}
    for name in criteria:
        if name not in given:
            return Malformed(f"no score for `{name}`")
        value = _integer(given[name])
        if value is None:
            return Malformed(f"the score for `{name}` is not a whole number: {given[name]!r:.40}")
        if not low <= value <= high:
            return Malformed(f"the score for `{name}` ({value}) is outside {low}..{high}")
        scores[name] = value
    verdict = obj.get("verdict")
    text = verdict.strip()[:MAX_VERDICT_CHARS] if isinstance(verdict, str) else ""
    return Scoring(scores, text)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    judgement: Judgement
    passed: bool
    reason: str  # why it did not pass; empty when it did


def judge(
    samples: Sequence[Scoring | Malformed], criteria: Sequence[str], k: int, threshold: float
) -> Outcome:
    """The item's judgement over its samples, and whether its mean score reaches the
    threshold."""
    scorings = [s for s in samples if isinstance(s, Scoring)]
    abstained = len(samples) - len(scorings)
    if not scorings:
        first = next((s.reason for s in samples if isinstance(s, Malformed)), "no sample")
        judgement = Judgement(k=k, threshold=threshold, abstained=abstained)
        reason = f"[judge] no usable scoring: {abstained} of {k} samples malformed (first: {first})"
        return Outcome(judgement, False, reason)
    sums = {name: sum(s.scores[name] for s in scorings) for name in criteria}
    means = {name: Fraction(total, len(scorings)) for name, total in sums.items()}
    overall = Fraction(sum(sums.values()), len(scorings) * len(criteria))
    judgement = Judgement(
        k=k,
        scores={name: round(float(mean), 4) for name, mean in means.items()},
        overall=round(float(overall), 4),
        threshold=threshold,
        abstained=abstained,
        verdicts=[s.verdict for s in scorings if s.verdict],
    )
    if overall >= Fraction(str(threshold)):
        return Outcome(judgement, True, "")
    shown = ", ".join(f"{name} {float(mean):.2f}" for name, mean in means.items())
    reason = f"[judge] mean score {float(overall):.2f} below threshold {threshold} ({shown})"
    return Outcome(judgement, False, reason)

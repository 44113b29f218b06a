"""The defaults that depend on the request kind: the one home of each kind's sampling
and of how many items a data kind asks for per seed.

A spec's `sampling` fields and `per_seed` are optional; where a spec (or a file it
extends) leaves one out, the compiler writes the value below into the plan, so the
plan carries every request's final sampling and the runtime reads it from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from taskseed.contract.plan import PlanSampling

# The kinds of engine request a unit makes: one per data kind, verification, the judge.
REQUEST_KINDS: tuple[str, ...] = (
    "similar_question",
    "answer_enriched",
    "context_enriched",
    "verify",
    "judge",
)

# Sampling where a spec leaves a field out. New questions are sampled warm for variety;
# explanations cool, as they must stay correct; verification at 0.7 so that k answers
# can disagree, with room for a short JSON answer only; the judge at 0.7 too, so that
# its k scorings are k opinions, with room for the scores and a one-line verdict.
SAMPLING: Mapping[str, PlanSampling] = MappingProxyType(
    {
        "similar_question": PlanSampling(temperature=0.8, top_p=0.95, max_tokens=384),
        "answer_enriched": PlanSampling(temperature=0.3, top_p=0.95, max_tokens=384),
        "context_enriched": PlanSampling(temperature=0.5, top_p=0.95, max_tokens=256),
        "verify": PlanSampling(temperature=0.7, top_p=0.95, max_tokens=48),
        "judge": PlanSampling(temperature=0.7, top_p=0.95, max_tokens=160),
    }
)

# Items asked for per seed, by data kind.
PER_SEED: Mapping[str, int] = MappingProxyType(
    {"similar_question": 2, "answer_enriched": 1, "context_enriched": 1}
)

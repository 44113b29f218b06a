"""The fused polars filter: each failing row gets the first failing check as its reason."""

from __future__ import annotations

from taskseed.contract.plan import PlanBounds, PlanFilters, PlanFormat
from taskseed.runtime.filters import reject_reasons

MC = PlanFormat(type="multiple_choice")
FILTERS = PlanFilters(
    bounds={
        "question": PlanBounds(min=5, max=40),
        "options": PlanBounds(min=3, max=4),
        "context": PlanBounds(min=10),
    },
    require={"answer": [r"^\w"]},
    forbid={"question": [r"(?i)as an ai"], "choices": [r"(?i)^none of"]},
)


def row(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "x",
        "question": "Which planet is red?",
        "choices": ["Mars", "Venus", "Earth"],
        "answer": "Mars",
    }
    return {**base, **overrides}


def test_reasons_in_order() -> None:
    rows = [
        row(),
        row(question="Hi?"),
        row(question="q" * 50),
        row(choices=["Mars", "Venus"]),
        row(answer="Pluto"),
        row(choices=["Mars", "mars ", "Earth"]),
        row(question="As an AI, which planet?"),
        row(choices=["Mars", "Venus", "None of these"]),
        row(answer=" Mars", choices=[" Mars", "Venus", "Earth"]),
        row(context="short"),
        row(context="a long enough passage"),
    ]
    assert reject_reasons(rows, FILTERS, MC) == [
        None,
        "[chars] fewer than 5 characters in `question`",
        "[chars] more than 40 characters in `question`",
        "[options] fewer than 3 options",
        "[answer-options] answer is not among the options",
        "[duplicate-options] options repeat each other",
        "[forbid] `question` matches forbidden '(?i)as an ai'",
        "[forbid] `choices` matches forbidden '(?i)^none of'",
        "[require] `answer` does not match '^\\\\w'",
        "[chars] fewer than 10 characters in `context`",
        None,
    ]


def test_generative_items_skip_option_checks() -> None:
    rows = [{"id": "g", "question": "Name a red planet.", "answer": "Mars"}]
    assert reject_reasons(rows, PlanFilters(), PlanFormat(type="short_answer")) == [None]
    assert reject_reasons([], FILTERS, MC) == []

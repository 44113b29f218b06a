"""Malformed engine output becomes a reason, never an exception."""

from __future__ import annotations

import json

import pytest

from taskseed.contract.plan import PlanFormat
from taskseed.contract.records import ItemFields
from taskseed.runtime.engines.base import Choice
from taskseed.runtime.parse import Malformed, parse_fields, parse_item

MC = PlanFormat(type="multiple_choice", min_options=3, max_options=4, shuffle=False)
SEED = ItemFields(question="q", choices=["a", "b", "c"], answer="a")
GOOD = {"question": "Which one?", "choices": ["x", "y", "z"], "answer": "y"}


def parse(text: str, finish: str = "stop", fmt: PlanFormat = MC) -> ItemFields | Malformed:
    return parse_item(Choice(text=text, finish_reason=finish), fmt, SEED, "key")


@pytest.mark.parametrize(
    ("text", "finish", "reason"),
    [
        ('{"question": "Which', "length", "truncated"),
        ('{"question": "Which" "choices"', "stop", "invalid JSON"),
        ("", "stop", "empty completion"),
        ("[1, 2]", "stop", "expected a JSON object"),
        (json.dumps({**GOOD, "question": ""}), "stop", "empty `question`"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "answer"}), "stop", "missing field"),
        (json.dumps({**GOOD, "choices": "x, y, z"}), "stop", "not a list"),
        (json.dumps({**GOOD, "choices": ["x", {"y": 1}, "z"]}), "stop", "not text"),
        (json.dumps({**GOOD, "question": ["q"]}), "stop", "not text"),
        (json.dumps({**GOOD, "answer": "w"}), "stop", "not among the options"),
        (json.dumps({**GOOD, "choices": ["x", "y"], "answer": "x"}), "stop", "2 options"),
        (json.dumps({**GOOD, "question": "x" * 60_000}), "stop", "characters long"),
        (json.dumps({**GOOD, "answer": True}), "stop", "not text"),
    ],
)
def test_malformed_outputs_have_reasons(text: str, finish: str, reason: str) -> None:
    result = parse(text, finish)
    assert isinstance(result, Malformed)
    assert reason in result.reason


def test_good_output_maps_answer_letters_and_fences() -> None:
    item = parse("```json\n" + json.dumps({**GOOD, "answer": "C"}) + "\n```")
    assert isinstance(item, ItemFields)
    assert (item.answer, item.answer_index, item.answer_label) == ("z", 2, "C")


def test_shuffle_keeps_the_answer_text() -> None:
    fmt = PlanFormat(type="multiple_choice", min_options=3, max_options=4, shuffle=True)
    items = [parse(json.dumps(GOOD), fmt=fmt) for _ in range(2)]
    for item in items:
        assert isinstance(item, ItemFields) and item.choices is not None
        assert item.answer == "y" and item.choices[item.answer_index or 0] == "y"
    assert items[0] == items[1]  # deterministic for one key


def test_numeric_answers_must_be_numbers() -> None:
    fmt = PlanFormat(type="numeric")
    seed = ItemFields(question="q", answer="3")
    bad = parse_item(Choice(text=json.dumps({"question": "q?", "answer": "many"})), fmt, seed, "k")
    assert isinstance(bad, Malformed) and "not a number" in bad.reason
    good = parse_item(
        Choice(text=json.dumps({"question": "q?", "answer": "1,200"})), fmt, seed, "k"
    )
    assert isinstance(good, ItemFields)


def test_enrichment_fields() -> None:
    assert parse_fields(
        Choice(text='{"rationale": "r", "answer": "a"}'), ("rationale", "answer")
    ) == {"rationale": "r", "answer": "a"}
    missing = parse_fields(Choice(text='{"rationale": "r"}'), ("rationale", "answer"))
    assert isinstance(missing, Malformed)

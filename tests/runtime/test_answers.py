"""Answer extraction and equivalence per format."""

from __future__ import annotations

from fractions import Fraction

import pytest

from taskseed.compiler.plan_model import PlanFormat
from taskseed.runtime.answers import (
    answer_key,
    normalize_text,
    option_index,
    parse_number,
    same_answer,
)

MC = PlanFormat(type="multiple_choice")
NUM = PlanFormat(type="numeric", tolerance=1e-6)
SHORT = PlanFormat(type="short_answer")
CHOICES = ["the roots", "the leaves", "The Stem", "flowers"]


@pytest.mark.parametrize(
    ("answer", "index"),
    [
        ("B", 1),
        ("(b)", 1),
        ("C.", 2),
        ("the stem", 2),
        ("Stem", 2),
        ("D) flowers", 3),
        ("the roots", 0),
        ("roots!", 0),
        ("E", None),
        ("nothing", None),
        ("", None),
    ],
)
def test_option_index(answer: str, index: int | None) -> None:
    assert option_index(answer, CHOICES) == index


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("1,234", 1234),
        ("$5.50", Fraction(11, 2)),
        ("3/4", Fraction(3, 4)),
        (r"\frac{1}{2}", Fraction(1, 2)),
        (r"so \boxed{7}", 7),
        ("-3 apples", -3),
        ("12%", 12),
        ("2 + 3 = 5", 5),
        ("none", None),
    ],
)
def test_parse_number(text: str, value: Fraction | int | None) -> None:
    assert parse_number(text) == value


def test_keys_and_equivalence() -> None:
    assert answer_key("b", MC, CHOICES) == "leaves"
    assert answer_key("0.50", NUM, None) == answer_key("1/2", NUM, None)
    assert same_answer("18", "18.0", NUM, None)
    assert not same_answer("18.1", "18", NUM, None)
    assert normalize_text("The  Eiffel-Tower!") == "eiffeltower"
    assert same_answer(
        answer_key("eiffel tower", SHORT, None) or "", "The Eiffel Tower", SHORT, None
    )
    assert same_answer("paris", "City of Light", SHORT, None, aliases=["Paris"])
    assert answer_key("anything", PlanFormat(type="code"), None) is None

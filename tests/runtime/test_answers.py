"""Answer extraction and equivalence per format."""

from __future__ import annotations

from fractions import Fraction

import pytest

from taskseed.contract.plan import PlanFormat
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


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # units and currency
        ("12 apples", 12),
        ("3.5 km", Fraction(7, 2)),
        ("$1,200", 1200),
        ("€3,000.50", Fraction(6001, 2)),
        (r"12\text{ cm}", 12),
        ("−7 degrees", -7),
        # thousands separators
        ("1,234,567", 1234567),
        (r"1{,}200", 1200),
        (r"1\,200", 1200),
        ("1\u202f200", 1200),
        # fractions, mixed numbers, decimals, scientific notation
        ("3/4", Fraction(3, 4)),
        ("0.75", Fraction(3, 4)),
        (".5", Fraction(1, 2)),
        ("1 1/2 cups", Fraction(3, 2)),
        ("-2 1/4", Fraction(-9, 4)),
        ("1.5e3", 1500),
        (r"\frac{3}{4}", Fraction(3, 4)),
        (r"\dfrac{3}{4}", Fraction(3, 4)),
        (r"\frac34", Fraction(3, 4)),
        (r"-\frac{3}{4}", Fraction(-3, 4)),
        # LaTeX that needs math-verify
        (r"\boxed{1{,}200}", 1200),
        (r"The answer is $\boxed{\frac{7}{2}}$.", Fraction(7, 2)),
        (r"3 \times 10^{5}", 300000),
        ("3 × 10^5", 300000),
        (r"2^{10}", 1024),
        (r"10^{-3}", Fraction(1, 1000)),
        (r"\left(\frac{1}{2}\right)", Fraction(1, 2)),
        (r"1\frac{1}{2}", Fraction(3, 2)),
        (r"x = \frac{1}{2}", Fraction(1, 2)),
        # percent is a unit: 75% is 75
        ("75%", 75),
        (r"75\%", 75),
        (r"$\boxed{12\%}$", 12),
        # no number
        (r"\frac{1}{0}", None),
        ("1/0", None),
        (r"\infty", None),
        (r"9^{9^{9}}", None),  # a power tower is refused, not evaluated
        ("", None),
    ],
)
def test_parse_number_formats(text: str, value: Fraction | int | None) -> None:
    assert parse_number(text) == value


def test_irrational_numbers_compare_by_tolerance() -> None:
    value = parse_number(r"\sqrt{2}")
    assert value is not None and abs(float(value) - 2**0.5) < 1e-12
    assert answer_key(r"\frac{\sqrt{2}}{2}", NUM, None) == answer_key("0.70710678118", NUM, None)
    assert same_answer(r"\sqrt{2}", "1.41421356", PlanFormat(type="numeric", tolerance=1e-6), None)


def test_numeric_equivalence_across_notations() -> None:
    forms = ["1200", "1,200", "$1,200", r"\boxed{1200}", "1.2e3", r"1.2 \times 10^3", "1200 apples"]
    keys = {answer_key(f, NUM, None) for f in forms}
    assert keys == {"1200"}
    for form in forms:
        assert same_answer(answer_key(form, NUM, None) or "", "1200", NUM, None), form
    assert same_answer("0.75", r"\frac{3}{4}", NUM, None)
    assert not same_answer("0.75", "75%", NUM, None)  # percent is a unit, not /100
    assert same_answer("75", "75%", NUM, None)
    assert same_answer("0.3333333", "1/3", PlanFormat(type="numeric", tolerance=1e-6), None)
    assert not same_answer("0.33", "1/3", NUM, None)
    relative = PlanFormat(type="numeric", tolerance=0.0, relative_tolerance=0.01)
    assert same_answer("1005", "1000", relative, None)
    assert not same_answer("1011", "1000", relative, None)


def test_math_verify_is_safe_in_threads() -> None:
    """math-verify's own timeout uses signal.alarm, which fails outside the main thread."""
    import threading

    results: list[Fraction | None] = []
    worker = threading.Thread(target=lambda: results.append(parse_number(r"\frac{\sqrt{9}}{4}")))
    worker.start()
    worker.join()
    assert results == [Fraction(3, 4)]


@pytest.mark.parametrize(
    ("answer", "index"),
    [
        ("**B**", 1),
        ("The answer is B", 1),
        ("The answer is B.", 1),
        ("Answer: (b)", 1),
        ("Final answer: C", 2),
        ("answer: the leaves", 1),
        ("The correct answer is flowers.", 3),
        ("Option 2", None),  # a number is no letter label
    ],
)
def test_option_index_decorations(answer: str, index: int | None) -> None:
    assert option_index(answer, CHOICES) == index


def test_option_text_is_the_semantic_answer() -> None:
    assert answer_key("B", MC, CHOICES) == answer_key("the leaves", MC, CHOICES) == "leaves"
    assert answer_key("D) flowers", MC, CHOICES) == "flowers"
    numbers = PlanFormat(type="multiple_choice", labels="numbers")
    assert answer_key("2", numbers, CHOICES) == "leaves"
    assert answer_key("Z", MC, CHOICES) is None


@pytest.mark.parametrize(
    ("key", "answer", "same"),
    [
        ("The Eiffel Tower.", "eiffel tower", True),
        ("an apple", "Apple", True),
        ("  New   York ", "new york", True),
        ("U.S.A.", "USA", True),
        ("Paris, France", "Paris", False),
    ],
)
def test_short_answers_squad_normalised(key: str, answer: str, same: bool) -> None:
    assert same_answer(answer_key(key, SHORT, None) or "", answer, SHORT, None) is same


@pytest.mark.parametrize(
    ("forms", "key"),
    [
        # unit spacing and spelling
        (["240km", "240 km", "240 kilometres", "240 Kilometers", "240 kms", "240 KM."], "240 km"),
        (["3.5 h", "3.5 hours", "3.5hrs", "3.50 hours"], "3.5 h"),
        (["100 °C", "100°C", "100 ° C", "100 degrees Celsius", "100 ℃"], "100 °c"),
        (["50%", "50 %", "50 percent", "50 per cent"], "50 %"),
        (["12 m²", "12 m2", "12 square metres", "12 sq m"], "12 m²"),
        (["60 km/h", "60 kph", "60 kilometres per hour"], "60 km/h"),
        # currency before or after the number
        (["$5", "5 dollars", "5 USD", "$ 5"], "5 $"),
        (["€12.50", "12.5 euros"], "12.5 €"),
        # number formats
        (["1,200 m", "1200 metres", "1 200 m", "1200.0 m"], "1200 m"),
        (["twelve apples", "12 apples", "12 Apples"], "12 apples"),
        (["twenty-one", "21", "21.0"], "21"),
        (["three hundred and five", "305"], "305"),
        (["3,5 kg", "3.5 kg"], "3.5 kg"),
        # width and accents
        (["２４０ｋｍ", "240 km"], "240 km"),
        (["Pelé", "pele", "PELE"], "pele"),
        (["São Paulo", "Sao Paulo"], "sao paulo"),
    ],
)
def test_short_answers_equal_across_units_and_number_formats(forms: list[str], key: str) -> None:
    keys = {answer_key(form, SHORT, None) for form in forms}
    assert keys == {key}, keys
    for form in forms:
        assert same_answer(answer_key(form, SHORT, None) or "", forms[0], SHORT, None)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("240 km", "240 m"),  # another unit
        ("240 km", "24 km"),
        ("$5", "5 euros"),
        ("the 1990s", "1990"),
        ("one of them", "1"),
        ("서울", "부산"),
        ("हिन्दी", "हिन्द"),  # marks of other scripts are kept
    ],
)
def test_short_answers_that_stay_apart(a: str, b: str) -> None:
    assert answer_key(a, SHORT, None) != answer_key(b, SHORT, None)


def test_case_sensitive_short_answers_keep_case_but_not_unit_spacing() -> None:
    exact = PlanFormat(type="short_answer", case_sensitive=True)
    assert answer_key("240km", exact, None) == answer_key("240 km", exact, None) == "240 km"
    assert answer_key("CO", exact, None) != answer_key("Co", exact, None)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 200", 1200),
        ("12 345 678", 12345678),
        ("3,5", Fraction(7, 2)),
        ("0,125", Fraction(1, 8)),
        ("12,75 €", Fraction(51, 4)),
        ("1,234", 1234),  # three digits after the comma: thousands
        ("twelve", 12),
        ("twenty-one apples", 21),
        ("one of them", None),
        ("240km", 240),
        ("240 kilometres", 240),
    ],
)
def test_numeric_answers_in_other_formats(text: str, value: Fraction | int | None) -> None:
    assert parse_number(text) == value

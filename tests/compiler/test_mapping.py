"""Native rows -> seed records, for every kind of answer target."""

from __future__ import annotations

import pytest

from taskseed.contract.mapping import MappingError, classify, normalize
from taskseed.contract.plan import PlanAnswer, PlanFormat, PlanMapping

MC = PlanFormat(type="multiple_choice")


def mapping(answer: PlanAnswer, **kw: object) -> PlanMapping:
    return PlanMapping(question=str(kw.pop("question", "question")), answer=answer, **kw)  # type: ignore[arg-type]


def test_classify() -> None:
    assert not classify("choices.text").is_template
    assert classify("{{ choices.text }}").body == "choices.text"
    assert classify("{{ a }} and {{ b }}").is_template
    assert classify("Q: {{ a }}").is_template


def test_label_answer_with_labels_from_the_row() -> None:
    row = {"q": "Pick", "c": {"text": ["x", "y", "z"], "label": ["1", "2", "3"]}, "k": "2"}
    m = mapping(
        PlanAnswer(given_as="label", value="k", labels="c.label"), question="q", choices="c.text"
    )
    record = normalize(row, m, MC, "t", "s")
    assert (record.answer, record.answer_index, record.answer_label) == ("y", 1, "B")
    assert record.answer_source == "label"


def test_index_answer_from_an_expression_and_a_jinja_list() -> None:
    row = {"question": "Q", "A": "a", "B": "b", "C": "c", "D": "d", "answer": 4}
    m = mapping(PlanAnswer(given_as="index", value="answer - 1"), choices="[A, B, C, D]")
    record = normalize(row, m, MC, "t", "s")
    assert (record.answer, record.answer_index, record.choices) == ("d", 3, ["a", "b", "c", "d"])


def test_text_answer_finds_its_index_and_template_question() -> None:
    row = {"p": "It rains.", "h": "It is wet.", "label": 0}
    m = mapping(
        PlanAnswer(given_as="index", value="label"),
        question="P: {{ p }}\nH: {{ h }}",
        choices=["yes", "maybe", "no"],
    )
    record = normalize(row, m, MC, "t", "s")
    assert record.question == "P: It rains.\nH: It is wet." and record.answer == "yes"


def test_numeric_text_with_rationale_and_aliases() -> None:
    row = {"a": "6 * 7 = 42\n#### 42", "q": "six sevens?", "alts": ["42", "forty-two"]}
    m = mapping(
        PlanAnswer(given_as="text", value="{{ a.split('####')[-1] | trim }}", aliases="alts"),
        question="q",
        rationale="{{ a.split('####')[0] | trim }}",
    )
    record = normalize(row, m, PlanFormat(type="numeric"), "t", "s")
    assert (record.answer, record.rationale) == ("42", "6 * 7 = 42")
    assert record.answer_aliases == ["42", "forty-two"]


def test_ids_are_native_or_content_hashes() -> None:
    m = mapping(PlanAnswer(given_as="text", value="a"))
    one = normalize({"question": "q", "a": "x"}, m, PlanFormat(type="short_answer"), "t", "s")
    two = normalize({"a": "x", "question": "q"}, m, PlanFormat(type="short_answer"), "t", "s")
    assert one.id == two.id and len(one.id) == 16
    native = mapping(PlanAnswer(given_as="text", value="a"), id="k")
    assert (
        normalize(
            {"question": "q", "a": "x", "k": 7}, native, PlanFormat(type="short_answer"), "t", "s"
        ).id
        == "7"
    )


@pytest.mark.parametrize(
    ("row", "answer", "field"),
    [
        (
            {"question": "q", "c": ["a"], "g": 5},
            PlanAnswer(given_as="index", value="g"),
            "answer.index",
        ),
        (
            {"question": "q", "c": ["a"], "g": "Z"},
            PlanAnswer(given_as="label", value="g"),
            "answer.label",
        ),
        ({"question": "", "c": ["a"], "g": 0}, PlanAnswer(given_as="index", value="g"), "question"),
        (
            {"question": "q", "c": "notalist", "g": 0},
            PlanAnswer(given_as="index", value="g"),
            "choices",
        ),
        ({"question": "q", "c": ["a"]}, PlanAnswer(given_as="index", value="g"), "answer.index"),
        (
            {"question": "q", "c": ["a"], "g": True},
            PlanAnswer(given_as="index", value="g"),
            "answer.index",
        ),
    ],
)
def test_rows_that_do_not_map_say_which_field(
    row: dict[str, object], answer: PlanAnswer, field: str
) -> None:
    with pytest.raises(MappingError) as info:
        normalize(row, mapping(answer, choices="c"), MC, "t", "s")
    assert info.value.field == field

"""The quality checks of the fused filter, each on the cases it is meant to catch and on
the look-alikes it must let through."""

from __future__ import annotations

from typing import Any

import pytest

from taskseed.contract.plan import (
    PlanFilters,
    PlanFormat,
    PlanLanguage,
    PlanLengthBounds,
    PlanRepetition,
)
from taskseed.runtime.filters import reject_reasons

MC = PlanFormat(type="multiple_choice")
SHORT = PlanFormat(type="short_answer")
ALL = PlanFilters(
    label_options=True,
    labelled_options=True,
    placeholders=True,
    repeats_question=True,
    answer_in_question=True,
    context_repeats_question=True,
    fragments=True,
)


def mc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "x",
        "question": "Which organ of the human body produces insulin?",
        "choices": ["the liver", "the pancreas", "the kidney", "the spleen"],
        "answer": "the pancreas",
    }
    return {**base, **overrides}


def reason(row: dict[str, Any], filters: PlanFilters = ALL, fmt: PlanFormat = MC) -> str | None:
    return reject_reasons([row], filters, fmt)[0]


def code(row: dict[str, Any], filters: PlanFilters = ALL, fmt: PlanFormat = MC) -> str | None:
    found = reason(row, filters, fmt)
    return None if found is None else found[1 : found.index("]")]


def test_a_good_item_passes_every_check() -> None:
    assert reason(mc()) is None
    korean = mc(
        question="재무상태표에서 자산에 해당하지 않는 것은?",
        choices=["현금", "매출채권", "미지급금", "재고자산"],
        answer="미지급금",
    )
    assert reason(korean) is None


@pytest.mark.parametrize(
    ("choices", "answer", "expected"),
    [
        (["E", "C", "A", "B", "D"], "A", "label-options"),
        (["(a)", "(b)", "(c)"], "(b)", "label-options"),
        (["Option A", "Option B", "Option C", "Option D"], "Option C", "label-options"),
        (["choice 1", "choice 2", "choice 3"], "choice 2", "label-options"),
        (
            ["A. 현금", "B. 매출채권", "C. 미지급금", "D. 재고자산"],
            "C. 미지급금",
            "labelled-options",
        ),
        (["(A) red", "(B) blue", "(C) green"], "(B) blue", "labelled-options"),
        (["1. red", "2. blue", "3. green"], "2. blue", "labelled-options"),
        (["A) red", "blue", "green"], "blue", None),  # one label alone is not enough
        (["O", "A", "AB", "B"], "O", "label-options"),  # the price of the rule: blood groups
        (["x", "y", "slope", "intercept"], "slope", None),
        (["J. K. Rowling", "H. G. Wells", "C. S. Lewis", "A. A. Milne"], "C. S. Lewis", None),
        (["1.5 kg", "2.5 kg", "3 kg"], "1.5 kg", None),
        (["9", "10", "13", "11"], "11", None),
        (["...", "the pancreas", "the liver"], "the pancreas", "placeholder"),
        (["the pancreas", "N/A", "the liver"], "the pancreas", "placeholder"),
        (["the pancreas", "<option>", "the liver"], "the pancreas", "placeholder"),
        (["the pancreas", "[insert option]", "the liver"], "the pancreas", "placeholder"),
        (["None", "One", "Two"], "None", None),
        (["Mars", "mars.", "Venus"], "Venus", "duplicate-options"),
        (["The Moon", "moon", "Sun"], "Sun", "duplicate-options"),
    ],
)
def test_options(choices: list[str], answer: str, expected: str | None) -> None:
    assert code(mc(choices=choices, answer=answer)) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("The correct answer is", "fragment"),
        ("The correct answer is:", "fragment"),
        ("Answer:", "placeholder"),
        ("So the answer is (B)", "fragment"),
        ("Question 3", "placeholder"),
        ("Here is a new question:", "fragment"),
        ("정답은", "fragment"),
        ("正确答案是：", "fragment"),
        ("La bonne réponse est", "fragment"),
        ("...", "placeholder"),
        ("<question>", "placeholder"),
        ("Which {{ noun }} produces insulin?", "placeholder"),
        ("Which organ produces insulin? The correct answer is the pancreas.", "answer-in-question"),
        ("Which organ, the pancreas, produces insulin?", "answer-in-question"),
        ("Does the pancreas or the liver produce insulin?", None),  # it names other options
        ("Which organ of the human body produces insulin?", None),
        ("A man sits on a roof. He", None),  # a cloze stem is a fragment by design
        ("Fill in the blank: the pancreas is a ___.", "answer-in-question"),
    ],
)
def test_questions(question: str, expected: str | None) -> None:
    assert code(mc(question=question)) == expected


def test_answer_in_question_ignores_short_and_numeric_answers() -> None:
    row = mc(question="Is 13 a prime number, yes or no?", choices=["yes", "no"], answer="yes")
    assert reason(row) is None
    row = mc(question="What is 12 + 1, written as 13?", choices=["12", "13", "14"], answer="13")
    assert reason(row) is None
    korean = mc(
        question="광합성이 일어나는 엽록체의 기능은?",
        choices=["엽록체", "리보솜", "골지체"],
        answer="엽록체",
    )
    assert code(korean) == "answer-in-question"


def test_a_capital_letter_in_an_answer_is_not_an_article() -> None:
    # "Vitamin A" is not "vitamin" plus an article: the question does not spell it out,
    # and its options stay distinct.
    row = mc(
        question="Deficiency of which vitamin causes night blindness?",
        choices=["Vitamin A", "Vitamin C", "Vitamin K", "Vitamin B1"],
        answer="Vitamin A",
    )
    assert reason(row) is None
    assert code(mc(choices=["Vitamin A", "vitamin", "Vitamin K"], answer="Vitamin K")) is None
    assert code(mc(choices=["The liver", "liver", "the kidney"], answer="the kidney")) == (
        "duplicate-options"
    )


def test_an_option_or_the_answer_that_repeats_the_question() -> None:
    question = "Which organ of the human body produces insulin?"
    row = mc(choices=["the liver", question, "the pancreas"], answer="the pancreas")
    assert reason(row) == "[repeats-question] an option repeats the question"
    short = {
        "id": "s",
        "question": "Name the capital of France.",
        "answer": "name the capital of france",
    }
    assert reason(short, fmt=SHORT) == "[repeats-question] the answer repeats the question"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("Which organ of the human body produces insulin?", "context-repeats-question"),
        ("Question: which organ of the human body produces insulin", "context-repeats-question"),
        (
            "The pancreas lies behind the stomach. Its islets release insulin into the blood, "
            "which lets cells take up glucose. Which organ of the human body produces insulin?",
            None,
        ),
        (None, None),
    ],
)
def test_context_that_repeats_the_question(context: str | None, expected: str | None) -> None:
    assert code(mc(context=context)) == expected


def test_weighted_length_is_one_bound_for_every_script() -> None:
    filters = PlanFilters(lengths={"question": PlanLengthBounds(min=10, max=60)})
    rows = [
        mc(question="水的沸点是多少？"),  # 7 Han + 1 = 22
        mc(question="日本の首都は？"),  # 4 Han, 2 kana, 1 = 17
        mc(question="미토콘드리아"),  # 6 Hangul = 15
        mc(question="Why?"),
        mc(question="What is the boiling point of water at sea level, in kelvin?"),
    ]
    assert reject_reasons(rows, filters, MC) == [
        None,
        None,
        None,
        "[length] fewer than 10 weighted characters in `question`",
        None,
    ]


def test_language_is_checked_against_the_subtask_language() -> None:
    korean = PlanFilters(
        language=PlanLanguage(code="ko", code_from="spec", fields=["question", "choices"])
    )
    english_question = mc(question="Which organelle carries out photosynthesis in plant cells?")
    assert reason(english_question, korean) == (
        "[lang] `question` is not written in Korean script (reads as English)"
    )
    catalan = PlanFilters(language=PlanLanguage(code="ca", code_from="spec", fields=["question"]))
    spanish = mc(question="¿Cuál es el río más largo de España y por dónde pasa?")
    assert (reason(spanish, catalan) or "").startswith("[lang] `question` reads as Spanish (0.")
    mixed = mc(
        question="CPU의 캐시 메모리가 하는 역할로 옳은 것은?",
        choices=["속도 향상", "용량 증가", "전력 감소", "발열 감소"],
        answer="속도 향상",
    )
    assert reason(mixed, korean) is None
    english_options = mc(
        question="광합성이 주로 일어나는 식물 세포 소기관은?",
        choices=["the mitochondria", "the chloroplast", "the ribosome", "the Golgi apparatus"],
        answer="the chloroplast",
    )
    assert reason(english_options, korean) == (
        "[lang] `choices` is not written in Korean script (reads as English)"
    )
    english = PlanFilters(language=PlanLanguage(code="en", code_from="spec", fields=["choices"]))
    species = mc(
        question="The most common cause of community-acquired pneumonia in adults is:",
        choices=[
            "Streptococcus pneumoniae",
            "Pseudomonas aeruginosa",
            "Klebsiella pneumoniae",
            "Legionella pneumophila",
        ],
        answer="Streptococcus pneumoniae",
    )
    assert reason(species, english) is None  # options: the script only, not the words
    short = mc(question="CPU란?", choices=["a", "b"], answer="a")  # too little to judge
    assert reason(short, korean) is None


def test_language_keeps_mixed_script_content() -> None:
    english = PlanFilters(language=PlanLanguage(code="en", code_from="spec", fields=["question"]))
    rows = [
        mc(question="What does `print(len([1, 2, 3]))` output in Python?"),
        mc(question='Who wrote "Cien años de soledad", published in 1967?'),
        mc(question=r"What is the value of $\frac{3}{4} + \frac{1}{8}$ in lowest terms?"),
        mc(question="When did Gabriel García Márquez win the Nobel Prize in Literature?"),
    ]
    assert reject_reasons(rows, english, MC) == [None] * 4
    french = PlanFilters(language=PlanLanguage(code="fr", code_from="spec", fields=["question"]))
    nli = mc(
        question="Premise: Le chat dort sur le canapé depuis ce matin.\n"
        "Hypothesis: Le chat est fatigué.\n"
        "What is the relation between the premise and the hypothesis?"
    )
    assert reason(nli, french) is None  # an English frame around French content


def test_repetition() -> None:
    rules = PlanRepetition(
        fields=["rationale"],
        min_words=20,
        duplicate_lines=0.3,
        duplicate_line_chars=0.2,
        top_ngrams=[0.2, 0.18, 0.16],
        duplicate_ngrams=[0.15, 0.14, 0.13, 0.12, 0.11, 0.1],
    )
    filters = PlanFilters(repetition=rules)
    looping = "The pancreas makes insulin. " * 6
    assert (reason(mc(rationale=looping), filters) or "").startswith(
        "[repetition] `rationale` repeats itself: 83% of its lines and sentences repeat"
    )
    good = (
        "Insulin is a hormone made by the beta cells of the pancreas. The liver stores "
        "glycogen, the kidneys filter blood and the spleen recycles red cells, so none of "
        "them releases insulin; the pancreas is the only organ in the list that does."
    )
    assert reason(mc(rationale=good), filters) is None
    assert (reason(mc(rationale="Yes. Yes. Yes."), filters) or "").endswith(
        "67% of its lines and sentences repeat (most 30%)"
    )
    # N-grams are counted from `min_words` words: one phrase twice in a short text is
    # a large share of it, and no loop.
    short = "If it rains, the road is wet. If it rains, the game is off. It rains."
    assert reason(mc(rationale=short), filters) is None


def test_question_mark_and_answer_in_context() -> None:
    """Both are switched on by the compiler only where every seed of the subtask asks
    with a question mark, or holds its answer in its context."""
    filters = PlanFilters(question_mark=True, answer_in_context=True)
    assert code(mc(question="A glass of water on a sunny windowsill is half empty."), filters) == (
        "no-question"
    )
    assert code(mc(question="小王怎么去上班？"), filters) is None
    assert code(mc(question="Ποια είναι η πρωτεύουσα της Ελλάδας;"), filters) is None
    passage = "The Eiffel Tower was finished in 1889 for the World's Fair in Paris."
    item = {"id": "s", "question": "When was the Eiffel Tower finished?", "context": passage}
    assert code({**item, "answer": "1889"}, filters, SHORT) is None
    assert code({**item, "answer": "the World’s Fair"}, filters, SHORT) is None
    assert code({**item, "answer": "1887"}, filters, SHORT) == "answer-not-in-context"
    korean = {
        "id": "k",
        "question": "서울은 어느 나라의 수도인가?",
        "context": "서울은 대한민국의 수도이다.",
    }
    assert code({**korean, "answer": "대한민국"}, filters, SHORT) is None

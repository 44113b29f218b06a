"""lm-eval's Jinja strings as mapping values, and citations from lm-eval's READMEs."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskseed.importers.lm_eval_jinja import (
    as_expression,
    labels_only,
    letter_lookup,
    looks_numeric,
    strip_scaffolding,
)
from taskseed.importers.lm_eval_readme import citation, read_readme


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{question}}", "question"),
        ("{{ choices.text }}", "choices.text"),
        ("label", "label"),
        ("{{[sol1, sol2]}}", "[sol1, sol2]"),
        ("Question: {{question}}", None),
        ("{{a}} {{b}}", None),
        ("two words", None),
    ],
)
def test_as_expression(text: str, expected: str | None) -> None:
    assert as_expression(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Question: {{question}}\nAnswer:", "{{question}}"),
        ("Q: {{context}} {{question}}\nA:", "{{context}} {{question}}"),
        ("Passage: {{p}}\nQuestion: {{q}}\nAnswer:", "Passage: {{p}}\nQuestion: {{q}}"),
        ("Pick A: {{x}}", "Pick A: {{x}}"),
        ("Question: what is it?\nAnswer:", "Question: what is it?\nAnswer:"),
    ],
)
def test_strip_scaffolding(text: str, expected: str) -> None:
    assert strip_scaffolding(text) == expected


def test_answer_kinds() -> None:
    assert letter_lookup("['A', 'B', 'C', 'D'].index(answers)") == (list("ABCD"), "answers")
    assert letter_lookup("choices.label.index(answerKey)") is None
    assert looks_numeric("(label|int) - 1") and looks_numeric("answer_right_ending-1")
    assert not looks_numeric("label")
    assert labels_only(["A", "B", "C", "D"]) and labels_only(["(A)", "(B)"])
    assert not labels_only(["no", "yes"])


def test_citation_from_bibtex() -> None:
    text = """
intro
```
@inproceedings{key2021,
    title = "{T}esting {Q}uestions: A Study",
    author = "Doe, Jane  and
      Roe, Richard",
    booktitle = "Proceedings of a Workshop",
    year = "2021",
}
```
"""
    assert (
        citation(text)
        == "Doe et al. (2021), Testing Questions: A Study. Proceedings of a Workshop."
    )
    assert citation("no entries here") is None


def test_readme_of_a_real_task(lm_eval_tasks: Path) -> None:
    readme = read_readme(lm_eval_tasks / "logiqa")
    assert readme is not None
    assert readme.title == "LogiQA"
    assert readme.citation == (
        "Liu et al. (2020), LogiQA: A Challenge Dataset for Machine Reading Comprehension "
        "with Logical Reasoning. arXiv:2007.08124."
    )

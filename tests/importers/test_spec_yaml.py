"""The spec writer: what it writes reads back as the same data, with comments and lines."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from taskseed.importers.spec_yaml import HAND, Note, Problem, hand, render, scalar, strip_notes


def load(text: str) -> Any:
    return YAML(typ="safe").load(text)


@given(st.text())
@settings(max_examples=400)
def test_any_string_reads_back_as_itself(text: str) -> None:
    assert load(f"key: {scalar(text)}\n") == {"key": text}


keys = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(keys, values, min_size=1, max_size=5))
@settings(max_examples=200)
def test_documents_read_back_as_written(document: dict[str, Any]) -> None:
    assert load(render(["a header"], [document]).text) == document


def test_notes_write_comments_and_report_problem_lines() -> None:
    problem = Problem("doc_to_text is a Python function", "lm_eval/tasks/x/x.yaml:9")
    written = render(
        ["header"],
        [
            {"task": "x"},
            {
                "mapping": {
                    "question": Note(hand("the question: see x.yaml:9"), ("explain",), problem),
                    "choices": Note(["a", "b"], ("two options",)),
                }
            },
        ],
    )
    lines = written.text.splitlines()
    assert lines[:4] == ["# header", "", "task: x", ""]
    assert lines[5:7] == ["  # explain", f'  question: "{HAND} the question: see x.yaml:9"']
    assert written.problems == [(7, problem)]
    assert load(written.text)["mapping"]["choices"] == ["a", "b"]


def test_multiline_templates_are_literal_blocks() -> None:
    text = render([], [{"question": "Premise: {{ p }}\nHypothesis: {{ h }}"}]).text
    assert text == "question: |-\n  Premise: {{ p }}\n  Hypothesis: {{ h }}\n"


def test_hand_values_never_contain_template_syntax() -> None:
    value = hand("doc_to_text {{ x }} {% if y %} # z")
    assert value == f"{HAND} doc_to_text x if y z"


def test_strip_notes_compares_values_only() -> None:
    noted = {"a": Note(1, ("one",)), "b": [Note("x")], "c": {"d": Note(None, ("gone",))}}
    assert strip_notes(noted) == {"a": 1, "b": ["x"], "c": {"d": None}}

"""lm-eval's `doc_to_*` strings as taskseed mapping values.

lm-eval reads a `doc_to_*` string as a column name when the row has that column, and
otherwise renders it as a Jinja template. taskseed's mapping values are expressions
(`choices.text`), or templates when they contain `{{`. So `{{question}}` becomes
`question`, a bare column name stays as it is, and text around `{{ }}` stays a template,
minus the prompt scaffolding lm-eval puts around the question (`Question: ... Answer:`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SINGLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LEAD_LABEL = re.compile(r"^\s*(?:Question|Q|Problem)\s*:\s*")
_ANSWER_CUE = re.compile(r"(?:\n\s*A|\s*\b(?:Answer|Solution))\s*:\s*$")
_LETTER_LIST_INDEX = re.compile(
    r"""^\[\s*((?:(['"])[A-Za-z]\2\s*,\s*)*(['"])[A-Za-z]\3)\s*,?\s*\]\.index\((.+)\)$"""
)
_NUMERIC = re.compile(r"\|\s*int\b|[-+]\s*\d+\s*$|^\d+$")
_LABEL_ONLY = re.compile(r"^\(?[A-Za-z0-9]\)?[.:]?$")


def single_expression(text: str) -> str | None:
    """`{{ expr }}` -> `expr`; None when the text is anything else."""
    match = _SINGLE.match(text)
    if match is None:
        return None
    inner = match.group(1)
    if "{{" in inner or "}}" in inner or "{%" in inner:
        return None
    return inner.strip() or None


def is_field(text: str) -> bool:
    """A bare column name, which lm-eval reads from the row."""
    return bool(_FIELD.match(text.strip()))


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def as_expression(text: str) -> str | None:
    """A `doc_to_*` string that is one expression or one column name, as an expression."""
    expr = single_expression(text)
    if expr is not None:
        return expr
    return text.strip() if is_field(text) else None


def strip_scaffolding(text: str) -> str:
    """`Question: {{q}}\\nAnswer:` -> `{{q}}`: the labels lm-eval prompts with."""
    stripped = _ANSWER_CUE.sub("", _LEAD_LABEL.sub("", text, count=1))
    return stripped if is_template(stripped) else text


def letter_lookup(expr: str) -> tuple[list[str], str] | None:
    """`['A', 'B'].index(answer)` -> (["A", "B"], "answer"): a letter answer."""
    match = _LETTER_LIST_INDEX.match(expr.strip())
    if match is None:
        return None
    letters = re.findall(r"""['"]([A-Za-z])['"]""", match.group(1))
    return letters, match.group(4).strip()


def looks_numeric(expr: str) -> bool:
    """An expression that plainly yields a number (`(label|int) - 1`, `2`)."""
    return bool(_NUMERIC.search(expr.strip()))


def is_literal_list(expr: str) -> bool:
    text = expr.strip()
    return text.startswith("[") and text.endswith("]")


def labels_only(items: Sequence[object]) -> bool:
    """`["A", "B", "C", "D"]`, `["(A)", "(B)"]`: option labels, not option texts."""
    return bool(items) and all(_LABEL_ONLY.match(str(item).strip()) for item in items)

"""The compiler's shortcuts give Jinja's own answers, on every text of the catalog.

Mapping expressions are evaluated by walking their syntax tree (`jinja_eval`) rather
than compiled, and statement-free templates get their free names without Jinja's code
generation; both must agree with Jinja exactly, errors included.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from jinja2 import Undefined, meta

from taskseed.compiler.driver import compile_paths
from taskseed.contract.jinja_env import environment
from taskseed.contract.jinja_eval import evaluator
from taskseed.contract.mapping import _jinja_compiled, classify, compile_expr
from taskseed.contract.plan import Plan
from tests.conftest import CATALOG


@pytest.fixture(scope="module")
def plan() -> Plan:
    result = compile_paths([CATALOG], root=CATALOG.parent)
    assert result.plan is not None
    return result.plan


def mapping_texts(plan: Plan) -> dict[str, set[str]]:
    """Each fixture's mapping texts: expressions and templates."""
    out: dict[str, set[str]] = {}
    for unit in plan.units:
        if unit.seeds.fixture is None:
            continue
        mapping = msgspec.structs.asdict(unit.mapping)
        texts = [v for v in mapping.values() if isinstance(v, str)]
        texts += [v for v in msgspec.structs.asdict(unit.mapping.answer).values() if v]
        texts += list(unit.mapping.metadata.values())
        if unit.seeds.where:
            texts.append(unit.seeds.where)
        out.setdefault(unit.seeds.fixture, set()).update(t for t in texts if isinstance(t, str))
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(b, Undefined):  # comparing StrictUndefined raises; compare the hints
        return isinstance(a, Undefined) and a._undefined_message == b._undefined_message
    return type(a) is type(b) and (a == b or repr(a) == repr(b))


def agree(text: str, row: dict[str, Any]) -> bool:
    """Whether the walked and the compiled forms give the same value or error."""
    expr = classify(text)
    try:
        expected: Any = _jinja_compiled(expr.body, expr.is_template)(row)
    except Exception as exc:
        with pytest.raises(type(exc), match=None) as caught:
            compile_expr(text)(row)
        return str(caught.value) == str(exc)
    return same(compile_expr(text)(row), expected)


def test_catalog_mappings_agree_with_jinja(plan: Plan) -> None:
    walked = checked = 0
    for fixture, texts in mapping_texts(plan).items():
        for text in sorted(texts):
            expr = classify(text)
            walked += evaluator(expr.body, is_template=expr.is_template) is not None
            for row in plan.fixtures[fixture].rows:
                assert agree(text, row), (fixture, text, row)
                checked += 1
    assert checked > 500
    assert walked > 0.9 * sum(len(t) for t in mapping_texts(plan).values())


ROW = {
    "a": {"b": [0, 1, 2, {"c": "deep"}], "items": 5},
    "s": "Text",
    "n": 3,
    "xs": ["p", "q", "r"],
    "opts": {"label": ["A", "B"], "text": ["yes", "no"]},
    "key": "B",
}


@pytest.mark.parametrize(
    "text",
    [
        "a.b",
        "a.b[3].c",
        "a['items']",
        "a.items",
        "missing.x",
        "missing",
        "s.upper()",
        "s.lower",
        "none",
        "true",
        "xs[1:]",
        "xs[-1]",
        "xs | join(', ')",
        "xs | map('upper') | list",
        "xs | length > 2",
        "n * 2 + 1",
        "n // 2 if n is odd else n",
        "opts.text[opts.label.index(key)]",
        "'B' in opts.label and not (n < 1)",
        "1 < n < 5",
        "s ~ '!' ~ n",
        "{'k': n, 'v': [s]}",
        "range(n) | list",
        "s.__class__",
        "[s, n]",
        "{{ s }} and {{ n }}",
        "Q: {{ s | lower }}\nA: {{ xs[0] }}",
        "{{ missing }} text",
        "{% if n %}{{ s }}{% endif %}",
        "xs.pop()",
    ],
)
def test_walker_agrees_with_jinja(text: str) -> None:
    assert agree(text, ROW)


def test_free_names_agree_with_jinja(plan: Plan) -> None:
    from taskseed.compiler.templates import _analyse

    texts = [t.text for t in plan.templates.values()]
    for texts_of_fixture in mapping_texts(plan).values():
        for text in texts_of_fixture:
            expr = classify(text)
            texts.append(expr.body if expr.is_template else "{{ " + expr.body + " }}")
    texts += ["{% set x = 1 %}{{ x }}{{ y }}", "{% for c in cs %}{{ c }}{% endfor %}{{ c }}"]
    for text in set(texts):
        expected = sorted(meta.find_undeclared_variables(environment().parse(text)))
        assert [name for name, _ in _analyse(text).free] == expected, text

"""Jinja's budgets: each attack stops at once, with its own kind, in templates (as the
runtime renders them), in expressions compiled by Jinja and in the syntax-tree
evaluator; everything else renders as before."""

from __future__ import annotations

import time
from typing import Any

import pytest
from jinja2 import TemplateError

from taskseed.contract.jinja_budget import (
    BudgetExceeded,
    Budgets,
    RenderError,
    repeat_weight,
    use_budgets,
)
from taskseed.contract.jinja_env import environment, expression
from taskseed.contract.jinja_eval import evaluator
from taskseed.contract.mapping import MappingError, compile_expr, normalize
from taskseed.contract.plan import PlanAnswer, PlanFormat, PlanMapping

ROW = {"q": "What is two plus two?", "a": "4", "n": 3, "words": ["x", "y"]}

# (template, the budget it runs out of)
ATTACKS = [
    ("{{ 'a' * 10**10 }}", "size"),
    ("{{ [1] * 10**9 }}", "size"),
    ("{{ range(10**10) | list }}", "size"),
    ("{{ 'a' | center(10**10) }}", "size"),
    ("{{ ('x\n' * 1000) | indent(10**6) }}", "size"),
    ("{{ q.replace('', 'x' * 100000) * 2 }}", "size"),
    ("{{ (['x' * 100000] * 100000) | join }}", "size"),
    ("{{ '%0999999999d' % 1 }}", "size"),
    ("{{ '{:>999999999}'.format(1) }}", "size"),
    ("{{ 9 ** (9 ** 9) }}", "integer"),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "iterations",
    ),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "size",
    ),
    ("{% set s = 'ab' %}" + "{% set s = s ~ s %}" * 40, "size"),
    ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion"),
    ("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}", "recursion"),
    ("{{ q | regex_search('(?:a{1000}){1000}') }}", "regex"),
    ("{% for i in range(30) %}{{ 'y' * 1000000 }}{% endfor %}", "size"),
]


@pytest.mark.parametrize(("source", "kind"), ATTACKS, ids=[a[0][:40] for a in ATTACKS])
def test_each_attack_stops_at_once_with_its_budget(source: str, kind: str) -> None:
    start = time.perf_counter()
    with pytest.raises(BudgetExceeded) as caught:
        environment().from_string(source).render(ROW)
    assert caught.value.kind == kind, caught.value
    assert isinstance(caught.value, TemplateError)
    assert time.perf_counter() - start < 5


def test_a_catastrophic_regular_expression_stops_within_the_time_budget() -> None:
    template = environment().from_string("{{ text | regex_search('(a|a)+$') }}")
    with use_budgets(Budgets(seconds=0.3)):
        start = time.process_time()
        with pytest.raises(BudgetExceeded) as caught:
            template.render(text="a" * 40 + "!")
    assert caught.value.kind == "regex"
    assert time.process_time() - start < 3


def test_time_budget_of_a_slow_render() -> None:
    slow = "{% for i in range(90000) %}{{ (i|string)|reverse|join|int }}{% endfor %}"
    with use_budgets(Budgets(seconds=0.05)), pytest.raises(BudgetExceeded) as caught:
        environment().from_string(slow).render()
    assert caught.value.kind == "time"


def test_other_render_errors_are_template_errors() -> None:
    with pytest.raises(RenderError, match="ZeroDivisionError"):
        environment().from_string("{{ 1 / 0 }}").render()
    with pytest.raises(TemplateError):
        environment().from_string("{{ ().__class__ }}").render()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("'a' * 10**10", "size"),
        ("9 ** (9 ** 9)", "integer"),
        ("q | center(10**10)", "size"),
        ("(q ~ q) * 10**9", "size"),
        ("range(10**10) | list", "size"),
        ("q | regex_replace('(?:a{1000}){1000}', '')", "regex"),
    ],
)
def test_expressions_spend_the_same_budgets_walked_or_compiled(text: str, kind: str) -> None:
    walked = evaluator(text, is_template=False)
    assert walked is not None
    for fn in (walked, expression(text), compile_expr(text)):
        with pytest.raises(BudgetExceeded) as caught:
            fn(ROW)
        assert caught.value.kind == kind


def test_a_mapping_that_runs_out_of_budget_is_a_mapping_error() -> None:
    mapping = PlanMapping(question="q * 10**10", answer=PlanAnswer(given_as="text", value="a"))
    fmt = PlanFormat(type="short_answer")
    with pytest.raises(MappingError) as caught:
        normalize(ROW, mapping, fmt, "t", "s")
    assert caught.value.field == "question" and caught.value.budget == "size"


def test_ordinary_templates_render_as_before() -> None:
    source = (
        "{{ q | upper }} {{ n ** 2 }} {{ words | join(', ') }} {{ '%03d' % n }} "
        "{{ '{:>4}'.format(a) }} {{ q | regex_replace('two', '2') }} "
        "{% for w in words %}[{{ loop.index }}:{{ w }}]{% endfor %} {{ q ~ '!' }} "
        "{{ range(3) | list }} {{ q | center(30) | length }}"
    )
    out = environment().from_string(source).render(ROW)
    assert out == (
        "WHAT IS TWO PLUS TWO? 9 x, y 003    4 What is 2 plus 2? [1:x][2:y] "
        "What is two plus two?! [0, 1, 2] 30"
    )


def test_regex_filters_behave_as_re() -> None:
    env = environment()
    rows: dict[str, Any] = {"t": "a1 b22 c333"}
    assert env.from_string("{{ t | regex_findall('[a-z](\\\\d+)') }}").render(rows) == (
        "['1', '22', '333']"
    )
    assert env.from_string("{{ t | regex_findall('([a-z])(\\\\d)') }}").render(rows) == (
        "[('a', '1'), ('b', '2'), ('c', '3')]"
    )
    assert (
        env.from_string("{{ t | regex_replace('(\\\\w)(\\\\d)', '\\\\2\\\\1') }}").render(rows)
        == "1a 2b2 3c33"
    )
    assert env.from_string("{{ t | regex_search('b(\\\\d+)', 1) }}").render(rows) == "22"


def test_repeat_weight() -> None:
    assert repeat_weight("abc") == 3
    assert repeat_weight("a{1000}") == 1000
    assert repeat_weight("(?:a{1000}){1000}") >= 1_000_000
    assert repeat_weight("a{1,1000000}") == 1  # a range is not unrolled past its minimum
    assert repeat_weight("[{]{5}") == 5
    assert repeat_weight(r"\{9999\}") < 10

"""Native row -> unified seed record, by a unit's mapping.

Shared by the compiler (which runs every fixture row through its mapping) and the
runtime's normalize stage. A mapping value is a Jinja expression over the row
(`choices.text`), a single `{{ expression }}`, or a template with text around its
`{{ }}` parts, rendered to a string. Literal lists stay literal.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec
from jinja2 import TemplateError, Undefined

from taskseed.contract import hooks
from taskseed.contract.jinja_budget import BudgetExceeded
from taskseed.contract.jinja_env import environment, expression, option_labels
from taskseed.contract.jinja_eval import evaluator
from taskseed.contract.plan import PlanFormat, PlanMapping
from taskseed.contract.records import SeedRecord

_SINGLE_EXPR = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)


class MappingError(Exception):
    """A row that does not map; `field` names the mapping field that failed, and
    `budget` the budget that ran out when that was the cause (`jinja_budget.Kind`)."""

    def __init__(self, field: str, reason: str, budget: str | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.budget = budget


@dataclass(frozen=True, slots=True)
class Expr:
    source: str
    is_template: bool  # renders to a string; otherwise returns a native value
    body: str  # the expression text, or the template text


def classify(text: str) -> Expr:
    single = _SINGLE_EXPR.match(text)
    if single and "{{" not in single.group(1) and "}}" not in single.group(1):
        return Expr(text, False, single.group(1).strip())
    if "{{" in text or "{%" in text:
        return Expr(text, True, text)
    return Expr(text, False, text.strip())


@lru_cache(maxsize=4096)
def compile_expr(text: str) -> Callable[[dict[str, Any]], Any]:
    """A callable over a row; raises jinja2.TemplateSyntaxError on bad syntax.

    Expressions are evaluated by walking their syntax tree (`jinja_eval`), which gives
    Jinja's results without the cost of compiling each one; what that walker does not
    cover is compiled by Jinja. A hook reference (`hook:file.py:function`) calls that
    Python function instead, if this process trusts it (`contract/hooks.py`).
    """
    if hooks.parse_reference(text) is not None:
        return lambda row: hooks.GATE.call(text, row)
    expr = classify(text)
    walked = evaluator(expr.body, is_template=expr.is_template)
    if walked is not None:
        return walked
    return _jinja_compiled(expr.body, expr.is_template)


@lru_cache(maxsize=4096)
def _jinja_compiled(body: str, is_template: bool) -> Callable[[dict[str, Any]], Any]:
    """The same callable, compiled by Jinja (also the reference the tests compare with)."""
    if is_template:
        template = environment().from_string(body)
        return lambda row: template.render(row)
    return expression(body)


def _evaluate(field: str, text: str, row: dict[str, Any]) -> Any:
    try:
        value = compile_expr(text)(row)
    except BudgetExceeded as exc:
        raise MappingError(field, f"{type(exc).__name__}: {exc}", exc.kind) from None
    except TemplateError as exc:
        raise MappingError(field, f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # arithmetic or indexing inside the expression
        raise MappingError(field, f"{type(exc).__name__}: {exc}") from None
    if isinstance(value, Undefined):
        raise MappingError(field, f"`{text}` is undefined for this row")
    return value


def _text(field: str, value: Any, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise MappingError(field, "empty")
        return None
    if isinstance(value, bool | int | float | str):
        return str(value)
    raise MappingError(field, f"expected text, got {type(value).__name__}")


def _text_list(field: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise MappingError(field, f"expected a list, got {type(value).__name__}")
    out = []
    for item in value:
        if item is None or isinstance(item, dict | list):
            raise MappingError(field, f"list item {item!r} is not text")
        out.append(str(item))
    return out


def _index(value: Any, count: int) -> int:
    if isinstance(value, bool):
        raise MappingError("answer.index", f"expected an integer, got {value!r}")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise MappingError("answer.index", f"expected an integer, got {value!r}")
    if not 0 <= value < count:
        raise MappingError("answer.index", f"index {value} is outside the {count} choices")
    return value


def row_id(row: dict[str, Any]) -> str:
    encoded = msgspec.json.encode(row, order="deterministic")
    return hashlib.sha256(encoded).hexdigest()[:16]


def normalize(
    row: dict[str, Any], mapping: PlanMapping, fmt: PlanFormat, task: str, subtask: str
) -> SeedRecord:
    """Map one native row to a seed record, or raise MappingError saying why not."""
    question = _text("question", _evaluate("question", mapping.question, row), required=True)
    assert question is not None
    context = None
    if mapping.context is not None:
        context = _text("context", _evaluate("context", mapping.context, row), required=False)

    choices: list[str] | None = None
    if isinstance(mapping.choices, list):
        choices = list(mapping.choices)
    elif mapping.choices is not None:
        choices = _text_list("choices", _evaluate("choices", mapping.choices, row))
        if not choices:
            raise MappingError("choices", "no choices")

    spec = mapping.answer
    index: int | None = None
    label: str | None = None
    raw = _evaluate(f"answer.{spec.given_as}", spec.value, row)
    if spec.given_as == "text":
        answer = _text("answer.text", raw, required=True)
        assert answer is not None
        if choices is not None and answer in choices:
            index = choices.index(answer)
    else:
        if choices is None:
            raise MappingError(f"answer.{spec.given_as}", "needs `choices`")
        if spec.given_as == "index":
            index = _index(raw, len(choices))
        else:
            labels = _labels(spec.labels, row, len(choices), fmt.labels)
            index = _label_index(str(raw), labels)
        answer = choices[index]
    if index is not None and choices is not None:
        label = option_labels(len(choices), fmt.labels)[index]

    aliases: list[str] = []
    if spec.aliases is not None:
        aliases = _text_list("answer.aliases", _evaluate("answer.aliases", spec.aliases, row))
    rationale = None
    if mapping.rationale is not None:
        rationale = _text(
            "rationale", _evaluate("rationale", mapping.rationale, row), required=False
        )
    tests = None
    if mapping.tests is not None:
        tests = _text_list("tests", _evaluate("tests", mapping.tests, row))
    if mapping.id is not None:
        native = _text("id", _evaluate("id", mapping.id, row), required=True)
        assert native is not None
        record_id = native
    else:
        record_id = row_id(row)
    metadata = {
        name: _plain(_evaluate(f"metadata.{name}", text, row))
        for name, text in mapping.metadata.items()
    }
    return SeedRecord(
        id=record_id,
        task=task,
        subtask=subtask,
        question=question,
        context=context,
        choices=choices,
        answer=answer,
        answer_index=index,
        answer_label=label,
        answer_source=spec.given_as,
        answer_aliases=aliases,
        rationale=rationale,
        tests=tests,
        metadata=metadata,
    )


def _labels(spec: str | list[str] | None, row: dict[str, Any], count: int, style: str) -> list[str]:
    if spec is None:
        return option_labels(count, style)
    if isinstance(spec, list):
        return spec
    return _text_list("answer.labels", _evaluate("answer.labels", spec, row))


def _label_index(label: str, labels: list[str]) -> int:
    if label in labels:
        return labels.index(label)
    folded = [item.strip().lower() for item in labels]
    key = label.strip().lower().rstrip(".)")
    if key in folded:
        return folded.index(key)
    raise MappingError("answer.label", f"label {label!r} is not among {labels}")


def _plain(value: Any) -> Any:
    """Metadata values as JSON-friendly data."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)

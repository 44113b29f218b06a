"""Symbolic values for reading small Python functions as Jinja expressions.

`py_eval` runs a hook's syntax tree over these values instead of real data: a row field
is an `Expr` naming the field, a literal stays a `Const` (so that lookups in constant
tables and loops over constant lists are worked out at import time), text built with
`+`, f-strings or `str.format` is a `Concat` of parts, a list of known length is a
`Seq`, a dict literal is a `Table`, the row itself is a `Row`. `render` writes any of
them as a Jinja expression; `template` writes text as a template with `{{ }}` parts.

What cannot be expressed is a `Failed` value, not an exception: a function may compute
things that no mapping reads (a `few_shot` flag, a debug print), and only a value that
is actually rendered makes the translation fail.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["str", "int", "float", "bool", "list", "dict", "any"]

# Names Jinja reads as literals or operators, which a row field cannot be written as.
JINJA_RESERVED = frozenset(
    {"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if"}
    | {"else", "recursive", "loop", "self", "super", "varargs", "kwargs", "caller"}
)
# Globals of the sandboxed environment: a field of that name would be shadowed by them.
JINJA_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace"})
# Attribute names that read a method of a dict rather than its key.
DICT_METHODS = frozenset(dir(dict))
_IDENT = re.compile(r"^[^\d\W]\w*$")


class Untranslatable(Exception):
    """A value that has no Jinja expression: says why, in a few words."""


class Symbolic:
    """What the walker computes with: one of the value types below (or a function)."""

    __slots__ = ()


@dataclass(frozen=True)
class Failed(Symbolic):
    reason: str


@dataclass(frozen=True)
class Const(Symbolic):
    """A value known at import time: str, int, float, bool, None, or lists, tuples and
    dicts of those."""

    value: Any


# How tightly an expression holds together, for parenthesising it as an operand: a
# primary (name, literal, item read, call) takes `.x`, `[i]` and `(...)` after it; a
# filtered one (`x|int`) is a whole operand of `+` or `==`, but `x|list[0]` would not
# parse; a compound (`a ~ b`, `a == b`) needs parentheses inside another operator.
PRIMARY, FILTERED, COMPOUND, CONDITIONAL = 3, 2, 1, 0


@dataclass(frozen=True)
class Expr(Symbolic):
    """Jinja expression text, how tightly it holds together, and what it gives."""

    text: str
    prec: int = PRIMARY
    kind: Kind = "any"
    # For `a + b` of values whose kind is unknown: the operands, which are the parts of
    # a text when the sum is read as text (a choice, a prompt).
    terms: tuple[Value, ...] = ()


@dataclass(frozen=True)
class Concat(Symbolic):
    """Text joined from parts (literal text and other values)."""

    parts: tuple[Value, ...]


@dataclass(frozen=True)
class Seq(Symbolic):
    """A list (or tuple) of known length."""

    items: tuple[Value, ...]


@dataclass(frozen=True)
class Table(Symbolic):
    """A dict literal whose keys are constants."""

    items: tuple[tuple[Any, Value], ...]

    def get(self, key: Any) -> Value | None:
        for name, value in self.items:
            if name == key:
                return value
        return None

    def set(self, key: Any, value: Value) -> Table:
        kept = tuple((k, v) for k, v in self.items if k != key)
        return Table((*kept, (key, value)))


@dataclass(frozen=True)
class Row(Symbolic):
    """The dataset row a hook reads (`doc`): its own fields, plus the fields a
    `process_docs` step wrote or replaced (`written`)."""

    written: tuple[tuple[str, Value], ...] = ()

    def read(self, name: str) -> Value:
        for key, value in reversed(self.written):
            if key == name:
                return value
        return field_expr(name)

    def write(self, name: str, value: Value) -> Row:
        return Row((*((k, v) for k, v in self.written if k != name), (name, value)))

    def overlay(self, other: Row | Table) -> Row:
        """The row after `datasets.Dataset.map`: returned keys replace or add fields."""
        result = self
        for key, value in other.written if isinstance(other, Row) else other.items:
            if isinstance(key, str):
                result = result.write(key, value)
        return result

    @property
    def fields(self) -> dict[str, Value]:
        return dict(self.written)


@dataclass(frozen=True)
class Nested(Symbolic):
    """A row field some items of which were rewritten in place
    (`doc["summaries"]["abstractive"]["a1"] = ...`): reading a rewritten item gives its
    new value, reading any other item reads the field."""

    base: Value
    writes: tuple[tuple[tuple[Any, ...], Value], ...]

    def under(self, key: Any) -> tuple[tuple[tuple[Any, ...], Value], ...]:
        return tuple((path[1:], value) for path, value in self.writes if path[0] == key)

    def write(self, path: tuple[Any, ...], value: Value) -> Nested:
        kept = tuple((p, v) for p, v in self.writes if p != path)
        return Nested(self.base, (*kept, (path, value)))


@dataclass(frozen=True)
class Match(Symbolic):
    """`re.search(pattern, text)`: usable through `.group(n)` and `is None` tests."""

    pattern: str
    text: Value


@dataclass(frozen=True)
class Rows(Symbolic):
    """A `datasets.Dataset` inside `process_docs`: the row each example becomes and the
    conditions (`filter`) it must meet, in order."""

    row: Row = field(default_factory=Row)
    keep: tuple[Value, ...] = ()


Value = Symbolic


def field_expr(name: str) -> Value:
    """A row field read by name, or Failed when Jinja cannot name it."""
    if not _IDENT.match(name) or keyword.iskeyword(name) or name in JINJA_RESERVED:
        return Failed(f"the field name {name!r} is not a Jinja name")
    if name in JINJA_GLOBALS:
        return Failed(f"the field name {name!r} is a Jinja global")
    return Expr(name, PRIMARY, "any")


def consts(values: Iterable[Value]) -> list[Any] | None:
    """The Python values of constants; None when any value is not a constant."""
    out = []
    for value in values:
        if not isinstance(value, Const):
            return None
        out.append(value.value)
    return out


def kind_of(value: Value) -> Kind:
    if isinstance(value, Const):
        return _const_kind(value.value)
    if isinstance(value, Expr):
        return value.kind
    if isinstance(value, Concat):
        return "str"
    if isinstance(value, Seq):
        return "list"
    if isinstance(value, Table):
        return "dict"
    return "any"


def _const_kind(value: Any) -> Kind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "str"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "any"


def is_text(value: Value) -> bool:
    return kind_of(value) == "str"


# ------------------------------------------------------------------ rendering


def literal(value: Any) -> str:
    """A constant as a Jinja literal."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise Untranslatable(f"a constant of type {type(value).__name__}")


def _string(text: str) -> str:
    """A Jinja string literal. `{{`, `{%` and `{#` are split so that the expression is
    never mistaken for a template."""
    quoted = repr(text)
    for opener in ("{{", "{%", "{#"):
        quote = quoted[0]
        quoted = quoted.replace(opener, f"{opener[0]}{quote} ~ {quote}{opener[1]}")
    return quoted if "~" not in quoted else f"({quoted})"


def render(value: Value) -> Expr:
    """The Jinja expression of a value; raises Untranslatable."""
    if isinstance(value, Failed):
        raise Untranslatable(value.reason)
    if isinstance(value, Expr):
        return value
    if isinstance(value, Const):
        text = literal(value.value)
        prec = COMPOUND if text.startswith("(") else PRIMARY
        return Expr(text, prec, _const_kind(value.value))
    if isinstance(value, Concat):
        parts = merge_text(value.parts)
        if not parts:
            return Expr("''", PRIMARY, "str")
        if len(parts) == 1:
            only = render(parts[0])
            if only.kind == "str":
                return only
            return Expr(f"{wrap(only)}|string", FILTERED, "str")
        return Expr(" ~ ".join(wrap(render(p)) for p in parts), COMPOUND, "str")
    if isinstance(value, Seq):
        return Expr("[" + ", ".join(render(v).text for v in value.items) + "]", PRIMARY, "list")
    if isinstance(value, Table):
        items = ", ".join(f"{literal(k)}: {render(v).text}" for k, v in value.items)
        return Expr("{" + items + "}", PRIMARY, "dict")
    if isinstance(value, Match):
        raise Untranslatable("a regular-expression match object")
    if isinstance(value, Nested):
        raise Untranslatable("a field that was rewritten in part")
    if isinstance(value, Row | Rows):
        raise Untranslatable("the whole row")
    raise Untranslatable(f"a {type(value).__name__}")


def wrap(expr: Expr, need: int = FILTERED) -> str:
    """The expression as an operand that must hold together at least as tightly as
    `need`: parenthesised when it does not."""
    return expr.text if expr.prec >= need else f"({expr.text})"


def text_parts(value: Value) -> list[Value]:
    """A value read as text, as parts: a Concat's, or the operands of `a + b`."""
    if isinstance(value, Concat):
        return merge_text(value.parts)
    if isinstance(value, Expr) and value.terms:
        return merge_text(value.terms)
    return [value]


def merge_text(parts: Iterable[Value]) -> list[Value]:
    """Flatten nested Concats (and sums) and join adjacent constant text."""
    out: list[Value] = []
    for part in parts:
        items = text_parts(part) if isinstance(part, Concat | Expr) else [part]
        for item in items:
            if isinstance(item, Const) and isinstance(item.value, str):
                if not item.value:
                    continue
                if out and isinstance(out[-1], Const) and isinstance(out[-1].value, str):
                    out[-1] = Const(out[-1].value + item.value)
                    continue
            out.append(item)
    return out


def template(value: Value) -> str:
    """Text as a Jinja template: literal parts as they are, the rest in `{{ }}`."""
    if isinstance(value, Failed):
        raise Untranslatable(value.reason)
    parts = merge_text(value.parts) if isinstance(value, Concat) else [value]
    out = []
    for part in parts:
        if isinstance(part, Const) and isinstance(part.value, str):
            out.append(_template_text(part.value))
        else:
            out.append("{{ " + render(part).text + " }}")
    return "".join(out)


def _template_text(text: str) -> str:
    """Literal template text; Jinja's own delimiters are written as expressions."""
    return re.sub(r"\{[{%#]|[}%#]\}", lambda m: "{{ " + repr(m.group(0)) + " }}", text)

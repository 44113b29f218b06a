"""Operations on symbolic values that need no walker: constant folding, text joining,
`str.format`, truth tests, and the tables of what has a Jinja equivalent."""

from __future__ import annotations

import ast
import string
from collections.abc import Callable
from typing import Any

from taskseed.importers.py_values import (
    COMPOUND,
    FILTERED,
    Concat,
    Const,
    Expr,
    Failed,
    Kind,
    Match,
    Nested,
    Row,
    Seq,
    Table,
    Untranslatable,
    Value,
    kind_of,
    literal,
    render,
    wrap,
)

# str methods with the same meaning as Jinja method calls in the sandbox, and the kind
# of value they return.
STR_METHODS: dict[str, Kind] = {
    "strip": "str",
    "lstrip": "str",
    "rstrip": "str",
    "lower": "str",
    "upper": "str",
    "capitalize": "str",
    "title": "str",
    "casefold": "str",
    "replace": "str",
    "zfill": "str",
    "removeprefix": "str",
    "removesuffix": "str",
    "split": "list",
    "rsplit": "list",
    "splitlines": "list",
    "join": "str",
    "startswith": "bool",
    "endswith": "bool",
    "isdigit": "bool",
    "isalpha": "bool",
    "isnumeric": "bool",
    "isspace": "bool",
    "index": "int",
    "find": "int",
    "count": "int",
}
LIST_METHODS: dict[str, Kind] = {"index": "int", "count": "int"}
RE_FLAGS = {"IGNORECASE": "i", "I": "i", "MULTILINE": "m", "M": "m", "DOTALL": "s", "S": "s"}
FOLDABLE: dict[str, Callable[..., Any]] = {
    "len": len,
    "int": int,
    "str": str,
    "float": float,
    "bool": bool,
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "range": lambda *a: list(range(*a)),
}
# Builtins with a Jinja filter of the same meaning on the values hooks give them.
FILTERS: dict[str, tuple[str, Kind]] = {
    "len": ("length", "int"),
    "int": ("int", "int"),
    "str": ("string", "str"),
    "float": ("float", "float"),
    "abs": ("abs", "any"),
}


def foldable(owner: Value, method: str) -> bool:
    """A method of a constant that can be called at import time (no side effects)."""
    if not isinstance(owner, Const):
        return False
    if isinstance(owner.value, str):
        return method in STR_METHODS
    return isinstance(owner.value, list | tuple) and method in LIST_METHODS


def is_flags(value: Value) -> bool:
    """A `re` flag, which the walker holds as its inline letter (`i` for IGNORECASE)."""
    return (
        isinstance(value, Const)
        and isinstance(value.value, str)
        and bool(value.value)
        and set(value.value) <= set(RE_FLAGS.values())
    )


def truth(value: Value) -> Value:
    """A value tested for truth: a regex match is true when the pattern is found."""
    if isinstance(value, Match):
        try:
            text = wrap(render(value.text))
        except Untranslatable as exc:
            return Failed(str(exc))
        test = f"{text}|regex_search({literal(value.pattern)}) is not none"
        return Expr(test, COMPOUND, "bool")
    return value


def has_field(row: Row, key: Value, negate: bool) -> Value:
    """`"answer" in doc`: whether the row has the field."""
    if not isinstance(key, Const) or not isinstance(key.value, str):
        return Failed("a field test chosen at run time")
    if key.value in row.fields:
        return Const(not negate)
    name = row.read(key.value)
    if isinstance(name, Failed):
        return name
    return Expr(f"{render(name).text} is {'not ' if negate else ''}defined", COMPOUND, "bool")


def concat(parts: list[Value]) -> Value:
    for part in parts:
        if isinstance(part, Failed):
            return part
    if all(isinstance(p, Const) for p in parts):
        try:
            return Const("".join(str(p.value) for p in parts if isinstance(p, Const)))
        except TypeError:
            return Failed("text joined with something else")
    return Concat(tuple(parts))


def format_text(text: str, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """`"{} and {}".format(a, b)` as a Concat."""
    parts: list[Value] = []
    auto = 0
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return Failed("a malformed format string")
    for literal_text, name, spec, conversion in parsed:
        parts.append(Const(literal_text))
        if name is None:
            continue
        if spec or conversion not in (None, "s"):
            return Failed("a format field with a spec")
        if name == "":
            if auto >= len(args):
                return Failed("a format string with too few arguments")
            parts.append(args[auto])
            auto += 1
        elif name.isdigit() and int(name) < len(args):
            parts.append(args[int(name)])
        elif name in kwargs:
            parts.append(kwargs[name])
        else:
            return Failed("a format field the walker cannot read")
    return concat(parts)


def derive(
    build: Callable[[Expr], str], value: Value, *, kind: Kind = "any", prec: int = FILTERED
) -> Value:
    """An expression built from one value; Failed when the value has none."""
    try:
        return Expr(build(render(value)), prec, kind)
    except Untranslatable as exc:
        return Failed(str(exc))


def derive_all(build: Callable[[list[Expr]], str], values: list[Value]) -> Value:
    try:
        return Expr(build([render(v) for v in values]), FILTERED, "any")
    except Untranslatable as exc:
        return Failed(str(exc))


def fold(op: ast.operator, a: Any, b: Any) -> Any:
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    if isinstance(op, ast.Mult):
        return a * b
    if isinstance(op, ast.Div):
        return a / b
    if isinstance(op, ast.FloorDiv):
        return a // b
    if isinstance(op, ast.Mod):
        return a % b
    if isinstance(op, ast.Pow):
        return a**b
    raise TypeError(type(op).__name__)


def unary(op: ast.unaryop, a: Any) -> Any:
    if isinstance(op, ast.Not):
        return not a
    if isinstance(op, ast.USub):
        return -a
    if isinstance(op, ast.UAdd):
        return +a
    raise TypeError(type(op).__name__)


def compare(op: ast.cmpop, a: Any, b: Any) -> Any:
    table: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
        ast.Eq: lambda x, y: x == y,
        ast.NotEq: lambda x, y: x != y,
        ast.Lt: lambda x, y: x < y,
        ast.LtE: lambda x, y: x <= y,
        ast.Gt: lambda x, y: x > y,
        ast.GtE: lambda x, y: x >= y,
        ast.In: lambda x, y: x in y,
        ast.NotIn: lambda x, y: x not in y,
        ast.Is: lambda x, y: x is None and y is None,
        ast.IsNot: lambda x, y: not (x is None and y is None),
    }
    return table[type(op)](a, b)


def rewrite(current: Value, keys: tuple[Any, ...], value: Value) -> Value:
    """`current` with the item at `keys` replaced by `value`."""
    if not keys:
        return value
    if isinstance(current, Table):
        inner = current.get(keys[0])
        return current.set(
            keys[0],
            rewrite(inner if inner is not None else Failed("a missing key"), keys[1:], value),
        )
    if isinstance(current, Nested):
        return current.write(keys, value)
    return Nested(current, ((keys, value),))


def items_kind(owner: Value) -> Kind:
    """What an item of a constant table or list is, when all its items are alike."""
    if not isinstance(owner, Const) or not isinstance(owner.value, list | tuple | dict):
        return "any"
    values = list(owner.value.values() if isinstance(owner.value, dict) else owner.value)
    kinds = {kind_of(Const(v)) for v in values}
    return kinds.pop() if len(kinds) == 1 else "any"


def sequence_of(items: list[Value]) -> Value:
    if all(isinstance(i, Const) for i in items):
        return Const([i.value for i in items if isinstance(i, Const)])
    return Seq(tuple(items))

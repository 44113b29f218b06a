"""What a hook walker does with calls: methods of values, `Dataset.map` and `.filter`,
the builtins and `re` functions it knows. Each takes the walker that met the call."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from taskseed.importers.py_module import MAX_UNROLL, Env, Func
from taskseed.importers.py_ops import (
    FILTERS,
    FOLDABLE,
    LIST_METHODS,
    STR_METHODS,
    concat,
    derive,
    derive_all,
    foldable,
    format_text,
    truth,
)
from taskseed.importers.py_values import (
    DICT_METHODS,
    FILTERED,
    PRIMARY,
    Const,
    Expr,
    Failed,
    Match,
    Row,
    Rows,
    Seq,
    Table,
    Untranslatable,
    Value,
    consts,
    kind_of,
    literal,
    render,
    wrap,
)

if TYPE_CHECKING:
    from taskseed.importers.py_eval import Walker

BUILTINS = frozenset(
    {
        *FOLDABLE,
        "sorted",
        "list",
        "set",
        "tuple",
        "zip",
        "enumerate",
        "range",
        "partial",
        "re.sub",
        "re.findall",
        "re.search",
        "re.match",
        "re.fullmatch",
        "itertools.product",
        "functools.partial",
        "getattr",
    }
)
KNOWN_IMPORTS = {
    "functools.partial": "partial",
    "itertools.product": "itertools.product",
    "re.sub": "re.sub",
}


def method(
    walker: Walker,
    owner: Value,
    name: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    env: Env,
) -> Value:
    if isinstance(owner, Failed):
        return owner
    for value in [*args, *kwargs.values()]:
        if isinstance(value, Failed):
            return value
    if isinstance(owner, Rows):
        return dataset(walker, owner, name, args, kwargs)
    if isinstance(owner, Row):
        return row_method(walker, owner, name, args)
    if isinstance(owner, Match):
        return match_method(walker, owner, name, args)
    if isinstance(owner, Const | Table) and name in ("items", "keys", "values"):
        table = owner.value if isinstance(owner, Const) else dict(owner.items)
        if not isinstance(table, dict) or args:
            return Failed(f"`.{name}()` of something that is not a dict")
        pairs = list(table.items())
        if name == "keys":
            return Seq(tuple(Const(k) for k, _ in pairs))
        if name == "values":
            return Seq(tuple(v if not isinstance(owner, Const) else Const(v) for _, v in pairs))
        return Seq(
            tuple(
                Seq((Const(k), v if not isinstance(owner, Const) else Const(v))) for k, v in pairs
            )
        )
    if isinstance(owner, Const) and isinstance(owner.value, str) and name == "format":
        return format_text(owner.value, args, kwargs)
    if isinstance(owner, Const) and isinstance(owner.value, str) and name == "join":
        items = walker.iterate(args[0]) if len(args) == 1 else Failed("`join` with options")
        if not isinstance(items, Failed):
            parts: list[Value] = []
            for index, item in enumerate(items):
                parts.extend([Const(owner.value)] * bool(index) + [item])
            return concat(parts)
    known = consts(args)
    if isinstance(owner, Const) and foldable(owner, name) and known is not None and not kwargs:
        try:
            return Const(getattr(owner.value, name)(*known))
        except Exception:
            return Failed(f"a constant `.{name}()` that fails")
    if name == "get" and isinstance(owner, Table | Const) and args:
        key = args[0]
        default = args[1] if len(args) > 1 else Const(None)
        if isinstance(key, Const):
            found = walker.item(owner, key)
            return default if isinstance(found, Failed) else found
    kinds = STR_METHODS if kind_of(owner) != "list" else LIST_METHODS
    if name not in kinds and not (name in LIST_METHODS and kind_of(owner) == "any"):
        return Failed(f"the method `.{name}()`")
    if kwargs:
        return Failed(f"`.{name}()` with keyword arguments")
    try:
        base = render(owner)
        rendered = [render(a).text for a in args]
    except Untranslatable as exc:
        return Failed(str(exc))
    kind = kinds.get(name, LIST_METHODS.get(name, "any"))
    return Expr(f"{wrap(base, PRIMARY)}.{name}({', '.join(rendered)})", PRIMARY, kind)


def row_method(walker: Walker, row: Row, name: str, args: list[Value]) -> Value:
    if name == "get" and args and isinstance(args[0], Const) and isinstance(args[0].value, str):
        value = row.read(args[0].value)
        default = args[1] if len(args) > 1 else Const(None)
        if args[0].value in row.fields:
            return value
        try:
            fallback = render(default).text
            return Expr(f"{wrap(render(value))}|default({fallback})", FILTERED, "any")
        except Untranslatable as exc:
            return Failed(str(exc))
    return Failed(f"the row method `.{name}()`")


def match_method(walker: Walker, match: Match, name: str, args: list[Value]) -> Value:
    if name == "group" and len(args) <= 1:
        group = args[0] if args else Const(0)
        if not isinstance(group, Const):
            return Failed("a match group chosen at run time")
        try:
            text = render(match.text)
        except Untranslatable as exc:
            return Failed(str(exc))
        call = f"regex_search({literal(match.pattern)}, {literal(group.value)})"
        return Expr(f"{wrap(text)}|{call}", FILTERED, "str")
    return Failed(f"the match method `.{name}()`")


def dataset(
    walker: Walker, rows: Rows, name: str, args: list[Value], kwargs: dict[str, Value]
) -> Value:
    if kwargs or len(args) != 1:
        return Failed(f"`Dataset.{name}` with options")
    if name == "map":
        result = walker.call(args[0], [rows.row], {})
        if isinstance(result, Row | Table):
            return Rows(rows.row.overlay(result), rows.keep)
        if isinstance(result, Failed):
            return result
        return Failed("a `map` function that does not return a row")
    if name == "filter":
        test = truth(walker.call(args[0], [rows.row], {}))
        if isinstance(test, Expr):
            walker.context.facts.add(test.text)
        return Rows(rows.row, (*rows.keep, test))
    return Failed(f"`Dataset.{name}`")


def builtin_collection(walker: Walker, name: str, node: ast.Call, env: Env) -> Value:
    """`sorted`, `list`, `set`, `tuple`, with `sorted(set(x))` read as one step."""
    if len(node.args) != 1 or node.keywords:
        return Failed(f"`{name}` with options")
    inner = node.args[0]
    unique = False
    while (
        isinstance(inner, ast.Call)
        and isinstance(inner.func, ast.Name)
        and (inner.func.id in ("set", "list") and len(inner.args) == 1 and not inner.keywords)
    ):
        unique = unique or inner.func.id == "set"
        inner = inner.args[0]
    if name == "set":
        return Failed("a set, outside `sorted(set(...))`")
    value = walker.expr(inner, env)
    if isinstance(value, Failed):
        return value
    if isinstance(value, Const) and isinstance(value.value, list | tuple | str):
        items = list(dict.fromkeys(value.value)) if unique else list(value.value)
        return Const(sorted(items) if name == "sorted" else items)
    if name in ("list", "tuple") and isinstance(value, Seq) and not unique:
        return value
    try:
        text = wrap(render(value))
    except Untranslatable as exc:
        return Failed(str(exc))
    if unique:
        text += "|unique(case_sensitive=true)"
    if name == "sorted":
        text += "|sort(case_sensitive=true)"
    return Expr(text + "|list", FILTERED, "list")


def builtin(walker: Walker, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value:
    for value in [*args, *kwargs.values()]:
        if isinstance(value, Failed):
            return value
    if name == "functools.partial" or name == "partial":
        if not args or not isinstance(args[0], Func) or len(args) > 1:
            return Failed("`partial` of something that is not a function")
        func = args[0]
        return Func(func.module, func.node, (*func.bound, *kwargs.items()), func.closure)
    known = consts(args)
    if known is not None and not kwargs and name in FOLDABLE:
        try:
            return Const(FOLDABLE[name](*known))
        except Exception:
            return Failed(f"a constant `{name}()` that fails")
    if name in ("zip", "enumerate", "range", "itertools.product", "product"):
        return sequence(walker, name, args)
    if name in FILTERS and len(args) == 1 and not kwargs:
        filter_name, kind = FILTERS[name]
        return derive(lambda a: f"{wrap(a)}|{filter_name}", args[0], kind=kind)
    if name in ("min", "max") and len(args) > 1 and not kwargs:
        return derive_all(lambda xs: f"[{', '.join(x.text for x in xs)}]|{name}", args)
    if name in ("re.sub", "re.findall", "re.search", "re.match", "re.fullmatch"):
        return regex(walker, name, args, kwargs)
    if name == "getattr" and len(args) == 3 and isinstance(args[0], Row):
        # A row is a dict: its keys are no attributes, so the default comes back.
        attr = args[1]
        if (
            isinstance(attr, Const)
            and isinstance(attr.value, str)
            and (attr.value not in DICT_METHODS)
        ):
            return args[2]
    return Failed(f"`{name}()`")


def sequence(walker: Walker, name: str, args: list[Value]) -> Value:
    """`zip`, `enumerate`, `range`, `product` over lists of known length."""
    if name == "range":
        return Failed("`range` over row data")
    known = [walker.iterate(a) for a in args]
    if name == "zip":
        lengths = [len(k) for k in known if not isinstance(k, Failed)]
        if not lengths:
            return Failed("`zip` over row data")
        count = min(lengths)
        columns: list[list[Value]] = []
        for arg, items in zip(args, known, strict=True):
            if isinstance(items, Failed):
                # A row list zipped with a constant one: its first `count` items. A
                # row with fewer items fails to map, where lm-eval would stop early.
                columns.append([walker.item(arg, Const(i)) for i in range(count)])
            else:
                columns.append(items[:count])
        return Seq(tuple(Seq(tuple(c[i] for c in columns)) for i in range(count)))
    if name == "enumerate" and len(args) == 1 and not isinstance(known[0], Failed):
        return Seq(tuple(Seq((Const(i), v)) for i, v in enumerate(known[0])))
    if name in ("product", "itertools.product") and not any(isinstance(k, Failed) for k in known):
        combos: list[tuple[Value, ...]] = [()]
        for items in known:
            assert not isinstance(items, Failed)
            combos = [(*c, v) for c in combos for v in items]
        return Seq(tuple(Seq(c) for c in combos[:MAX_UNROLL]))
    return Failed(f"`{name}` over row data")


def regex(walker: Walker, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value:
    flags = kwargs.pop("flags", None)
    if kwargs:
        return Failed(f"`{name}` with options")
    count = {"re.sub": 3, "re.findall": 2}.get(name, 2)
    if len(args) == count + 1 and flags is None:
        flags = args.pop()
    if len(args) != count or not isinstance(args[0], Const):
        return Failed(f"`{name}` with a pattern built at run time")
    pattern = str(args[0].value)
    if name in ("re.match", "re.fullmatch"):
        pattern = rf"\A(?:{pattern})" + (r"\Z" if name == "re.fullmatch" else "")
    if flags is not None:
        if not isinstance(flags, Const) or not isinstance(flags.value, str):
            return Failed(f"`{name}` with flags the walker does not know")
        pattern = f"(?{flags.value}){pattern}"
    if name == "re.sub":
        if not isinstance(args[1], Const) or not isinstance(args[1].value, str):
            return Failed("`re.sub` with a replacement function")
        replacement = literal(args[1].value)
        return derive(
            lambda t: f"{wrap(t)}|regex_replace({literal(pattern)}, {replacement})",
            args[2],
            kind="str",
        )
    if name == "re.findall":
        return derive(
            lambda t: f"{wrap(t)}|regex_findall({literal(pattern)})", args[1], kind="list"
        )
    return Match(pattern, args[1])

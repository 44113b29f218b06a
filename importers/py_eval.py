"""Run a small Python function's syntax tree over symbolic values (`py_values`).

This is how an lm-eval hook (`utils.doc_to_text`) becomes a mapping expression: the
function is never imported or executed; its statements are followed with the row as a
symbolic `Row`, so `doc["question"]` becomes the expression `question`, an f-string
becomes a `Concat`, `if`/`else` becomes `a if c else b`, a loop over a constant list is
unrolled, and a helper function of the same file (or of another lm-eval task module) is
followed into. What the walker does not know becomes a `Failed` value naming the
construct, so that the caller can say why a hook stays to finish by hand.

The subset covers what lm-eval's hooks are made of (see `lm_eval_hooks` for the
measured patterns): field reads, string building and the common `str` methods, `re.sub`
/ `re.findall` / `re.search(...).group()`, constant tables, list literals and
comprehensions, `len`/`int`/`str`/`sorted`/`set`, `datasets.Dataset.map` and `.filter`.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskseed.importers.py_values import (
    COMPOUND,
    CONDITIONAL,
    DICT_METHODS,
    FILTERED,
    PRIMARY,
    Concat,
    Const,
    Expr,
    Failed,
    Kind,
    Match,
    Nested,
    Row,
    Rows,
    Seq,
    Symbolic,
    Table,
    Untranslatable,
    Value,
    consts,
    is_text,
    kind_of,
    literal,
    render,
    wrap,
)

MAX_DEPTH = 12  # nested helper calls followed before giving up
MAX_UNROLL = 64  # loop iterations unrolled at most

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
# str methods with a Jinja filter of the same meaning, for `map` over a list.
STR_FILTERS = {
    "strip": "trim",
    "lower": "lower",
    "upper": "upper",
    "capitalize": "capitalize",
    "title": "title",
    "replace": "replace",
}
RE_FLAGS = {"IGNORECASE": "i", "I": "i", "MULTILINE": "m", "M": "m", "DOTALL": "s", "S": "s"}
_OPS: dict[type[ast.AST], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_COMPARE: dict[type[ast.AST], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}

Env = dict[str, Value]
ModuleLoader = Callable[[str, Path], "Module | None"]


class Module:
    """One Python file, parsed: its functions, constants and imports."""

    def __init__(self, path: Path, source: str, loader: ModuleLoader) -> None:
        self.path = path
        self.tree = ast.parse(source, filename=str(path))
        self.loader = loader
        self.functions: dict[str, ast.FunctionDef] = {}
        self.assigned: dict[str, ast.expr] = {}
        # local name -> dotted module (or module.name); relative ones start with dots
        self.imports: dict[str, str] = {}
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef):
                self.functions[node.name] = node
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.assigned[target.id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if node.value is not None:
                    self.assigned[node.target.id] = node.value
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports[alias.asname or alias.name.split(".")[0]] = alias.name
            elif isinstance(node, ast.ImportFrom):
                owner = "." * node.level + (node.module or "")
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{owner}.{alias.name}"

    def defines(self, name: str) -> bool:
        return name in self.functions or name in self.assigned


@dataclass(frozen=True)
class Func(Symbolic):
    """A function value: a `def` or lambda of some module, with bound arguments."""

    module: Module
    node: ast.FunctionDef | ast.Lambda
    bound: tuple[tuple[str, Value], ...] = ()
    closure: tuple[tuple[str, Value], ...] = ()

    @property
    def name(self) -> str:
        return self.node.name if isinstance(self.node, ast.FunctionDef) else "<lambda>"


@dataclass(frozen=True)
class Builtin(Symbolic):
    """A name from the standard library that the walker understands (`re.sub`, `len`)."""

    name: str


# A reading of a call that the walker cannot follow itself (an idiom of one code base):
# given the call and the walker, a value, or None to follow the call as usual.
Idiom = Callable[[ast.Call, "Walker", "Env"], "Value | None"]


@dataclass
class Context:
    """What every walker of one translation shares."""

    idioms: Sequence[Idiom] = ()
    notes: list[str] = field(default_factory=list)  # said once per idiom used
    # Conditions known to hold: a `Dataset.filter` test, for the `map` after it.
    facts: set[str] = field(default_factory=set)


@dataclass
class Walker:
    """Evaluates one module's functions over symbolic values."""

    module: Module
    context: Context = field(default_factory=Context)
    depth: int = 0

    def nested(self, module: Module) -> Walker:
        return Walker(module, self.context, self.depth + 1)

    # ---------------------------------------------------------------- calling

    def function(self, name: str) -> Func | None:
        value = self.global_name(name)
        return value if isinstance(value, Func) else None

    def call(self, func: Value, args: Sequence[Value], kwargs: dict[str, Value]) -> Value:
        if isinstance(func, Failed):
            return func
        if isinstance(func, Builtin):
            return self.builtin(func.name, list(args), kwargs)
        if not isinstance(func, Func):
            return Failed("a call of something that is not a function")
        if self.depth >= MAX_DEPTH:
            return Failed("helper functions nested too deep")
        walker = self.nested(func.module)
        env = walker.bind(func, args, kwargs)
        if isinstance(env, Failed):
            return env
        if isinstance(func.node, ast.Lambda):
            return walker.expr(func.node.body, env)
        _, returned = walker.block(_body(func.node), env)
        return returned if returned is not None else Const(None)

    def bind(self, func: Func, args: Sequence[Value], kwargs: dict[str, Value]) -> Env | Failed:
        spec = func.node.args
        if spec.vararg or spec.kwarg or spec.posonlyargs:
            return Failed(f"{func.name} takes *args or **kwargs")
        names = [a.arg for a in spec.args] + [a.arg for a in spec.kwonlyargs]
        env: Env = dict(func.closure)
        given = dict(func.bound)
        given.update(kwargs)
        positional = [a.arg for a in spec.args]
        if len(args) > len(positional):
            return Failed(f"{func.name} is called with too many arguments")
        for name, value in zip(positional, args, strict=False):
            given[name] = value
        defaults = dict(
            zip(positional[len(positional) - len(spec.defaults) :], spec.defaults, strict=True)
        )
        defaults.update(
            {a.arg: d for a, d in zip(spec.kwonlyargs, spec.kw_defaults, strict=True) if d}
        )
        for name in names:
            if name in given:
                env[name] = given[name]
            elif name in defaults:
                env[name] = self.expr(defaults[name], {})
            else:
                return Failed(f"{func.name} is called without `{name}`")
        return env

    # ------------------------------------------------------------- statements

    def block(self, stmts: Sequence[ast.stmt], env: Env) -> tuple[Env, Value | None]:
        """Run statements; the environment after them and the returned value (if any)."""
        env = dict(env)
        for index, stmt in enumerate(stmts):
            if isinstance(stmt, ast.Return):
                return env, self.expr(stmt.value, env) if stmt.value else Const(None)
            if isinstance(stmt, ast.If):
                return self.branch(stmt, list(stmts[index + 1 :]), env)
            if isinstance(stmt, ast.For):
                env = self.loop(stmt, env)
            elif isinstance(stmt, ast.Assign):
                value = self.expr(stmt.value, env)
                for target in stmt.targets:
                    env = self.assign(target, value, env)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                env = self.assign(stmt.target, self.expr(stmt.value, env), env)
            elif isinstance(stmt, ast.AugAssign):
                current = self.expr(_load(stmt.target), env)
                value = self.binary(stmt.op, current, self.expr(stmt.value, env))
                env = self.assign(stmt.target, value, env)
            elif isinstance(stmt, ast.FunctionDef):
                env[stmt.name] = Func(self.module, stmt, closure=tuple(env.items()))
            elif isinstance(stmt, ast.Expr):
                env = self.effect(stmt.value, env)
            elif isinstance(stmt, ast.Pass | ast.Import | ast.ImportFrom | ast.Assert):
                continue  # an assertion only stops rows that a mapping would reject too
            else:
                return env, Failed(f"a `{type(stmt).__name__.lower()}` statement")
        return env, None

    def effect(self, node: ast.expr, env: Env) -> Env:
        """A statement that is only an expression: a docstring, a log line, `append`,
        or a call that may change what it is given."""
        if not isinstance(node, ast.Call) or _is_log(node, env):
            return env
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.attr in ("append", "extend")
            and len(node.args) == 1
            and not node.keywords
        ):
            owner = env.get(func.value.id)
            items = self.iterate(owner) if isinstance(owner, Const | Seq) else None
            if isinstance(owner, Const) and not isinstance(owner.value, list):
                items = None
            added = self.expr(node.args[0], env)
            more = [added] if func.attr == "append" else self.iterate(added)
            if isinstance(items, list) and isinstance(more, list):
                env = dict(env)
                env[func.value.id] = _sequence([*items, *more])
                return env
        return _fail_names(node, env, "a call that may change its arguments")

    def branch(self, stmt: ast.If, rest: list[ast.stmt], env: Env) -> tuple[Env, Value | None]:
        """`if`/`else`, with the statements after it run on both paths."""
        test = self.known(truth(self.expr(stmt.test, env)))
        if isinstance(test, Const):
            return self.block([*(stmt.body if test.value else stmt.orelse), *rest], env)
        yes_env, yes = self.block([*stmt.body, *rest], env)
        no_env, no = self.block([*stmt.orelse, *rest], env)
        merged = {
            name: self.choose(test, yes_env[name], no_env[name])
            for name in yes_env.keys() & no_env.keys()
        }
        if yes is None and no is None:
            return merged, None
        if yes is None or no is None:
            return merged, Failed("a function that returns on one path only")
        return merged, self.choose(test, yes, no)

    def known(self, test: Value) -> Value:
        """A test that a `Dataset.filter` before this step already made true."""
        if isinstance(test, Expr) and test.text in self.context.facts:
            return Const(True)
        return test

    def choose(self, test: Value, yes: Value, no: Value) -> Value:
        if yes == no:
            return yes
        if isinstance(yes, Row) and isinstance(no, Row):
            names = dict.fromkeys([k for k, _ in yes.written] + [k for k, _ in no.written])
            row = Row()
            for name in names:
                row = row.write(name, self.choose(test, yes.read(name), no.read(name)))
            return row
        if isinstance(yes, Table) and isinstance(no, Table):
            keys = dict.fromkeys([k for k, _ in yes.items] + [k for k, _ in no.items])
            table = Table(())
            for key in keys:
                a, b = yes.get(key), no.get(key)
                if a is None or b is None:
                    table = table.set(key, Failed("a key set on one path only"))
                else:
                    table = table.set(key, self.choose(test, a, b))
            return table
        try:
            t, a, b = render(test), render(yes), render(no)
        except Untranslatable as exc:
            return Failed(str(exc))
        kind = kind_of(yes) if kind_of(yes) == kind_of(no) else "any"
        text = f"{wrap(a, COMPOUND)} if {wrap(t, COMPOUND)} else {wrap(b, CONDITIONAL)}"
        return Expr(text, CONDITIONAL, kind)

    def loop(self, stmt: ast.For, env: Env) -> Env:
        items = self.iterate(self.expr(stmt.iter, env))
        if isinstance(items, list) and len(items) > MAX_UNROLL:
            items = Failed("a loop too long to unroll")
        if isinstance(items, Failed) or stmt.orelse or _has_jump(stmt.body):
            reason = items.reason if isinstance(items, Failed) else "a loop with break or else"
            return _fail_assigned(stmt.body, env, reason)
        for item in items:
            env = self.assign(stmt.target, item, env)
            env, returned = self.block(stmt.body, env)
            if returned is not None:
                return _fail_assigned(stmt.body, env, "a return inside a loop")
        return env

    def iterate(self, value: Value) -> list[Value] | Failed:
        """The items of a value whose length is known at import time."""
        if isinstance(value, Failed):
            return value
        if isinstance(value, Const) and isinstance(value.value, list | tuple | str | dict):
            return [Const(v) for v in value.value]
        if isinstance(value, Seq):
            return list(value.items)
        if isinstance(value, Table):
            return [Const(k) for k, _ in value.items]
        return Failed("a loop over row data")

    def assign(self, target: ast.expr, value: Value, env: Env) -> Env:
        env = dict(env)
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            parts = self.iterate(value)
            if isinstance(parts, Failed) or len(parts) != len(target.elts):
                reason = parts.reason if isinstance(parts, Failed) else "an unpacking"
                for name in _names(target):
                    env[name] = Failed(reason)
                return env
            for sub, part in zip(target.elts, parts, strict=True):
                env = self.assign(sub, part, env)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            owner = env.get(target.value.id)
            key = self.expr(target.slice, env)
            if isinstance(owner, Row) and isinstance(key, Const) and isinstance(key.value, str):
                env[target.value.id] = owner.write(key.value, value)
            elif isinstance(owner, Table) and isinstance(key, Const):
                env[target.value.id] = owner.set(key.value, value)
            elif owner is not None:
                env[target.value.id] = Failed("an item assignment the walker cannot follow")
        elif isinstance(target, ast.Subscript):
            root, keys = self.item_path(target, env)
            if root is not None and keys is not None and isinstance(env.get(root), Row):
                row = env[root]
                assert isinstance(row, Row)
                env[root] = row.write(keys[0], _rewrite(row.read(keys[0]), keys[1:], value))
            elif root is not None:
                env[root] = Failed("a nested item assignment the walker cannot follow")
        return env

    def item_path(
        self, target: ast.Subscript, env: Env
    ) -> tuple[str | None, tuple[Any, ...] | None]:
        """`doc["a"][k][0]` -> ("doc", ("a", <k>, 0)) when every key is known."""
        keys: list[Any] = []
        node: ast.expr = target
        while isinstance(node, ast.Subscript):
            key = self.expr(node.slice, env)
            if not isinstance(key, Const) or isinstance(node.slice, ast.Slice):
                return _root_name(target), None
            keys.insert(0, key.value)
            node = node.value
        if not isinstance(node, ast.Name) or not isinstance(keys[0], str):
            return _root_name(target), None
        return node.id, tuple(keys)

    # ------------------------------------------------------------ expressions

    def expr(self, node: ast.expr, env: Env) -> Value:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            return Failed(f"a `{type(node).__name__}` expression")
        result: Value = method(node, env)
        return result

    def _Constant(self, node: ast.Constant, env: Env) -> Value:
        return Const(node.value)

    def _Name(self, node: ast.Name, env: Env) -> Value:
        if node.id in env:
            return env[node.id]
        return self.global_name(node.id)

    def global_name(self, name: str) -> Value:
        module = self.module
        if name in module.functions:
            return Func(module, module.functions[name])
        if name in module.assigned:
            value = self.nested(module).expr(module.assigned[name], {})
            return value if self.depth < MAX_DEPTH else Failed("constants nested too deep")
        if name in module.imports:
            return self.imported(module.imports[name])
        if name in BUILTINS:
            return Builtin(name)
        return Failed(f"the name `{name}`")

    def imported(self, dotted: str) -> Value:
        if dotted in ("re", "string", "itertools", "functools"):
            return Builtin(dotted)
        if dotted in KNOWN_IMPORTS:
            return Builtin(KNOWN_IMPORTS[dotted])
        owner, _, name = dotted.rpartition(".")
        other = self.module.loader(owner, self.module.path) if owner else None
        if other is not None and other.defines(name):
            return self.nested(other).global_name(name)
        return Failed(f"`{dotted}`")

    def _JoinedStr(self, node: ast.JoinedStr, env: Env) -> Value:
        parts: list[Value] = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                if part.conversion not in (-1, ord("s")) or part.format_spec is not None:
                    return Failed("an f-string with a format spec")
                parts.append(self.expr(part.value, env))
            else:
                parts.append(self.expr(part, env))
        return _concat(parts)

    def _BinOp(self, node: ast.BinOp, env: Env) -> Value:
        return self.binary(node.op, self.expr(node.left, env), self.expr(node.right, env))

    def binary(self, op: ast.operator, left: Value, right: Value) -> Value:
        if isinstance(left, Failed):
            return left
        if isinstance(right, Failed):
            return right
        flags = consts([left, right])
        if isinstance(op, ast.BitOr) and flags and _flags(left) and _flags(right):
            return Const(flags[0] + flags[1])  # re.IGNORECASE | re.DOTALL
        if isinstance(left, Const) and isinstance(right, Const):
            try:
                return Const(_fold(op, left.value, right.value))
            except Exception:
                return Failed("constant arithmetic that fails")
        if isinstance(op, ast.Add) and (is_text(left) or is_text(right)):
            return _concat([left, right])
        if isinstance(op, ast.Add) and isinstance(left, Seq) and isinstance(right, Seq):
            return Seq(left.items + right.items)
        symbol = _OPS.get(type(op))
        if symbol is None:
            return Failed(f"the operator {type(op).__name__}")
        if isinstance(op, ast.Mod) and is_text(left):
            return Failed("`%` formatting")
        try:
            a, b = render(left), render(right)
        except Untranslatable as exc:
            return Failed(str(exc))
        kind: Kind = "any" if kind_of(left) != kind_of(right) else kind_of(left)
        terms = (left, right) if isinstance(op, ast.Add) and kind == "any" else ()
        return Expr(f"{wrap(a)} {symbol} {wrap(b)}", COMPOUND, kind, terms)

    def _UnaryOp(self, node: ast.UnaryOp, env: Env) -> Value:
        operand = self.expr(node.operand, env)
        if isinstance(operand, Const):
            try:
                return Const(_unary(node.op, operand.value))
            except Exception:
                return Failed("constant arithmetic that fails")
        symbol = {ast.Not: "not ", ast.USub: "-", ast.UAdd: "+"}.get(type(node.op))
        if symbol is None:
            return Failed("the operator ~")
        need = FILTERED if isinstance(node.op, ast.Not) else PRIMARY
        return derive(lambda a: f"{symbol}{wrap(a, need)}", operand, prec=COMPOUND)

    def _BoolOp(self, node: ast.BoolOp, env: Env) -> Value:
        values = [truth(self.expr(v, env)) for v in node.values]
        word = " and " if isinstance(node.op, ast.And) else " or "
        try:
            return Expr(word.join(wrap(render(v)) for v in values), COMPOUND, "any")
        except Untranslatable as exc:
            return Failed(str(exc))

    def _Compare(self, node: ast.Compare, env: Env) -> Value:
        values = [self.expr(node.left, env), *(self.expr(c, env) for c in node.comparators)]
        for value in values:
            if isinstance(value, Failed):
                return value
        values = [truth(v) if isinstance(v, Match) else v for v in values]
        if len(node.ops) == 1 and isinstance(values[1], Row):
            return _has_field(values[1], values[0], isinstance(node.ops[0], ast.NotIn))
        known = consts(values)
        if known is not None:
            pairs = zip(node.ops, known, known[1:], strict=False)
            try:
                return Const(all(_compare(op, a, b) for op, a, b in pairs))
            except Exception:
                return Failed("a comparison that fails")
        try:
            texts = [wrap(render(v)) for v in values]
        except Untranslatable as exc:
            return Failed(str(exc))
        pieces = [texts[0]]
        for op, comparator, text in zip(node.ops, node.comparators, texts[1:], strict=True):
            if isinstance(op, ast.Is | ast.IsNot):
                if not _is_none(comparator):
                    return Failed("`is` with something other than None")
                pieces.append("is none" if isinstance(op, ast.Is) else "is not none")
                continue
            symbol = _COMPARE.get(type(op))
            if symbol is None:
                return Failed(f"the comparison {type(op).__name__}")
            pieces.append(f"{symbol} {text}")
        return Expr(" ".join(pieces), COMPOUND, "bool")

    def _IfExp(self, node: ast.IfExp, env: Env) -> Value:
        test = self.known(truth(self.expr(node.test, env)))
        if isinstance(test, Const):
            return self.expr(node.body if test.value else node.orelse, env)
        return self.choose(test, self.expr(node.body, env), self.expr(node.orelse, env))

    def _List(self, node: ast.List | ast.Tuple, env: Env) -> Value:
        items = [self.expr(e, env) for e in node.elts]
        if any(isinstance(e, ast.Starred) for e in node.elts):
            return Failed("a starred list item")
        if all(isinstance(i, Const) for i in items):
            values = [i.value for i in items if isinstance(i, Const)]
            return Const(tuple(values) if isinstance(node, ast.Tuple) else values)
        return Seq(tuple(items))

    _Tuple = _List

    def _Dict(self, node: ast.Dict, env: Env) -> Value:
        items: list[tuple[Any, Value]] = []
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                return Failed("a `**` dict merge")
            name = self.expr(key, env)
            if not isinstance(name, Const):
                return Failed("a dict with computed keys")
            items.append((name.value, self.expr(value, env)))
        known = consts(v for _, v in items)
        if known is not None:
            return Const({k: v for (k, _), v in zip(items, known, strict=True)})
        return Table(tuple(items))

    def _Set(self, node: ast.Set, env: Env) -> Value:
        return Failed("a set literal")

    def _Subscript(self, node: ast.Subscript, env: Env) -> Value:
        owner = self.expr(node.value, env)
        if isinstance(node.slice, ast.Slice):
            return self.slice(owner, node.slice, env)
        return self.item(owner, self.expr(node.slice, env))

    def item(self, owner: Value, key: Value) -> Value:
        if isinstance(owner, Failed):
            return owner
        if isinstance(key, Failed):
            return key
        if isinstance(owner, Row):
            if isinstance(key, Const) and isinstance(key.value, str):
                return owner.read(key.value)
            return Failed("a row field chosen at run time")
        if isinstance(owner, Nested):
            if not isinstance(key, Const):
                return Failed("an item of a rewritten field chosen at run time")
            below = owner.under(key.value)
            base = self.item(owner.base, key)
            for path, value in below:
                if not path:
                    return value
            return Nested(base, below) if below else base
        if isinstance(owner, Const) and isinstance(key, Const):
            try:
                return Const(owner.value[key.value])
            except (LookupError, TypeError):
                return Failed("a constant lookup that fails")
        table_kind = _items_kind(owner)
        if isinstance(owner, Seq) and isinstance(key, Const) and isinstance(key.value, int):
            try:
                return owner.items[key.value]
            except IndexError:
                return Failed("an index past the end of a list")
        if isinstance(owner, Table) and isinstance(key, Const):
            found = owner.get(key.value)
            return found if found is not None else Failed("a missing key")
        try:
            base, index = render(owner), render(key)
        except Untranslatable as exc:
            return Failed(str(exc))
        name = key.value if isinstance(key, Const) else None
        if isinstance(name, str) and name.isidentifier() and name not in DICT_METHODS:
            return Expr(f"{wrap(base, PRIMARY)}.{name}", PRIMARY, table_kind)
        return Expr(f"{wrap(base, PRIMARY)}[{index.text}]", PRIMARY, table_kind)

    def slice(self, owner: Value, node: ast.Slice, env: Env) -> Value:
        bounds = [self.expr(n, env) if n is not None else None for n in (node.lower, node.upper)]
        if node.step is not None:
            return Failed("a slice with a step")
        if isinstance(owner, Const) and all(b is None or isinstance(b, Const) for b in bounds):
            lo, hi = (b.value if isinstance(b, Const) else None for b in bounds)
            try:
                return Const(owner.value[lo:hi])
            except TypeError:
                return Failed("a constant slice that fails")
        try:
            base = render(owner)
            lo_text, hi_text = (render(b).text if b is not None else "" for b in bounds)
        except Untranslatable as exc:
            return Failed(str(exc))
        return Expr(f"{wrap(base, PRIMARY)}[{lo_text}:{hi_text}]", PRIMARY, kind_of(owner))

    def _Attribute(self, node: ast.Attribute, env: Env) -> Value:
        owner = self.expr(node.value, env)
        if isinstance(owner, Builtin):
            dotted = f"{owner.name}.{node.attr}"
            if owner.name == "re" and node.attr in RE_FLAGS:
                return Const(RE_FLAGS[node.attr])
            if dotted in BUILTINS:
                return Builtin(dotted)
            if owner.name == "string" and isinstance(getattr(string, node.attr, None), str):
                return Const(getattr(string, node.attr))
            return Failed(f"`{dotted}`")
        if isinstance(owner, Failed):
            return owner
        return Failed(f"the attribute `.{node.attr}`")

    def _Lambda(self, node: ast.Lambda, env: Env) -> Value:
        return Func(self.module, node, closure=tuple(env.items()))

    def _Call(self, node: ast.Call, env: Env) -> Value:
        for idiom in self.context.idioms:
            read = idiom(node, self, env)
            if read is not None:
                return read
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            return Failed("a call with * or ** arguments")
        if isinstance(node.func, ast.Attribute):
            owner = self.expr(node.func.value, env)
            if not isinstance(owner, Builtin):
                args = [self.expr(a, env) for a in node.args]
                kwargs = {str(k.arg): self.expr(k.value, env) for k in node.keywords}
                return self.method(owner, node.func.attr, args, kwargs, node, env)
        func = self.expr(node.func, env)
        if isinstance(func, Builtin) and func.name in ("sorted", "list", "set", "tuple"):
            return self.builtin_collection(func.name, node, env)
        args = [self.expr(a, env) for a in node.args]
        kwargs = {str(k.arg): self.expr(k.value, env) for k in node.keywords}
        return self.call(func, args, kwargs)

    def _ListComp(self, node: ast.ListComp | ast.GeneratorExp, env: Env) -> Value:
        if len(node.generators) != 1 or node.generators[0].is_async:
            return Failed("a comprehension with several loops")
        gen = node.generators[0]
        source = self.expr(gen.iter, env)
        items = self.iterate(source)
        if not isinstance(items, Failed):
            out: list[Value] = []
            for item in items:
                inner = self.assign(gen.target, item, env)
                tests = [self.expr(t, inner) for t in gen.ifs]
                if any(isinstance(t, Const) and not t.value for t in tests):
                    continue
                if any(not isinstance(t, Const) for t in tests):
                    return self.filtered(node, gen, items, env)
                out.append(self.expr(node.elt, inner))
            return (
                Seq(tuple(out))
                if not all(isinstance(i, Const) for i in out)
                else Const([i.value for i in out if isinstance(i, Const)])
            )
        return self.mapped(node, gen, source, env)

    _GeneratorExp = _ListComp

    def filtered(
        self,
        node: ast.ListComp | ast.GeneratorExp,
        gen: ast.comprehension,
        items: list[Value],
        env: Env,
    ) -> Value:
        """`[f(o) for o in [a, b, c] if o]`: `[a, b, c]|select|map(...)|list`."""
        if not (len(gen.ifs) == 1 and _same_name(gen.ifs[0], gen.target)):
            return Failed("a comprehension with a condition on row data")
        return self.mapped(node, gen, Seq(tuple(items)), env, select=True)

    def mapped(
        self,
        node: ast.ListComp | ast.GeneratorExp,
        gen: ast.comprehension,
        source: Value,
        env: Env,
        *,
        select: bool = False,
    ) -> Value:
        """`[f(x) for x in row_list]` where f is a chain of filters: `xs|map(...)|list`."""
        if not isinstance(gen.target, ast.Name) or (gen.ifs and not select):
            return Failed("a comprehension over row data")
        steps = Pipeline(self, gen.target.id).steps(node.elt, env)
        if isinstance(steps, Failed):
            return steps
        try:
            base = render(source)
        except Untranslatable as exc:
            return Failed(str(exc))
        text = wrap(base) + ("|select" if select else "")
        for name, args in steps:
            if name == "attribute":
                text += f"|map(attribute={literal(args[0])})"
            else:
                text += "|map(" + ", ".join([literal(name), *(literal(a) for a in args)]) + ")"
        return Expr(text + "|list", FILTERED, "list")

    # ---------------------------------------------------------------- methods

    def method(
        self,
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
            return self.dataset(owner, name, args, kwargs)
        if isinstance(owner, Row):
            return self.row_method(owner, name, args)
        if isinstance(owner, Match):
            return self.match_method(owner, name, args)
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
                    Seq((Const(k), v if not isinstance(owner, Const) else Const(v)))
                    for k, v in pairs
                )
            )
        if isinstance(owner, Const) and isinstance(owner.value, str) and name == "format":
            return _format(owner.value, args, kwargs)
        if isinstance(owner, Const) and isinstance(owner.value, str) and name == "join":
            items = self.iterate(args[0]) if len(args) == 1 else Failed("`join` with options")
            if not isinstance(items, Failed):
                parts: list[Value] = []
                for index, item in enumerate(items):
                    parts.extend([Const(owner.value)] * bool(index) + [item])
                return _concat(parts)
        known = consts(args)
        if isinstance(owner, Const) and _foldable(owner, name) and known is not None and not kwargs:
            try:
                return Const(getattr(owner.value, name)(*known))
            except Exception:
                return Failed(f"a constant `.{name}()` that fails")
        if name == "get" and isinstance(owner, Table | Const) and args:
            key = args[0]
            default = args[1] if len(args) > 1 else Const(None)
            if isinstance(key, Const):
                found = self.item(owner, key)
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

    def row_method(self, row: Row, name: str, args: list[Value]) -> Value:
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

    def match_method(self, match: Match, name: str, args: list[Value]) -> Value:
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

    def dataset(self, rows: Rows, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value:
        if kwargs or len(args) != 1:
            return Failed(f"`Dataset.{name}` with options")
        if name == "map":
            result = self.call(args[0], [rows.row], {})
            if isinstance(result, Row | Table):
                return Rows(rows.row.overlay(result), rows.keep)
            if isinstance(result, Failed):
                return result
            return Failed("a `map` function that does not return a row")
        if name == "filter":
            test = truth(self.call(args[0], [rows.row], {}))
            if isinstance(test, Expr):
                self.context.facts.add(test.text)
            return Rows(rows.row, (*rows.keep, test))
        return Failed(f"`Dataset.{name}`")

    # --------------------------------------------------------------- builtins

    def builtin_collection(self, name: str, node: ast.Call, env: Env) -> Value:
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
        value = self.expr(inner, env)
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

    def builtin(self, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value:
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
            return self.sequence(name, args)
        if name in FILTERS and len(args) == 1 and not kwargs:
            filter_name, kind = FILTERS[name]
            return derive(lambda a: f"{wrap(a)}|{filter_name}", args[0], kind=kind)
        if name in ("min", "max") and len(args) > 1 and not kwargs:
            return _expr_all(lambda xs: f"[{', '.join(x.text for x in xs)}]|{name}", args)
        if name in ("re.sub", "re.findall", "re.search", "re.match", "re.fullmatch"):
            return self.regex(name, args, kwargs)
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

    def sequence(self, name: str, args: list[Value]) -> Value:
        """`zip`, `enumerate`, `range`, `product` over lists of known length."""
        if name == "range":
            return Failed("`range` over row data")
        known = [self.iterate(a) for a in args]
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
                    columns.append([self.item(arg, Const(i)) for i in range(count)])
                else:
                    columns.append(items[:count])
            return Seq(tuple(Seq(tuple(c[i] for c in columns)) for i in range(count)))
        if name == "enumerate" and len(args) == 1 and not isinstance(known[0], Failed):
            return Seq(tuple(Seq((Const(i), v)) for i, v in enumerate(known[0])))
        if name in ("product", "itertools.product") and not any(
            isinstance(k, Failed) for k in known
        ):
            combos: list[tuple[Value, ...]] = [()]
            for items in known:
                assert not isinstance(items, Failed)
                combos = [(*c, v) for c in combos for v in items]
            return Seq(tuple(Seq(c) for c in combos[:MAX_UNROLL]))
        return Failed(f"`{name}` over row data")

    def regex(self, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value:
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


class Pipeline:
    """A value made from one variable by filters only, for `map` over a list:
    `preprocess(x.strip())` -> [("trim", ()), ("replace", (" [title]", ". ")), ...]."""

    def __init__(self, walker: Walker, var: str) -> None:
        self.walker = walker
        self.var = var

    def steps(self, node: ast.expr, env: Env) -> list[tuple[str, tuple[Any, ...]]] | Failed:
        if isinstance(node, ast.Name) and node.id == self.var:
            return []
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
            key = self.walker.expr(node.slice, env)
            inner = self.steps(node.value, env)
            if isinstance(inner, Failed):
                return inner
            if isinstance(key, Const) and isinstance(key.value, str):
                return [*inner, ("attribute", (key.value,))]
            return Failed("an item read in a comprehension")
        if not isinstance(node, ast.Call) or node.keywords:
            return Failed("a comprehension whose items are not made by filters")
        args = [self.walker.expr(a, env) for a in node.args]
        if isinstance(node.func, ast.Attribute):
            target = node.func.value
            owner = self.walker.expr(target, env) if not _same_name(target, self.var) else None
            if isinstance(owner, Builtin) and f"{owner.name}.{node.func.attr}" == "re.sub":
                return self._regex(node, args, env)
            name = STR_FILTERS.get(node.func.attr)
            if name is None or not all(isinstance(a, Const) for a in args):
                return Failed(f"`.{node.func.attr}()` in a comprehension")
            inner = self.steps(target, env)
            if isinstance(inner, Failed):
                return inner
            return [*inner, (name, tuple(a.value for a in args if isinstance(a, Const)))]
        func = self.walker.expr(node.func, env)
        if isinstance(func, Builtin) and func.name in FILTERS and len(node.args) == 1:
            inner = self.steps(node.args[0], env)
            return inner if isinstance(inner, Failed) else [*inner, (FILTERS[func.name][0], ())]
        if isinstance(func, Builtin) and func.name == "re.sub":
            return self._regex(node, args, env)
        if (
            isinstance(func, Func)
            and isinstance(func.node, ast.FunctionDef)
            and len(node.args) == 1
        ):
            inner = self.steps(node.args[0], env)
            if isinstance(inner, Failed):
                return inner
            helper = _helper_steps(self.walker, func)
            return helper if isinstance(helper, Failed) else [*inner, *helper]
        return Failed("a call in a comprehension")

    def _regex(
        self, node: ast.Call, args: list[Value], env: Env
    ) -> list[tuple[str, tuple[Any, ...]]] | Failed:
        if len(node.args) != 3 or not all(isinstance(a, Const) for a in args[:2]):
            return Failed("`re.sub` with options in a comprehension")
        inner = self.steps(node.args[2], env)
        if isinstance(inner, Failed):
            return inner
        pattern, replacement = (a.value for a in args[:2] if isinstance(a, Const))
        return [*inner, ("regex_replace", (pattern, replacement))]


def _helper_steps(walker: Walker, func: Func) -> list[tuple[str, tuple[Any, ...]]] | Failed:
    """A one-argument helper that only rewrites its argument: `text = text.strip()`..."""
    node = func.node
    assert isinstance(node, ast.FunctionDef)
    if len(node.args.args) != 1 or node.args.defaults:
        return Failed(f"the helper {node.name} in a comprehension")
    var = node.args.args[0].arg
    inner = walker.nested(func.module)
    pipeline = Pipeline(inner, var)
    steps: list[tuple[str, tuple[Any, ...]]] = []
    for stmt in _body(node):
        if isinstance(stmt, ast.Expr):
            continue
        if isinstance(stmt, ast.Assign) and _assigns_to(stmt, var):
            more = pipeline.steps(stmt.value, {})
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            more = pipeline.steps(stmt.value, {})
            if isinstance(more, Failed):
                return more
            return [*steps, *more]
        else:
            return Failed(f"the helper {node.name} in a comprehension")
        if isinstance(more, Failed):
            return more
        steps = [*steps, *more]
    return Failed(f"the helper {node.name} returns nothing")


# ------------------------------------------------------------------- helpers

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


def _body(node: ast.FunctionDef) -> list[ast.stmt]:
    return list(node.body)


def _load(target: ast.expr) -> ast.expr:
    """An assignment target read as an expression (for `x += 1`)."""
    copy = ast.fix_missing_locations(ast.parse(ast.unparse(target), mode="eval")).body
    return copy


def _names(target: ast.expr) -> Iterator[str]:
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            yield node.id


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _fail_assigned(body: Sequence[ast.stmt], env: Env, reason: str) -> Env:
    """After a loop the walker cannot unroll, whatever it assigns or changes is unknown."""
    env = dict(env)
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.For):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in _names(target):
                        env[name] = Failed(reason)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                env = _fail_names(node.value, env, reason)
    return env


def _fail_names(node: ast.expr, env: Env, reason: str) -> Env:
    """Every local name an expression mentions, marked unknown."""
    env = dict(env)
    for name in _names(node):
        if name in env:
            env[name] = Failed(reason)
    return env


LOGGERS = frozenset({"logging", "logger", "eval_logger", "log", "warnings"})


def _is_log(node: ast.Call, env: Env) -> bool:
    """`print(...)`, `logger.warning(...)`: calls that only say something."""
    func = node.func
    if isinstance(func, ast.Name):
        return func.id == "print" and func.id not in env
    root = _root_name(func)
    return root is not None and root in LOGGERS and root not in env


def _rewrite(current: Value, keys: tuple[Any, ...], value: Value) -> Value:
    """`current` with the item at `keys` replaced by `value`."""
    if not keys:
        return value
    if isinstance(current, Table):
        inner = current.get(keys[0])
        return current.set(
            keys[0],
            _rewrite(inner if inner is not None else Failed("a missing key"), keys[1:], value),
        )
    if isinstance(current, Nested):
        return current.write(keys, value)
    return Nested(current, ((keys, value),))


def _items_kind(owner: Value) -> Kind:
    """What an item of a constant table or list is, when all its items are alike."""
    if not isinstance(owner, Const) or not isinstance(owner.value, list | tuple | dict):
        return "any"
    values = list(owner.value.values() if isinstance(owner.value, dict) else owner.value)
    kinds = {kind_of(Const(v)) for v in values}
    return kinds.pop() if len(kinds) == 1 else "any"


def _sequence(items: list[Value]) -> Value:
    if all(isinstance(i, Const) for i in items):
        return Const([i.value for i in items if isinstance(i, Const)])
    return Seq(tuple(items))


def _has_jump(body: Sequence[ast.stmt]) -> bool:
    return any(isinstance(n, ast.Break | ast.Continue) for s in body for n in ast.walk(s))


def _same_name(node: ast.expr, target: ast.expr | str) -> bool:
    name = target if isinstance(target, str) else getattr(target, "id", None)
    return isinstance(node, ast.Name) and node.id == name


def _assigns_to(stmt: ast.Assign, var: str) -> bool:
    return len(stmt.targets) == 1 and _same_name(stmt.targets[0], var)


def _foldable(owner: Value, method: str) -> bool:
    """A method of a constant that can be called at import time (no side effects)."""
    if not isinstance(owner, Const):
        return False
    if isinstance(owner.value, str):
        return method in STR_METHODS
    return isinstance(owner.value, list | tuple) and method in LIST_METHODS


def _flags(value: Value) -> bool:
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


def _has_field(row: Row, key: Value, negate: bool) -> Value:
    """`"answer" in doc`: whether the row has the field."""
    if not isinstance(key, Const) or not isinstance(key.value, str):
        return Failed("a field test chosen at run time")
    if key.value in row.fields:
        return Const(not negate)
    name = row.read(key.value)
    if isinstance(name, Failed):
        return name
    return Expr(f"{render(name).text} is {'not ' if negate else ''}defined", COMPOUND, "bool")


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _concat(parts: list[Value]) -> Value:
    for part in parts:
        if isinstance(part, Failed):
            return part
    if all(isinstance(p, Const) for p in parts):
        try:
            return Const("".join(str(p.value) for p in parts if isinstance(p, Const)))
        except TypeError:
            return Failed("text joined with something else")
    return Concat(tuple(parts))


def _format(text: str, args: list[Value], kwargs: dict[str, Value]) -> Value:
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
    return _concat(parts)


def derive(
    build: Callable[[Expr], str], value: Value, *, kind: Kind = "any", prec: int = FILTERED
) -> Value:
    """An expression built from one value; Failed when the value has none."""
    try:
        return Expr(build(render(value)), prec, kind)
    except Untranslatable as exc:
        return Failed(str(exc))


def _expr_all(build: Callable[[list[Expr]], str], values: list[Value]) -> Value:
    try:
        return Expr(build([render(v) for v in values]), FILTERED, "any")
    except Untranslatable as exc:
        return Failed(str(exc))


def _fold(op: ast.operator, a: Any, b: Any) -> Any:
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


def _unary(op: ast.unaryop, a: Any) -> Any:
    if isinstance(op, ast.Not):
        return not a
    if isinstance(op, ast.USub):
        return -a
    if isinstance(op, ast.UAdd):
        return +a
    raise TypeError(type(op).__name__)


def _compare(op: ast.cmpop, a: Any, b: Any) -> Any:
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

"""Run a small Python function's syntax tree over symbolic values (`py_values`).

This is how an lm-eval hook (`utils.doc_to_text`) becomes a mapping expression: the
function is never imported or executed; its statements are followed with the row as a
symbolic `Row`, so `doc["question"]` becomes the expression `question`, an f-string
becomes a `Concat`, `if`/`else` becomes `a if c else b`, a loop over a constant list is
unrolled, and a helper function of the same file (or of another lm-eval task module) is
followed into. What the walker does not know becomes a `Failed` value naming the
construct, so that the caller can say why a hook stays to finish by hand.

The subset covers what lm-eval's hooks are made of (`lm_eval_survey` measures them):
field reads, string building and the common `str` methods, `re.sub` / `re.findall` /
`re.search(...).group()`, constant tables, list literals and comprehensions,
`len`/`int`/`str`/`sorted`/`set`, `datasets.Dataset.map` and `.filter`. This module
walks statements and expressions; `py_calls` handles calls, `py_pipeline` comprehensions
over the row's own lists, `py_ops` the operations on values, `py_module` the files.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from taskseed.importers import py_calls as calls
from taskseed.importers import py_pipeline as pipeline
from taskseed.importers.py_calls import BUILTINS, KNOWN_IMPORTS
from taskseed.importers.py_module import (
    MAX_DEPTH,
    MAX_UNROLL,
    Builtin,
    Context,
    Env,
    Func,
    Module,
    body_of,
)
from taskseed.importers.py_ops import (
    RE_FLAGS,
    compare,
    concat,
    derive,
    fold,
    has_field,
    is_flags,
    items_kind,
    rewrite,
    sequence_of,
    truth,
    unary,
)
from taskseed.importers.py_values import (
    COMPOUND,
    CONDITIONAL,
    DICT_METHODS,
    FILTERED,
    PRIMARY,
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
    consts,
    is_text,
    kind_of,
    render,
    wrap,
)

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
            return calls.builtin(self, func.name, list(args), kwargs)
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
        _, returned = walker.block(body_of(func.node), env)
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
                env[func.value.id] = sequence_of([*items, *more])
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
                env[root] = row.write(keys[0], rewrite(row.read(keys[0]), keys[1:], value))
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
        return concat(parts)

    def _BinOp(self, node: ast.BinOp, env: Env) -> Value:
        return self.binary(node.op, self.expr(node.left, env), self.expr(node.right, env))

    def binary(self, op: ast.operator, left: Value, right: Value) -> Value:
        if isinstance(left, Failed):
            return left
        if isinstance(right, Failed):
            return right
        flags = consts([left, right])
        if isinstance(op, ast.BitOr) and flags and is_flags(left) and is_flags(right):
            return Const(flags[0] + flags[1])  # re.IGNORECASE | re.DOTALL
        if isinstance(left, Const) and isinstance(right, Const):
            try:
                return Const(fold(op, left.value, right.value))
            except Exception:
                return Failed("constant arithmetic that fails")
        if isinstance(op, ast.Add) and (is_text(left) or is_text(right)):
            return concat([left, right])
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
                return Const(unary(node.op, operand.value))
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
            return has_field(values[1], values[0], isinstance(node.ops[0], ast.NotIn))
        known = consts(values)
        if known is not None:
            pairs = zip(node.ops, known, known[1:], strict=False)
            try:
                return Const(all(compare(op, a, b) for op, a, b in pairs))
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
        table_kind = items_kind(owner)
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
                return calls.method(self, owner, node.func.attr, args, kwargs, node, env)
        func = self.expr(node.func, env)
        if isinstance(func, Builtin) and func.name in ("sorted", "list", "set", "tuple"):
            return calls.builtin_collection(self, func.name, node, env)
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
                    return pipeline.filtered(self, node, gen, items, env)
                out.append(self.expr(node.elt, inner))
            return (
                Seq(tuple(out))
                if not all(isinstance(i, Const) for i in out)
                else Const([i.value for i in out if isinstance(i, Const)])
            )
        return pipeline.mapped(self, node, gen, source, env)

    _GeneratorExp = _ListComp

    # ---------------------------------------------------------------- methods


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


def _has_jump(body: Sequence[ast.stmt]) -> bool:
    return any(isinstance(n, ast.Break | ast.Continue) for s in body for n in ast.walk(s))


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None

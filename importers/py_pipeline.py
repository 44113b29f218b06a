"""Comprehensions over a row's own lists: `[clean(x) for x in doc["endings"]]` becomes
`endings|map('trim')|...|list` when every step is a filter of one value."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from taskseed.importers.py_module import Builtin, Env, Func, assigns_to, body_of, same_name
from taskseed.importers.py_ops import FILTERS
from taskseed.importers.py_values import (
    FILTERED,
    Const,
    Expr,
    Failed,
    Seq,
    Untranslatable,
    Value,
    literal,
    render,
    wrap,
)

if TYPE_CHECKING:
    from taskseed.importers.py_eval import Walker

# str methods with a Jinja filter of the same meaning, for `map` over a list.
STR_FILTERS = {
    "strip": "trim",
    "lower": "lower",
    "upper": "upper",
    "capitalize": "capitalize",
    "title": "title",
    "replace": "replace",
}


def filtered(
    walker: Walker,
    node: ast.ListComp | ast.GeneratorExp,
    gen: ast.comprehension,
    items: list[Value],
    env: Env,
) -> Value:
    """`[f(o) for o in [a, b, c] if o]`: `[a, b, c]|select|map(...)|list`."""
    if not (len(gen.ifs) == 1 and same_name(gen.ifs[0], gen.target)):
        return Failed("a comprehension with a condition on row data")
    return mapped(walker, node, gen, Seq(tuple(items)), env, select=True)


def mapped(
    walker: Walker,
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
    steps = Pipeline(walker, gen.target.id).steps(node.elt, env)
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
            owner = self.walker.expr(target, env) if not same_name(target, self.var) else None
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
            helper = helper_steps(self.walker, func)
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


def helper_steps(walker: Walker, func: Func) -> list[tuple[str, tuple[Any, ...]]] | Failed:
    """A one-argument helper that only rewrites its argument: `text = text.strip()`..."""
    node = func.node
    assert isinstance(node, ast.FunctionDef)
    if len(node.args.args) != 1 or node.args.defaults:
        return Failed(f"the helper {node.name} in a comprehension")
    var = node.args.args[0].arg
    inner = walker.nested(func.module)
    pipeline = Pipeline(inner, var)
    steps: list[tuple[str, tuple[Any, ...]]] = []
    for stmt in body_of(node):
        if isinstance(stmt, ast.Expr):
            continue
        if isinstance(stmt, ast.Assign) and assigns_to(stmt, var):
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

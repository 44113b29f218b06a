"""Evaluate mapping expressions by walking their Jinja syntax tree, without compiling them.

Jinja turns every expression into Python source and compiles it, a few milliseconds
each; a catalog holds hundreds of distinct mapping expressions, and the compiler runs
each over a handful of fixture rows, so compiling them was a third of a fresh
`taskseed compile`. This module walks the parsed tree instead, for the node types that
mapping expressions use (names, constants, attribute and item access, filters, tests,
calls, arithmetic, comparisons, `~`, `x if c else y`, and templates made only of text
and `{{ }}` parts). It calls the sandboxed environment's own `getattr`, `getitem`,
`call`, `call_filter` and `call_test`, as compiled code does, so the sandbox's rules and
StrictUndefined's errors are unchanged, and it spends from the same budgets
(`jinja_budget.py`): operators and `~` go through the same checks, and every
evaluation runs within a time budget. Any other construct returns None from
`evaluator`, and the caller compiles the text with Jinja as before.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.runtime import Context, new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from taskseed.contract.jinja_budget import binop, concat, output, within
from taskseed.contract.jinja_env import environment, parse

Row = dict[str, Any]
Evaluator = Callable[[Row], Any]

# Jinja's operator of each node type, as `binop` takes it.
_BINARY: dict[type[nodes.Node], str] = {
    nodes.Add: "+",
    nodes.Sub: "-",
    nodes.Mul: "*",
    nodes.Div: "/",
    nodes.FloorDiv: "//",
    nodes.Mod: "%",
    nodes.Pow: "**",
}
_UNARY: dict[type[nodes.Node], Callable[[Any], Any]] = {
    nodes.Neg: operator.neg,
    nodes.Pos: operator.pos,
    nodes.Not: operator.not_,
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}
_LEAVES: tuple[type[nodes.Node], ...] = (nodes.Name, nodes.Const, nodes.TemplateData)
_BRANCHES: tuple[type[nodes.Node], ...] = (
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Pair,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Filter,
    nodes.Test,
    nodes.Call,
    nodes.Keyword,
    nodes.And,
    nodes.Or,
    nodes.Concat,
    nodes.Compare,
    nodes.Operand,
    nodes.CondExpr,
    *_BINARY,
    *_UNARY,
)


def evaluator(body: str, *, is_template: bool) -> Evaluator | None:
    """A function of a row that gives what Jinja would, or None when this module cannot
    evaluate the text (the caller compiles it then). Syntax errors propagate."""
    env = environment()
    if is_template:
        tree = parse(body)
        if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
            return None if tree.body else (lambda row: "")
        parts = tree.body[0].nodes
        if not all(_supported(part) for part in parts):
            return None
        return lambda row: within(_template, env, parts, row)
    expr = parse("{{ " + body + " }}").body
    if len(expr) != 1 or not isinstance(expr[0], nodes.Output) or len(expr[0].nodes) != 1:
        return None  # not a single expression
    node = expr[0].nodes[0]
    if not _supported(node):
        return None
    return lambda row: within(_expression, env, node, row)


def _expression(env: ImmutableSandboxedEnvironment, node: nodes.Node, row: Row) -> Any:
    return _Walk(env, row).eval(node)


def _template(env: ImmutableSandboxedEnvironment, parts: list[nodes.Node], row: Row) -> str:
    walk = _Walk(env, row)
    return concat(
        part.data if isinstance(part, nodes.TemplateData) else output(walk.eval(part))
        for part in parts
    )


def _supported(node: nodes.Node) -> bool:
    if isinstance(node, _LEAVES):
        return not isinstance(node, nodes.Name) or node.ctx == "load"
    if not isinstance(node, _BRANCHES):
        return False
    if isinstance(node, nodes.Filter | nodes.Test | nodes.Call) and (
        node.dyn_args is not None or node.dyn_kwargs is not None
    ):
        return False
    if isinstance(node, nodes.Filter) and node.node is None:  # a filter block
        return False
    if isinstance(node, nodes.CondExpr) and node.expr2 is None:  # Jinja's own undefined
        return False
    return all(_supported(child) for child in node.iter_child_nodes())


class _Walk:
    """One evaluation over one row."""

    __slots__ = ("_context", "env", "row")

    def __init__(self, env: ImmutableSandboxedEnvironment, row: Row) -> None:
        self.env = env
        self.row = row
        self._context: Context | None = None

    @property
    def context(self) -> Context:
        # Filters that take the context (`map`, `select`, ...) and calls need one.
        if self._context is None:
            self._context = new_context(self.env, None, {}, self.row, False, self.env.globals)
        return self._context

    def eval(self, node: nodes.Node) -> Any:
        env = self.env
        if isinstance(node, nodes.Name):
            if node.name in self.row:
                return self.row[node.name]
            if node.name in env.globals:
                return env.globals[node.name]
            return env.undefined(name=node.name)
        if isinstance(node, nodes.Const):
            return node.value
        if isinstance(node, nodes.Getattr):
            return env.getattr(self.eval(node.node), node.attr)
        if isinstance(node, nodes.Getitem):
            return env.getitem(self.eval(node.node), self.eval(node.arg))
        if isinstance(node, nodes.Slice):
            return slice(
                *(None if n is None else self.eval(n) for n in (node.start, node.stop, node.step))
            )
        if isinstance(node, nodes.List):
            return [self.eval(item) for item in node.items]
        if isinstance(node, nodes.Tuple):
            return tuple(self.eval(item) for item in node.items)
        if isinstance(node, nodes.Dict):
            return {self.eval(pair.key): self.eval(pair.value) for pair in node.items}
        if isinstance(node, nodes.Filter | nodes.Test | nodes.Call):
            assert node.node is not None  # filter blocks are not supported
            target = self.eval(node.node)
            args = [self.eval(arg) for arg in node.args]
            kwargs: dict[str, Any] = {str(kw.key): self.eval(kw.value) for kw in node.kwargs}
            if isinstance(node, nodes.Call):
                return env.call(self.context, target, *args, **kwargs)
            call = env.call_filter if isinstance(node, nodes.Filter) else env.call_test
            return call(node.name, target, args, kwargs, context=self.context)
        binary = _BINARY.get(type(node))
        if binary is not None:
            return binop(binary, self.eval(node.left), self.eval(node.right))  # type: ignore[attr-defined]
        unary = _UNARY.get(type(node))
        if unary is not None:
            return unary(self.eval(node.node))  # type: ignore[attr-defined]
        if isinstance(node, nodes.And):
            return self.eval(node.left) and self.eval(node.right)
        if isinstance(node, nodes.Or):
            return self.eval(node.left) or self.eval(node.right)
        if isinstance(node, nodes.Concat):
            return concat(self.eval(part) for part in node.nodes)
        if isinstance(node, nodes.CondExpr):
            assert node.expr2 is not None
            return self.eval(node.expr1) if self.eval(node.test) else self.eval(node.expr2)
        if isinstance(node, nodes.Compare):
            left = self.eval(node.expr)
            result: Any = True
            for operand in node.ops:
                right = self.eval(operand.expr)
                result = _COMPARE[operand.op](left, right)
                if not result:
                    return result
                left = right
            return result
        raise AssertionError(f"unsupported node {type(node).__name__}")  # see _supported

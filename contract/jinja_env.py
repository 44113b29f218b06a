"""The one Jinja environment: sandboxed, StrictUndefined, budgeted, shared by compiler
and runtime.

Prompt templates and mapping expressions are user-provided text, so they run in
Jinja's sandbox (no attribute access to Python internals), fail loudly on any
undefined name instead of rendering an empty string, and spend from the budgets of
`jinja_budget.py`: operators, calls, filters, `~`, loops and outputs are checked
before they can grow a value past its budget, every render runs within a time budget,
and the `regex_*` filters run on the `regex` engine with a timeout. An error while
rendering is always a `jinja2.TemplateError` (`BudgetExceeded`, or `RenderError`
around any other exception).
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from types import CodeType
from typing import Any, cast

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import TemplateError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from taskseed.contract import jinja_budget as budget
from taskseed.contract.jinja_budget import (
    BudgetExceeded,
    RenderError,
    regex_findall,
    regex_replace,
    regex_search,
    within,
)

__all__ = ["BudgetExceeded", "RenderError", "environment", "expression", "parse"]

LETTERS = string.ascii_uppercase


def letter(index: int) -> str:
    """0 -> A, 1 -> B, ..."""
    return LETTERS[index] if 0 <= index < len(LETTERS) else str(index + 1)


def option_labels(count: int, style: str = "letters") -> list[str]:
    if style == "numbers":
        return [str(i + 1) for i in range(count)]
    return [letter(i) for i in range(count)]


def options(choices: Sequence[Any], style: str = "letters") -> str:
    """`A. first\\nB. second`: the options as an exam would print them."""
    labels = option_labels(len(choices), style)
    return "\n".join(f"{label}. {text}" for label, text in zip(labels, choices, strict=True))


def boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` in a solution, braces balanced."""
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    open_at = text.find("{", start)
    if open_at < 0:
        return None
    depth = 0
    for index in range(open_at, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : index]
    return None


def from_json(text: str) -> Any:
    """Parse a JSON string held in a dataset field."""
    return json.loads(text)


FILTERS = {
    "options": options,
    "letter": letter,
    "boxed": boxed,
    "regex_search": regex_search,
    "regex_findall": regex_findall,
    "regex_replace": regex_replace,
    "from_json": from_json,
}


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with loops and `~` routed through the budgets."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        chars = sum(
            len(data.data) for item in node.body for data in item.find_all(nodes.TemplateData)
        )
        counted = nodes.Call(
            nodes.EnvironmentAttribute("budget_loop"),
            [node.iter, nodes.Const(chars)],
            [],
            None,
            None,
            lineno=node.iter.lineno,
        )
        copy = nodes.For(
            node.target,
            counted,
            node.body,
            node.else_,
            node.test,
            node.recursive,
            lineno=node.lineno,
        )
        super().visit_For(copy, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.budget_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BudgetedTemplate(Template):
    """A template whose every render runs within the budgets and raises only
    TemplateErrors."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        return within(_render, self, args, kwargs)


def _render(template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    try:
        return Template.render(template, *args, **kwargs)
    except TemplateError:
        raise
    except Exception as exc:  # a bad type, a division by zero, ...
        raise RenderError(f"{type(exc).__name__}: {exc}") from exc


def _guard_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter or test with its growth checked before it runs (see `filter_size`)."""
    passed = getattr(fn, "jinja_pass_arg", None)
    skip = 1 if passed is not None else 0

    def guarded(*args: Any, **kwargs: Any) -> Any:
        state = budget.tracker()
        state.check_time()
        values = list(args[skip:])
        size = budget.filter_size(name, values, kwargs)
        if size is not None:
            budget.check_chars(size, f"`{name}`")
        return budget.check_value(fn(*args, **kwargs), f"`{name}`")

    guarded.__name__ = getattr(fn, "__name__", name)
    guarded.__doc__ = fn.__doc__
    if passed is not None:
        guarded.jinja_pass_arg = passed  # type: ignore[attr-defined]
    return guarded


# How deep a template may nest: statement blocks (`for`, `if`, `macro`, ...; Python
# compiles at most 20 nested loops in one function) and syntax-tree nodes in all
# (Jinja's parser and code generator recurse on them). Prompts need a handful.
MAX_BLOCK_DEPTH = 16
MAX_NODE_DEPTH = 64
_BLOCKS = (
    nodes.For,
    nodes.If,
    nodes.Macro,
    nodes.CallBlock,
    nodes.FilterBlock,
    nodes.With,
    nodes.Block,
    nodes.ScopedEvalContextModifier,
)


def _check_depth(tree: nodes.Template, name: str | None) -> None:
    """TemplateSyntaxError where a template nests deeper than Jinja and Python compile
    (so that what the compiler accepts, the runtime can render)."""
    stack: list[tuple[nodes.Node, int, int]] = [(tree, 0, 0)]
    while stack:
        node, depth, blocks = stack.pop()
        if isinstance(node, _BLOCKS):
            blocks += 1
        if depth > MAX_NODE_DEPTH or blocks > MAX_BLOCK_DEPTH:
            what = (
                f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels"
                if blocks > MAX_BLOCK_DEPTH
                else f"the template nests deeper than {MAX_NODE_DEPTH} levels"
            )
            raise TemplateSyntaxError(what, getattr(node, "lineno", 1) or 1, name)
        stack.extend((child, depth + 1, blocks) for child in node.iter_child_nodes())


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the budgets of `jinja_budget.py` applied."""

    code_generator_class = _CodeGenerator
    template_class = BudgetedTemplate
    intercepted_binops = budget.INTERCEPTED

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        try:
            tree = super()._parse(source, name, filename)
        except TemplateSyntaxError:
            raise
        except RecursionError:
            raise TemplateSyntaxError("the template nests too deeply to be read", 1) from None
        except Exception as exc:  # Jinja's lexer and parser on odd input
            raise TemplateSyntaxError(f"the template cannot be read: {exc}", 1) from None
        _check_depth(tree, name)
        return tree

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        try:
            return super()._generate(source, name, filename, defer_init)
        except RecursionError:
            raise TemplateSyntaxError("the template nests too deeply to be compiled", 1) from None

    def _compile(self, source: str, filename: str) -> CodeType:
        try:
            return super()._compile(source, filename)
        except (RecursionError, SyntaxError, MemoryError) as exc:  # Python's own limits
            raise TemplateSyntaxError(f"the template cannot be compiled: {exc}", 1) from None

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            finalize=budget.output,
        )
        self.filters.update(FILTERS)
        filters = cast(dict[str, Callable[..., Any]], self.filters)
        tests = cast(dict[str, Callable[..., Any]], self.tests)
        self.filters = {name: _guard_filter(name, fn) for name, fn in filters.items()}
        self.tests = {name: _guard_filter(name, fn) for name, fn in tests.items()}
        self.globals.pop("lipsum", None)  # pages of placeholder text: no use in a prompt
        self.globals["range"] = budget.bounded_range
        self.globals["namespace"] = budget.BoundedNamespace

    budget_concat = staticmethod(budget.concat)

    @staticmethod
    def budget_loop(iterable: Any, chars: int) -> Any:
        return budget.loop(iterable, chars)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return budget.binop(operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if __obj is __self.budget_loop:
            return __obj(*args)
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (budget.loop(args[0], 0), *args[1:])
        size = budget.method_size(__obj, args, kwargs)
        if size is not None:
            budget.check_chars(size, f"`{getattr(__obj, '__name__', 'a call')}`")
        elif getattr(__obj, "__name__", None) == "join" and args:
            owner = getattr(__obj, "__self__", None)
            if isinstance(owner, str | bytes):
                items = list(args[0])
                budget.check_items(len(items), "`join`")
                budget.check_chars(budget.joined_size(owner, items), "`join`")
                args = (items, *args[1:])
        with budget.enter_call():
            result = super().call(__context, __obj, *args, **kwargs)
        return budget.check_value(result, f"`{getattr(__obj, '__name__', 'a call')}`")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        template = value.__self__
        is_map = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            given = args[0] if is_map and args and isinstance(args[0], dict) else kwargs
            budget.check_str_format(template, () if is_map else args, given)
            return budget.check_value(formatter(*args, **kwargs), "`format`")

        return checked


@cache
def environment() -> BudgetedEnvironment:
    return BudgetedEnvironment()


@lru_cache(maxsize=8192)
def parse(text: str) -> nodes.Template:
    """The syntax tree of a template, parsed once per text (the trees are only read).
    A syntax error is raised again on every call: nothing is cached for it. Jinja's and
    Python's own limits (nesting too deep to compile, a number too long to read) are
    syntax errors too."""
    return environment().parse(text)


def expression(body: str) -> Callable[[dict[str, Any]], Any]:
    """A Jinja expression compiled by Jinja, as a budgeted function of a row."""
    try:
        compiled = environment().compile_expression(body, undefined_to_none=False)
    except TemplateSyntaxError:
        raise
    except RecursionError:
        raise TemplateSyntaxError("the expression nests too deeply to be read", 1) from None
    return lambda row: within(compiled, **row)

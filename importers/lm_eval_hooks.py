"""lm-eval's Python hooks (`!function utils.doc_to_text`) as mapping expressions.

A hook is read from its file's syntax tree and followed by `py_eval` over a symbolic
row; nothing is imported or run. `process_docs` (a function of a whole
`datasets.Dataset`) gives the fields it writes or replaces (`Dataset.map`) and the
conditions rows must meet (`Dataset.filter`, which becomes `seeds.where`); `doc_to_text`,
`doc_to_target` and `doc_to_choice` (functions of one row) give one value each, read
over the row `process_docs` made. A hook that cannot be followed yields a `HookFailure`
naming the function, its file and the construct that stopped the walker.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from taskseed.importers.lm_eval_yaml import Config, FunctionRef
from taskseed.importers.py_eval import Walker
from taskseed.importers.py_module import Context, Env, Module
from taskseed.importers.py_ops import derive
from taskseed.importers.py_values import Failed, Row, Rows, Value, render, wrap

PACKAGE_PREFIX = "lm_eval."
ROW_HOOKS = ("doc_to_text", "doc_to_target", "doc_to_choice")
HOOK_KEYS = ("process_docs", *ROW_HOOKS)


@dataclass(frozen=True)
class HookFailure:
    """A hook left to finish by hand: which function, in which file, and why."""

    key: str  # the lm-eval key: process_docs, doc_to_text, ...
    function: str
    file: Path
    reason: str


@dataclass(frozen=True)
class Followed:
    """A row hook read as a value, with what the reading assumed (comment lines)."""

    value: Value
    function: str
    file: Path
    notes: tuple[str, ...] = ()


@dataclass
class RowPlan:
    """What `process_docs` does to the rows: the row it makes and the conditions kept."""

    function: str
    file: Path
    row: Row = field(default_factory=Row)
    keep: list[Value] = field(default_factory=list)
    notes: tuple[str, ...] = ()

    def where(self) -> str | None:
        """The conditions as one `seeds.where` expression (raises Untranslatable)."""
        texts = [render(test) for test in self.keep]
        if not texts:
            return None
        if len(texts) == 1:
            return texts[0].text
        return " and ".join(wrap(t) for t in texts)


class HookReader:
    """Parses hook modules once each and follows their functions."""

    def __init__(self, tasks_root: Path | None) -> None:
        self.tasks_root = tasks_root
        self._modules: dict[Path, Module | None] = {}

    def module(self, path: Path) -> Module | None:
        key = path.resolve()
        if key not in self._modules:
            try:
                source = key.read_text(encoding="utf-8")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # lm-eval's own invalid escapes
                    self._modules[key] = Module(key, source, self.load)
            except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
                self._modules[key] = None
        return self._modules[key]

    def load(self, dotted: str, importer: Path) -> Module | None:
        """A module a hook module imports from: a sibling, or a file of lm-eval."""
        if dotted.startswith("."):
            level = len(dotted) - len(dotted.lstrip("."))
            folder = importer.parent
            for _ in range(level - 1):
                folder = folder.parent
            target = folder.joinpath(*dotted.lstrip(".").split(".")).with_suffix(".py")
        elif dotted.startswith(PACKAGE_PREFIX) and self.tasks_root is not None:
            parts = dotted[len(PACKAGE_PREFIX) :].split(".")
            target = self.tasks_root.parent.joinpath(*parts).with_suffix(".py")
        else:
            target = importer.parent.joinpath(*dotted.split(".")).with_suffix(".py")
        return self.module(target) if target.is_file() else None

    @staticmethod
    def locate(config: Config, key: str) -> tuple[Path, str] | None:
        """The file and function name of a `!function` value, if `key` holds one."""
        ref = config.get(key)
        if not isinstance(ref, FunctionRef):
            return None
        return ref.module_file(config.origin(key).path.parent), ref.target.rpartition(".")[2]

    def rows(self, config: Config) -> RowPlan | HookFailure | None:
        """`process_docs` followed over a symbolic dataset; None when there is none."""
        found = self.locate(config, "process_docs")
        if found is None:
            return None
        path, name = found
        context = Context(IDIOMS)
        result = self._call(path, name, Rows(), context)
        if isinstance(result, str):
            return HookFailure("process_docs", name, path, result)
        if isinstance(result, Rows):
            notes = tuple(context.notes)
            return RowPlan(name, path, result.row, list(result.keep), notes)
        return HookFailure("process_docs", name, path, "it does not return a dataset")

    def value(self, config: Config, key: str, row: Row) -> Followed | HookFailure:
        """A row hook (`doc_to_text`, ...) followed over `row`."""
        found = self.locate(config, key)
        assert found is not None, key
        path, name = found
        context = Context(IDIOMS)
        result = self._call(path, name, row, context)
        if isinstance(result, str):
            return HookFailure(key, name, path, result)
        return Followed(result, name, path, tuple(context.notes))

    def _call(self, path: Path, name: str, arg: Value, context: Context) -> Value | str:
        """The function's result over `arg`, or why it has none."""
        module = self.module(path)
        if module is None:
            return "its file cannot be read as Python" if path.is_file() else "its file is missing"
        walker = Walker(module, context)
        func = walker.function(name)
        if func is None:
            return "the function is not defined at the top of its file"
        result = walker.call(func, [arg], {})
        return result.reason if isinstance(result, Failed) else result


# ------------------------------------------------------------------- idioms


def _called(node: ast.expr, name: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and len(node.args) == 1
        and not node.keywords
    )


BOXED_NOTE = (
    "lm-eval's remove_boxed(last_boxed_only_string(...)) is read as the `boxed` filter: "
    "the content of the last \\boxed{...} (a `\\fbox{...}` or a brace-less `\\boxed x` "
    "is not read)."
)


def boxed_answer(node: ast.Call, walker: Walker, env: Env) -> Value | None:
    """lm-eval's math tasks take a solution's answer with two helpers that loop over its
    characters; together they are what the `boxed` filter does."""
    if not (_called(node, "remove_boxed") and _called(node.args[0], "last_boxed_only_string")):
        return None
    inner = node.args[0]
    assert isinstance(inner, ast.Call)
    if BOXED_NOTE not in walker.context.notes:
        walker.context.notes.append(BOXED_NOTE)
    return derive(lambda text: f"{wrap(text)}|boxed", walker.expr(inner.args[0], env), kind="str")


IDIOMS = (boxed_answer,)

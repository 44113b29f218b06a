"""The Python files a hook walker reads, and the functions and names it calls.

`Module` is one file, parsed (never imported): its functions, constants and imports.
`Func` and `Builtin` are the callables a walker meets; `Context` is what the walkers
of one translation share.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from taskseed.importers.py_values import Symbolic, Value

if TYPE_CHECKING:
    from taskseed.importers.py_eval import Walker

MAX_DEPTH = 12  # nested helper calls followed before giving up
MAX_UNROLL = 64  # loop iterations unrolled at most

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


def body_of(node: ast.FunctionDef) -> list[ast.stmt]:
    return list(node.body)


def same_name(node: ast.expr, target: ast.expr | str) -> bool:
    name = target if isinstance(target, str) else getattr(target, "id", None)
    return isinstance(node, ast.Name) and node.id == name


def assigns_to(stmt: ast.Assign, var: str) -> bool:
    return len(stmt.targets) == 1 and same_name(stmt.targets[0], var)

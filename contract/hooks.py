"""Python hooks: the one way a plan runs code of its own, and only when trusted.

A spec may give a mapping field or its row filter as a Python function in a file of the
catalog (`{hook: hooks/logiqa.py:doc_to_text}`), as lm-eval does with `!function`. The
plan records each hook (`Unit.hooks`: the file relative to the plan root, the function,
and the SHA-256 of the file the compiler checked), and the field's expression is the
hook's reference, `hook:<file>:<function>`, which `mapping.compile_expr` turns into a
call through this module.

Nothing runs unless this process was told to trust the plan's hooks (`allow`), which
only the command line does, for `--trust-hooks`. A hook file whose content changed since
it was compiled is refused. A hook is called with a copy of the row, so that it cannot
change what the rest of the pipeline sees.
"""

from __future__ import annotations

import copy
import hashlib
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "hook:"


class HookError(Exception):
    """A hook that may not run, cannot be loaded, or changed since it was compiled."""


def reference(file: str, function: str) -> str:
    """The expression text that stands for a hook in a plan."""
    return f"{PREFIX}{file}:{function}"


def parse_reference(text: str) -> tuple[str, str] | None:
    """`hook:hooks/x.py:f` -> ("hooks/x.py", "f"); None for an ordinary expression."""
    if not text.startswith(PREFIX):
        return None
    file, _, function = text[len(PREFIX) :].rpartition(":")
    return (file, function) if file and function else None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Allowed:
    path: Path
    function: str
    sha256: str


class HookGate:
    """The hooks this process may run: none until `allow` is called."""

    def __init__(self) -> None:
        self._allowed: dict[str, Allowed] = {}
        self._loaded: dict[Allowed, Callable[..., Any]] = {}

    def allow(self, hooks: Iterable[tuple[str, str, str]], root: Path) -> None:
        """Trust these hooks (file relative to `root`, function, SHA-256)."""
        for file, function, sha256 in hooks:
            self._allowed[reference(file, function)] = Allowed(root / file, function, sha256)

    def revoke(self) -> None:
        self._allowed.clear()
        self._loaded.clear()

    def allowed(self, text: str) -> bool:
        return text in self._allowed

    def call(self, text: str, row: dict[str, Any]) -> Any:
        allowed = self._allowed.get(text)
        if allowed is None:
            raise HookError(
                f"{text[len(PREFIX) :]} is a Python hook, and hooks run only when trusted "
                "(--trust-hooks)"
            )
        function = self._loaded.get(allowed)
        if function is None:
            function = self._load(allowed)
        return plain(function(copy.deepcopy(row)))

    def _load(self, allowed: Allowed) -> Callable[..., Any]:
        try:
            source = allowed.path.read_bytes()
        except OSError as exc:
            raise HookError(f"cannot read hook file {allowed.path}: {exc.strerror}") from None
        if digest(source) != allowed.sha256:
            raise HookError(
                f"hook file {allowed.path} changed since the plan was compiled; compile again"
            )
        module = _module(allowed.path, source)
        function: Callable[..., Any] | None = getattr(module, allowed.function, None)
        if function is None or not callable(function):
            raise HookError(f"{allowed.path} defines no function `{allowed.function}`")
        self._loaded[allowed] = function
        return function


def _module(path: Path, source: bytes) -> types.ModuleType:
    """The hook file run as a module, from the bytes that were hashed."""
    name = f"taskseed_hook_{digest(str(path).encode() + source)[:16]}"
    if name in sys.modules:
        return sys.modules[name]
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except Exception as exc:
        del sys.modules[name]
        raise HookError(f"cannot load hook file {path}: {type(exc).__name__}: {exc}") from None
    return module


def plain(value: Any) -> Any:
    """numpy scalars and arrays (which some lm-eval hooks return) as Python values."""
    if isinstance(value, bool | int | float | str | type(None) | list | dict | tuple):
        return value
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


GATE = HookGate()

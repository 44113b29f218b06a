"""Python hooks in specs (`{hook: hooks/x.py:fn}`), checked without running them.

Specs come from pull requests and `taskseed validate` runs on them in CI, so validation
never imports a hook: it checks the file statically. The file must be a `.py` file in
the folder of the spec that names it or below (symbolic links resolved), read as text
and parsed with `ast`; the function must be defined at its top level and take the row
as its one required argument. The plan records the file's SHA-256, so that a run
refuses a file that changed after it was checked. Running hooks on the fixture rows,
and in runs, is for `--trust-hooks` only (`contract/hooks.py`).
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.source import Span, display_path
from taskseed.compiler.spec import HookSpec
from taskseed.contract.hooks import digest, reference
from taskseed.contract.plan import PlanHook


@dataclass
class HookChecker:
    diagnostics: Diagnostics
    root: Path
    _files: dict[Path, tuple[bytes, ast.Module] | None] = field(default_factory=dict)

    def check(self, hook: HookSpec, spec_dir: Path, span: Span, where: str) -> PlanHook | None:
        """The plan's record of a hook, or None (with a diagnostic) when it is unusable."""
        file_text, _, function = hook.hook.rpartition(":")
        folder = Path(os.path.realpath(spec_dir))
        real = Path(os.path.realpath(spec_dir / file_text))
        if Path(file_text).is_absolute() or not real.is_relative_to(folder):
            self.diagnostics.add(
                "TS601",
                f"hook file {file_text} is outside the folder of the spec that names it "
                f"({display_path(spec_dir)})",
                span,
                notes=["a hook file is a path relative to the spec, in its folder or below"],
            )
            return None
        loaded = self._read(real, file_text, span)
        if loaded is None:
            return None
        source, tree = loaded
        definition = next(
            (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function),
            None,
        )
        if definition is None:
            defined = sorted(n.name for n in tree.body if isinstance(n, ast.FunctionDef))
            self.diagnostics.add(
                "TS603",
                f"{file_text} defines no top-level function `{function}`",
                span,
                notes=[f"functions in {file_text}: {', '.join(defined) or 'none'}"],
            )
            return None
        problem = _arity_problem(definition)
        if problem is not None:
            self.diagnostics.add("TS603", f"hook `{function}` {problem}", span)
            return None
        rel = Path(os.path.relpath(real, os.path.realpath(self.root))).as_posix()
        return PlanHook(file=rel, function=function, sha256=digest(source), fields=[where])

    def _read(self, path: Path, shown: str, span: Span) -> tuple[bytes, ast.Module] | None:
        if path not in self._files:
            self._files[path] = self._parse(path, shown, span)
        return self._files[path]

    def _parse(self, path: Path, shown: str, span: Span) -> tuple[bytes, ast.Module] | None:
        if path.suffix != ".py" or not path.is_file():
            what = "is not a .py file" if path.is_file() else "does not exist"
            self.diagnostics.add("TS601", f"hook file {shown} {what}", span)
            return None
        source = path.read_bytes()
        try:
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, ValueError) as exc:
            where = f"{shown}:{exc.lineno}" if isinstance(exc, SyntaxError) else shown
            message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
            self.diagnostics.add(
                "TS602",
                f"hook file {shown} is not valid Python",
                span,
                notes=[f"{where}: {message}"],
            )
            return None
        return source, tree


def _arity_problem(definition: ast.FunctionDef) -> str | None:
    """Why a function cannot be called with the row as its one argument, if it cannot."""
    args = definition.args
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    required_kw = [
        a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None
    ]
    if required_kw:
        return f"needs keyword arguments ({', '.join(required_kw)}); a hook takes only the row"
    if not positional and args.vararg is None:
        return "takes no argument; a hook is called with the row"
    if required > 1:
        return f"needs {required} arguments; a hook is called with the row only"
    return None


def hook_reference(hook: PlanHook) -> str:
    return reference(hook.file, hook.function)


def merge_hooks(hooks: list[PlanHook]) -> list[PlanHook]:
    """One record per file and function, with every field that calls it."""
    merged: dict[tuple[str, str], PlanHook] = {}
    for hook in hooks:
        key = (hook.file, hook.function)
        if key in merged:
            merged[key].fields.extend(f for f in hook.fields if f not in merged[key].fields)
        else:
            merged[key] = PlanHook(
                file=hook.file, function=hook.function, sha256=hook.sha256, fields=list(hook.fields)
            )
    return sorted(merged.values(), key=lambda h: (h.file, h.function))

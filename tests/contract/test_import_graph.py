"""The contract is upstream of the compiler and the runtime: checked on the import graph.

Every `import` and `from ... import` of every module (at any depth, inside functions
too) is read from its syntax tree and resolved to a module of the package; then the
modules each package reaches, directly or through others, are computed. The runtime
may reach the contract but never the compiler; the contract reaches neither.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import REPO

# Import package -> folder, as pyproject.toml maps them.
PACKAGES = {
    "taskseed.cli": "cli",
    "taskseed.compiler": "compiler",
    "taskseed.contract": "contract",
    "taskseed.importers": "importers",
    "taskseed.runtime": "runtime",
    "taskseed.runtime.engines": "runtime/engines",
}


def module_file(name: str) -> Path | None:
    """The file of a taskseed module, or None when `name` is not one."""
    for package in sorted(PACKAGES, key=len, reverse=True):
        if name == package:
            return REPO / PACKAGES[package] / "__init__.py"
        if name.startswith(package + "."):
            rest = name[len(package) + 1 :].split(".")
            path = REPO / PACKAGES[package] / Path(*rest)
            if path.with_suffix(".py").is_file():
                return path.with_suffix(".py")
            if (path / "__init__.py").is_file():
                return path / "__init__.py"
    return None


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    for package, folder in sorted(PACKAGES.items(), key=lambda p: len(p[1]), reverse=True):
        parts = relative.parts
        folder_parts = Path(folder).parts
        if parts[: len(folder_parts)] == folder_parts:
            rest = parts[len(folder_parts) :]
            if rest == ("__init__",):
                return package
            return ".".join((package, *rest))
    raise ValueError(path)


def imported(path: Path) -> Iterator[str]:
    """Every module name an import statement in `path` names (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0]
    if path.name == "__init__.py":
        package = module_name(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            for alias in node.names:  # `from pkg import module`
                yield f"{base}.{alias.name}"


@cache
def direct(name: str) -> frozenset[str]:
    path = module_file(name)
    if path is None:
        return frozenset()
    found = set()
    for target in imported(path):
        if module_file(target) is not None:
            found.add(target)
        # `import taskseed.x.y` also runs taskseed.x's __init__
    return frozenset(found)


def reachable(start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        name = stack.pop()
        for other in direct(name):
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def modules_of(folder: str) -> list[str]:
    return sorted(module_name(p) for p in (REPO / folder).rglob("*.py"))


def test_the_graph_is_read() -> None:
    # A check of the checker: the runtime's pipeline does reach the contract's plan and
    # the compiler's driver does reach its phases.
    assert "taskseed.contract.plan" in reachable("taskseed.runtime.run")
    assert "taskseed.compiler.validate" in reachable("taskseed.compiler.driver")
    assert "taskseed.compiler.driver" in reachable("taskseed.cli.run_cmd")


@pytest.mark.parametrize("module", modules_of("runtime"))
def test_the_runtime_never_reaches_the_compiler(module: str) -> None:
    bad = sorted(m for m in reachable(module) if m.startswith("taskseed.compiler"))
    assert not bad, f"{module} reaches {bad}"


@pytest.mark.parametrize("module", modules_of("contract"))
def test_the_contract_reaches_neither_side(module: str) -> None:
    bad = sorted(
        m
        for m in reachable(module)
        if m.startswith(("taskseed.compiler", "taskseed.runtime", "taskseed.cli"))
    )
    assert not bad, f"{module} reaches {bad}"


def test_a_violation_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check fails when a runtime module imports the compiler inside a function."""
    fake = REPO / "runtime" / "_import_graph_probe.py"
    fake.write_text("def f():\n    from taskseed.compiler import driver\n    return driver\n")
    try:
        direct.cache_clear()
        bad = [m for m in reachable(module_name(fake)) if m.startswith("taskseed.compiler")]
        assert "taskseed.compiler.driver" in bad
    finally:
        fake.unlink()
        direct.cache_clear()

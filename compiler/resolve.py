"""Phase 3, resolve: `extends` chains, then subtasks (lists and matrices).

Each file comes from the document store (`documents.py`: loaded and validated in partial
mode once), its `extends` files are resolved depth-first with cycle detection, and the
result is merged by the rules in `merge.py`.
Then the task's subtasks are expanded into units: one merged tree per subtask, each
value still carrying the span of the file that wrote it.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.documents import Documents
from taskseed.compiler.files import Catalog, Refusal
from taskseed.compiler.merge import merge, strip_nulls, without
from taskseed.compiler.nodes import Entry, MapNode, Node, ScalarNode, SeqNode, to_plain
from taskseed.compiler.source import Span, display_path
from taskseed.contract.suggest import did_you_mean

DEFAULT_SUBTASK = "default"
SPEC_SUFFIXES = (".yaml", ".yml")
# Subtasks one task may expand to (a matrix multiplies its axes; the catalog's largest
# task has 176).
MAX_SUBTASKS = 10_000
# Files one `extends` chain may pass through (the catalog's longest has 3).
MAX_EXTENDS_DEPTH = 32
PLACEHOLDER = re.compile(r"\$(\$?)\{([^}]*)\}")


@dataclass(slots=True)
class ResolvedUnit:
    task: str
    subtask: str
    file: Path  # the task's spec file
    tree: MapNode  # merged, without `extends` and `subtasks`
    vars: dict[str, Any]
    origin: Span  # where this unit was declared (the task, or the subtask's name)


@dataclass
class Resolver:
    diagnostics: Diagnostics
    documents: Documents
    catalog: Catalog
    _resolved: dict[Path, MapNode | None] = field(default_factory=dict)

    # ------------------------------------------------------------------ files

    def resolve_file(
        self, path: Path, stack: tuple[Path, ...] = (), named_at: Span | None = None
    ) -> MapNode | None:
        """The file merged over everything it extends."""
        key = path.resolve()
        if key in self._resolved:
            return self._resolved[key]
        root = self.documents.get(path, named_at)
        if root is None:
            self._resolved[key] = None
            return None
        merged: MapNode | None = None
        for target, span in self._extends_targets(root, key):
            if target in (*stack, key):
                chain = [*stack, key, target]
                start = chain.index(target)
                shown = " -> ".join(display_path(p) for p in chain[start:])
                self.diagnostics.add(
                    "TS301",
                    f"`extends` cycle: {shown}",
                    span,
                    label="this edge closes the cycle",
                    notes=[f"the chain: {shown}"],
                )
                continue
            if len(stack) + 1 >= MAX_EXTENDS_DEPTH:
                self.diagnostics.add(
                    "TS311",
                    f"`extends` chains are limited to {MAX_EXTENDS_DEPTH} files; this one goes "
                    f"on past {display_path(self.documents.shown(key))}",
                    span,
                    label="not followed",
                )
                continue
            if not target.exists():
                self.diagnostics.add(
                    "TS300",
                    f"`extends` names a file that does not exist: "
                    f"{display_path(self.documents.shown(target))}",
                    span,
                    label="not found",
                )
                continue
            parent = self.resolve_file(target, (*stack, key), span)
            if parent is not None:
                merged = parent if merged is None else _as_map(merge(merged, parent))
        local = without(root, "extends")
        result = (
            _as_map(merge(merged, local)) if merged is not None else _as_map(strip_nulls(local))
        )
        self._resolved[key] = result
        return result

    def _extends_targets(self, root: MapNode, key: Path) -> list[tuple[Path, Span]]:
        node = root.get("extends")
        if node is None:
            return []
        items = node.items if isinstance(node, SeqNode) else [node]
        out = []
        for item in items:
            if not isinstance(item, ScalarNode) or not isinstance(item.value, str):
                continue
            located = self.catalog.locate(key.parent, item.value)
            if isinstance(located, Refusal):
                self.diagnostics.add(located.code, located.message, item.span, notes=located.notes)
                continue
            if located.path.suffix not in SPEC_SUFFIXES:
                self.diagnostics.add(
                    "TS309",
                    f"`extends` names `{located.path.name}`, not a YAML file",
                    item.span,
                    notes=["`extends` takes spec files ending in .yaml or .yml"],
                )
                continue
            target = Path(located.real)
            self.documents.name(target, located.path)
            out.append((target, item.span))
        return out

    # --------------------------------------------------------------- subtasks

    def units(self, path: Path) -> list[ResolvedUnit]:
        tree = self.resolve_file(path)
        if tree is None:
            return []
        task = tree.scalar("task")
        if not isinstance(task, str):
            return []  # reported by full validation of the file
        base = without(tree, "subtasks")
        subtasks = tree.get("subtasks")
        if subtasks is None:
            return [ResolvedUnit(task, DEFAULT_SUBTASK, path, base, _vars(base), tree.span)]
        if isinstance(subtasks, SeqNode):
            return self._list_units(task, path, base, subtasks)
        if isinstance(subtasks, MapNode):
            return self._matrix_units(task, path, base, subtasks)
        return []

    def _list_units(
        self, task: str, path: Path, base: MapNode, items: SeqNode
    ) -> list[ResolvedUnit]:
        if len(items.items) > MAX_SUBTASKS:
            self.diagnostics.add(
                "TS310",
                f"the task lists {len(items.items):,} subtasks; a task may have at most "
                f"{MAX_SUBTASKS:,}",
                items.span,
            )
            return []
        units: list[ResolvedUnit] = []
        seen: dict[str, Span] = {}
        for item in items.items:
            if not isinstance(item, MapNode):
                continue
            name_node = item.get("name")
            if not isinstance(name_node, ScalarNode) or not isinstance(name_node.value, str):
                continue
            name = name_node.value
            if self._duplicate(task, name, name_node.span, seen):
                continue
            tree = _as_map(merge(base, without(item, "name")))
            units.append(ResolvedUnit(task, name, path, tree, _vars(tree), name_node.span))
        return units

    def _matrix_units(
        self, task: str, path: Path, base: MapNode, spec: MapNode
    ) -> list[ResolvedUnit]:
        axes_node = spec.get("matrix")
        name_node = spec.get("name")
        if not isinstance(axes_node, MapNode) or not isinstance(name_node, ScalarNode):
            return []
        axes: dict[str, list[Any]] = {}
        for entry in axes_node:
            values = to_plain(entry.value) if isinstance(entry.value, SeqNode) else []
            if not values:
                self.diagnostics.add(
                    "TS305", f"matrix axis `{entry.key}` has no values", entry.key_span
                )
                return []
            if len(set(map(str, values))) != len(values):
                self.diagnostics.add(
                    "TS305", f"matrix axis `{entry.key}` repeats a value", entry.value.span
                )
                return []
            axes[entry.key] = values
        if not axes:
            self.diagnostics.add("TS305", "the matrix has no axes", axes_node.span)
            return []
        combinations = math.prod(len(values) for values in axes.values())
        if combinations > MAX_SUBTASKS:
            self.diagnostics.add(
                "TS310",
                f"the matrix has {combinations:,} combinations; a task may have at most "
                f"{MAX_SUBTASKS:,} subtasks",
                axes_node.span,
            )
            return []
        excluded = self._excludes(spec.get("exclude"), axes)
        overrides = spec.get("with")
        units: list[ResolvedUnit] = []
        named: dict[str, dict[str, Any]] = {}
        reported: set[tuple[int, int, str]] = set()
        for combo in itertools.product(*axes.values()):
            values = dict(zip(axes, combo, strict=True))
            if any(all(values[k] == v for k, v in ex.items()) for ex in excluded):
                continue
            known = len(reported)
            name_sub = self._substitute(name_node, values, reported)
            assert isinstance(name_sub, ScalarNode)
            name = str(name_sub.value)
            if name in named:
                if len(reported) == known and "${" not in name:
                    both = " and ".join(_combo(v) for v in (named[name], values))
                    self.diagnostics.add(
                        "TS303",
                        f"task `{task}` has two subtasks named `{name}`",
                        name_node.span,
                        notes=[f"{both} give the same name; use every axis in `name`"],
                    )
                continue
            named[name] = values
            tree = base
            if isinstance(overrides, MapNode):
                tree = _as_map(merge(base, self._substitute(overrides, values, reported)))
            unit_vars = {**_vars(tree), **values}
            units.append(ResolvedUnit(task, name, path, tree, unit_vars, name_node.span))
        if not units and not self.diagnostics.has_errors:
            self.diagnostics.add("TS305", "the matrix excludes every combination", spec.span)
        return units

    def _excludes(self, node: Node | None, axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
        if not isinstance(node, SeqNode):
            return []
        out = []
        for item in node.items:
            if not isinstance(item, MapNode):
                continue
            ok = True
            for entry in item:
                if entry.key not in axes:
                    self.diagnostics.add(
                        "TS305",
                        f"`exclude` names an axis the matrix does not have: `{entry.key}`",
                        entry.key_span,
                        label=did_you_mean(entry.key, axes),
                    )
                    ok = False
                elif to_plain(entry.value) not in axes[entry.key]:
                    self.diagnostics.add(
                        "TS305",
                        f"`exclude` names a value that axis `{entry.key}` does not have",
                        entry.value.span,
                    )
                    ok = False
            if ok:
                out.append(to_plain(item))
        return out

    def _substitute(
        self, node: Node, values: dict[str, Any], reported: set[tuple[int, int, str]]
    ) -> Node:
        """Replace `${axis}` in every string below `node`; `$${x}` stays literal `${x}`."""
        if isinstance(node, MapNode):
            return MapNode(
                node.span,
                {
                    k: Entry(e.key, e.key_span, self._substitute(e.value, values, reported))
                    for k, e in node.entries.items()
                },
            )
        if isinstance(node, SeqNode):
            return SeqNode(node.span, [self._substitute(i, values, reported) for i in node.items])
        if not isinstance(node.value, str) or "${" not in node.value:
            return node

        def replace(match: re.Match[str]) -> str:
            escaped, inner = match.group(1), match.group(2)
            if escaped:
                return "${" + inner + "}"
            name = inner.strip()
            if name in values:
                return str(values[name])
            key = (node.span.line, node.span.col, name)
            if key not in reported:
                reported.add(key)
                hint = did_you_mean(name, values)
                self.diagnostics.add(
                    "TS304",
                    f"`${{{name}}}` is not a matrix axis (axes: {', '.join(values)})",
                    node.span,
                    label=hint,
                )
            return match.group(0)

        text = PLACEHOLDER.sub(replace, node.value)
        return ScalarNode(text, node.span, node.style, node.body_line, node.body_col)

    def _duplicate(self, task: str, name: str, span: Span, seen: dict[str, Span]) -> bool:
        if name in seen:
            self.diagnostics.add(
                "TS303",
                f"task `{task}` has two subtasks named `{name}`",
                span,
                notes=[f"the first is at {seen[name]}"],
            )
            return True
        seen[name] = span
        return False


def _combo(values: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in values.items()) + ")"


def _as_map(node: Node) -> MapNode:
    assert isinstance(node, MapNode)
    return node


def _vars(tree: MapNode) -> dict[str, Any]:
    node = tree.get("vars")
    value = to_plain(node) if node is not None else {}
    return value if isinstance(value, dict) else {}

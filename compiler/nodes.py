"""The positioned YAML tree that the phases pass along.

The loader turns ruamel's round-trip objects into these nodes once; from then on every
value carries its span, merged trees keep the span of the file each value came from,
and `to_plain` gives the plain Python value that msgspec converts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from taskseed.compiler.source import Span

Scalar: TypeAlias = str | int | float | bool | None
PathPart: TypeAlias = str | int
Path: TypeAlias = tuple[PathPart, ...]


@dataclass(slots=True)
class ScalarNode:
    value: Scalar
    span: Span
    # plain, single, double, literal (|) or folded (>); templates use it to map lines.
    style: str = "plain"
    # For literal and folded scalars: the 1-based line and column where the content starts.
    body_line: int = 0
    body_col: int = 0


@dataclass(slots=True)
class Entry:
    key: str
    key_span: Span
    value: Node


@dataclass(slots=True)
class MapNode:
    span: Span
    entries: dict[str, Entry] = field(default_factory=dict)

    def get(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        return entry.value if entry is not None else None

    def scalar(self, key: str) -> Scalar:
        node = self.get(key)
        return node.value if isinstance(node, ScalarNode) else None

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())


@dataclass(slots=True)
class SeqNode:
    span: Span
    items: list[Node] = field(default_factory=list)


Node: TypeAlias = ScalarNode | MapNode | SeqNode

# The style of a placeholder left where an invalid value was removed: later phases treat
# it as absent, but do not report the field as missing, since an error already did.
INVALID = "invalid"


def invalid(span: Span) -> ScalarNode:
    return ScalarNode(None, span, INVALID)


def is_invalid(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.style == INVALID


def to_plain(node: Node) -> Any:
    """The plain Python value of a node tree (dicts, lists and scalars)."""
    if isinstance(node, ScalarNode):
        return node.value
    if isinstance(node, MapNode):
        return {
            entry.key: to_plain(entry.value)
            for entry in node.entries.values()
            if not is_invalid(entry.value)
        }
    return [to_plain(item) for item in node.items if not is_invalid(item)]


def path_text(path: Path) -> str:
    """`generate.similar_question.sampling`, `subtasks[2].name`; `<root>` when empty."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<root>"


def lookup(node: Node, path: Path) -> Node | None:
    """The node at `path`, or None when any step is missing."""
    current: Node | None = node
    for part in path:
        if isinstance(part, int):
            if not isinstance(current, SeqNode) or not 0 <= part < len(current.items):
                return None
            current = current.items[part]
        else:
            if not isinstance(current, MapNode):
                return None
            current = current.get(part)
        if current is None:
            return None
    return current

"""Phase 1, load: parse YAML into positioned nodes, keeping every key's and value's place.

ruamel.yaml parses each file into events (libyaml's C parser through `ruamel.yaml.clib`
when it is installed, ruamel's pure-Python parser otherwise), and `_Builder` turns the
events into nodes in one pass without recursion, so that the rest of the compiler never
sees ruamel objects. Positions come from each event's character offset (see
`source.py`), converted to 1-based spans once. Scalars are resolved by YAML 1.2's core
schema (ruamel's resolver), duplicate keys and merge keys (`<<:`) are handled here, and
nesting depth and alias expansion are bounded. A file that does not parse is parsed
again by the pure-Python parser, whose messages are the ones users see; so is a file
with NEL, U+2028 or U+2029 in it, which libyaml reads as line breaks (YAML 1.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import ComposerError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.resolver import VersionedResolver

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.files import MAX_SPEC_BYTES, FileMissing, FileRefused, read_source
from taskseed.compiler.nodes import Entry, MapNode, Node, ScalarNode, SeqNode, invalid, is_invalid
from taskseed.compiler.source import SourceFile, Span, display_path

CORE = "tag:yaml.org,2002:"
MERGE = CORE + "merge"
STR = CORE + "str"
_STYLES = {"'": "single", '"': "double", "|": "literal", ">": "folded"}

# Bounds on one spec file: how deep mappings and lists nest (the catalog needs 6), and
# how many values it holds with its aliases expanded (the largest has about 600).
MAX_DEPTH = 64
MAX_VALUES = 100_000

# Characters that libyaml takes for line breaks and YAML 1.2 does not.
_YAML11_BREAKS = re.compile("[\x85\u2028\u2029]")


# libyaml's parser (ruamel.yaml.clib, a dependency) is about six times faster; its
# events are read from it directly, which saves a third of the cost of reading them.
try:
    from _ruamel_yaml import CParser as _CParser
except ImportError:  # pragma: no cover - ruamel.yaml.clib is a dependency
    _CParser = None
_PURE = YAML(typ="safe", pure=True)


@dataclass(slots=True)
class _Value:
    """A built node, the number of values it expands to (aliases counted in full) and
    its height; for scalars also the text as written and whether it is the merge key."""

    node: Node
    size: int = 1
    height: int = 1
    raw: str | None = None
    merge: bool = False


@dataclass(slots=True)
class _Frame:
    """An open mapping or list."""

    node: MapNode | SeqNode
    anchor: str | None
    muted: bool  # it has an unsupported tag: built (to keep parsing), then dropped
    key: _Value | None = None  # a mapping's key that waits for its value
    merges: list[Node] = field(default_factory=list)
    size: int = 1
    height: int = 1


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        super().__init__("nesting too deep")
        self.mark = mark


class _Builder:
    """Positioned nodes from a YAML event stream, in one pass and without recursion.

    Nesting depth and the number of values a file expands to through its aliases are
    bounded here, so that neither a deeply nested file nor an alias bomb ("billion
    laughs") can exhaust the stack or the memory. An alias shares the node of its
    anchor (later phases never change a node) and counts at the size it expands to."""

    def __init__(self, source: SourceFile, diagnostics: Diagnostics, by_index: bool) -> None:
        self.source = source
        self.diagnostics = diagnostics
        # A parser's own line count is right unless the text holds YAML 1.1 breaks;
        # then positions come from character offsets.
        self.by_index = by_index
        self.implicit = _implicit_types(None)
        self.anchors: dict[str, _Value | None] = {}  # None while the anchored node is open
        self.total = 0
        self.over_budget = False
        self.muted = 0
        self.stack: list[_Frame] = []
        self.root: _Value | None = None

    def build(self, events: Iterator[Any]) -> Node | None:
        document = None
        stack = self.stack
        for event in events:
            kind = type(event)
            if kind is ScalarEvent:
                self.attach(self.scalar(event))
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    raise _TooDeep(event.start_mark)
                stack.append(self.open(event))
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                self.attach(self.close(stack.pop()))
            elif kind is AliasEvent:
                self.attach(self.alias(event))
            elif kind is DocumentStartEvent:
                if document is not None:
                    raise ComposerError(
                        "expected a single document in the stream",
                        document,
                        "but found another document",
                        event.start_mark,
                    )
                document = event.start_mark
                if event.version:  # `%YAML 1.1`: that version's implicit types
                    major, minor = event.version
                    self.implicit = _implicit_types((int(major), int(minor)))
        return self.root.node if self.root is not None else None

    # ------------------------------------------------------------------ positions

    def at(self, mark: Any) -> tuple[int, int]:
        """The 0-based line and column of a mark."""
        if self.by_index:
            return self.source.position(mark.index)
        return mark.line, mark.column

    def span(self, mark: Any, width: int | None = None) -> Span:
        line0, col0 = self.at(mark)
        if width is None:
            width = self.source.token_width(line0, col0)
        return self.source.span(line0, col0, width)

    def scalar_span(self, event: Any) -> Span:
        line0, col0 = self.at(event.start_mark)
        if event.style not in ("|", ">"):
            line1, col1 = self.at(event.end_mark)
            if line1 == line0 and col1 > col0:
                return Span(self.source.name, line0 + 1, col0 + 1, line0 + 1, col1 + 1)
        # Scalars over several lines are shown by their first token, as collections are.
        return self.source.span(line0, col0, self.source.token_width(line0, col0))

    def report(self, code: str, message: str, span: Span, **extra: Any) -> None:
        if not self.muted:  # nothing inside a dropped value is reported
            self.diagnostics.add(code, message, span, **extra)

    # ---------------------------------------------------------------------- nodes

    def attach(self, value: _Value) -> None:
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        frame.size += value.size
        frame.height = max(frame.height, value.height + 1)
        if isinstance(frame.node, SeqNode):
            frame.node.items.append(value.node)
        elif frame.key is None:
            frame.key = value
        else:
            key, frame.key = frame.key, None
            self.entry(frame, key, value)

    def open(self, event: Any) -> _Frame:
        span = self.span(event.start_mark)
        node = MapNode(span) if type(event) is MappingStartEvent else SeqNode(span)
        muted = self.unsupported_tag(event.tag, span)
        self.muted += muted
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        return _Frame(node, event.anchor, muted)

    def close(self, frame: _Frame) -> _Value:
        node = frame.node
        if isinstance(node, MapNode):
            for source in frame.merges:  # `<<: *base`: keys the mapping does not set itself
                for other in source.items if isinstance(source, SeqNode) else [source]:
                    if isinstance(other, MapNode):
                        for entry in other:
                            node.entries.setdefault(entry.key, entry)
        self.muted -= frame.muted
        self.total += 1
        kept: Node = invalid(node.span) if frame.muted else node
        return self.anchored(frame.anchor, _Value(kept, frame.size, frame.height))

    def scalar(self, event: Any) -> _Value:
        span = self.scalar_span(event)
        self.total += 1
        text = event.value
        tag = event.tag
        if tag is None or tag == "!":
            tag = _implicit_tag(self.implicit, text) if event.implicit[0] else STR
        else:
            tag = str(tag)
            if self.unsupported_tag(tag, span):
                return self.anchored(event.anchor, _Value(invalid(span), raw=text))
        style = _STYLES.get(event.style or "", "plain")
        body_line = body_col = 0
        if style in ("literal", "folded"):
            body_line, body_col = self._block_body(span.line)
        node = ScalarNode(_scalar_value(text, tag), span, style, body_line, body_col)
        value = _Value(node, 1, 1, text, tag == MERGE)
        if event.anchor is not None:
            self.anchors[event.anchor] = value
        return value

    def anchored(self, anchor: str | None, value: _Value) -> _Value:
        if anchor is not None:
            self.anchors[anchor] = value
        return value

    def alias(self, event: Any) -> _Value:
        name = event.anchor
        if name not in self.anchors:
            raise ComposerError(None, None, f"found undefined alias {name!r}", event.start_mark)
        span = self.span(event.start_mark, len(name) + 1)
        target = self.anchors[name]
        if target is None:
            self.report(
                "TS111",
                f"alias `*{name}` is inside the value it refers to",
                span,
                label="a recursive alias",
            )
        elif len(self.stack) + target.height > MAX_DEPTH:
            self.report(
                "TS109",
                f"alias `*{name}` nests values deeper than {MAX_DEPTH} levels",
                span,
            )
        elif self.total + target.size > MAX_VALUES:
            if not self.over_budget:  # once per file: an alias bomb has many aliases
                self.over_budget = True
                self.report(
                    "TS110",
                    f"alias `*{name}` expands to {_count(target.size)} values; a spec file "
                    f"may hold at most {MAX_VALUES:,} values with its aliases expanded",
                    span,
                    label="not expanded",
                    notes=["later aliases that would pass the limit are not expanded either"],
                )
        else:
            self.total += target.size
            return _Value(target.node, target.size, target.height, target.raw, target.merge)
        return _Value(invalid(span))

    def unsupported_tag(self, tag: Any, span: Span) -> bool:
        if tag is None or str(tag) == "!" or str(tag).startswith(CORE):
            return False
        self.report(
            "TS201",
            f"YAML tags such as `{tag}` are not supported in task specs",
            span,
            notes=["write the value as a plain string or mapping"],
        )
        return True

    def entry(self, frame: _Frame, key: _Value, value: _Value) -> None:
        node = frame.node
        assert isinstance(node, MapNode)
        if key.merge:
            frame.merges.append(value.node)
            return
        key_node = key.node
        if is_invalid(key_node):
            return  # an unsupported tag or a bad alias, reported already
        name = key_node.value if isinstance(key_node, ScalarNode) else None
        if not isinstance(name, str):
            kind = _type_name(name) if isinstance(key_node, ScalarNode) else "a mapping or list"
            shown = key.raw if key.raw is not None else "…"
            self.report(
                "TS105",
                f"mapping key `{shown}` is not a string (YAML reads it as {kind})",
                key_node.span,
                label="quote the key",
            )
            return
        previous = node.entries.get(name)
        if previous is not None:
            self.report(
                "TS103",
                f'duplicate key "{name}"{_values_text(value, previous.value)}',
                key_node.span,
                label="this key is already set",
                notes=[f"first set at {previous.key_span.line}:{previous.key_span.col}"],
            )
            return
        node.entries[name] = Entry(name, key_node.span, value.node)

    def _block_body(self, indicator_line: int) -> tuple[int, int]:
        """Where a block scalar's text starts: its first non-blank line and indentation."""
        for number in range(indicator_line + 1, len(self.source.lines) + 1):
            text = self.source.line(number)
            if text.strip():
                return number, len(text) - len(text.lstrip(" ")) + 1
        return indicator_line + 1, 1


@lru_cache(maxsize=4)
def _implicit_types(version: tuple[int, int] | None) -> dict[str | None, list[tuple[str, Any]]]:
    """ruamel's implicit scalar types for a YAML version, by first character (the entry
    under None applies to every character, and is folded into each list here)."""
    table = VersionedResolver(version=version).versioned_resolver
    every = list(table.get(None, ()))
    out: dict[str | None, list[tuple[str, Any]]] = {
        key: [*patterns, *every] for key, patterns in table.items() if key is not None
    }
    out[None] = every
    return out


def _implicit_tag(table: dict[str | None, list[tuple[str, Any]]], text: str) -> str:
    """The tag of a plain scalar, as ruamel's resolver gives it."""
    patterns = table.get(text[0] if text else "")
    for tag, pattern in patterns if patterns is not None else table[None]:
        if pattern.match(text):
            return str(tag)
    return STR


def _count(size: int) -> str:
    return f"{size:,}" if size < 10**12 else "more than 10^12"


def _values_text(new: _Value, old: Node) -> str:
    if isinstance(new.node, ScalarNode) and new.raw is not None and isinstance(old, ScalarNode):
        return f' with value "{new.raw}" (original value: "{old.value}")'
    return ""


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return type(value).__name__


def _scalar_value(text: str, tag: str) -> str | int | float | bool | None:
    """A scalar as YAML 1.2's core schema reads it (the tag comes from ruamel's resolver)."""
    kind = tag[len(CORE) :] if tag.startswith(CORE) else "str"
    try:
        if kind == "null":
            return None
        if kind == "bool":
            return text.lower() == "true"
        if kind == "int":
            return _integer(text)
        if kind == "float":
            return _float(text)
    except ValueError:
        return text
    return text  # strings, and timestamps kept as written (ISO 8601)


def _integer(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if digits.lower().startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)


def _float(text: str) -> float:
    lowered = text.replace("_", "").lower()
    if lowered.lstrip("+-") in (".inf", "inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered in (".nan", "nan"):
        return float("nan")
    return float(lowered)


def _syntax_error(exc: MarkedYAMLError, source: SourceFile, diagnostics: Diagnostics) -> None:
    mark = exc.problem_mark or exc.context_mark
    at = source.position(mark.index) if mark is not None else None
    if at is not None and at[0] >= len(source.lines) and exc.context_mark is not None:
        mark = exc.context_mark  # an error at the end of the file: show where it began
        at = source.position(mark.index)
    span = source.span(*at) if at is not None else None
    problem = str(exc.problem or exc.context or "invalid YAML").strip()
    notes = []
    context = exc.context_mark
    if exc.context and context is not None:
        line0, col0 = source.position(context.index)
        notes.append(f"{exc.context.strip()} that starts at {line0 + 1}:{col0 + 1}")
    diagnostics.add("TS100", problem, span, notes=notes)


def _events(pure: bool, text: str) -> Iterator[Any]:
    """The YAML events of a text, from libyaml or from ruamel's pure-Python parser."""
    if pure or _CParser is None:
        yield from _PURE.parse(text)
        return
    get = _CParser(text).get_event
    while (event := get()) is not None:
        yield event


def _build(pure: bool, source: SourceFile, diagnostics: Diagnostics) -> Node | None:
    """Build the nodes of one file with one parser; its diagnostics are added only when
    the whole file parses. Raises YAMLError."""
    found = Diagnostics()
    by_index = _YAML11_BREAKS.search(source.text) is not None
    try:
        root = _Builder(source, found, by_index).build(_events(pure, source.text))
    except _TooDeep as exc:
        line0, col0 = source.position(exc.mark.index)
        diagnostics.add(
            "TS109",
            f"mappings and lists nest deeper than {MAX_DEPTH} levels",
            source.span(line0, col0),
            label="too deep",
        )
        return None
    diagnostics.extend(found)
    return root if root is not None else ScalarNode(None, Span.point(source.name, 1, 1))


def parse_text(source: SourceFile, diagnostics: Diagnostics) -> Node | None:
    """Parse one file's text into nodes; YAML errors become TS100 diagnostics."""
    if _YAML11_BREAKS.search(source.text) is None:
        try:
            return _build(False, source, diagnostics)
        except YAMLError:
            pass
    # The pure-Python parser: its messages and marks are the ones this project
    # documents (libyaml words some errors differently).
    try:
        return _build(True, source, diagnostics)
    except MarkedYAMLError as exc:
        _syntax_error(exc, source, diagnostics)
    except YAMLError as exc:  # errors without a position
        first = (str(exc).strip().splitlines() or ["invalid YAML"])[0]
        diagnostics.add("TS100", first, Span.point(source.name, 1, 1))
    return None


def load_file(
    path: Path,
    diagnostics: Diagnostics,
    sources: dict[str, SourceFile],
    real: str | None = None,
    named_at: Span | None = None,
) -> MapNode | None:
    """Load one spec file (`real`: its checked real path; `named_at`: the value that
    named it, where a refusal is reported); None (with diagnostics) when it cannot be
    used."""
    try:
        source = read_source(path, real or str(path), MAX_SPEC_BYTES)
    except FileMissing:
        diagnostics.add("TS101", f"no such file: {display_path(path)}", named_at)
        return None
    except FileRefused as exc:
        span = named_at
        if exc.at is not None:
            span = Span.point(display_path(path), *exc.at)
        diagnostics.add(exc.code, f"{display_path(path)}: {exc.message}", span)
        return None
    sources[source.name] = source
    node = parse_text(source, diagnostics)
    if node is None:
        return None
    if isinstance(node, ScalarNode) and node.value is None:
        diagnostics.add("TS102", "the file holds no mapping", Span.point(source.name, 1, 1))
        return None
    if not isinstance(node, MapNode):
        kind = "a list" if isinstance(node, SeqNode) else "a single value"
        diagnostics.add("TS102", f"a spec file must hold a mapping, not {kind}", node.span)
        return None
    return node

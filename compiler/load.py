"""Phase 1, load: read YAML with ruamel.yaml's round-trip loader and keep every position.

ruamel reports 0-based lines and columns for keys, values and list items; they are
converted to 1-based spans here, once, and the rest of the compiler never sees ruamel
objects.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.nodes import Entry, MapNode, Node, ScalarNode, SeqNode, invalid
from taskseed.compiler.source import SourceFile, Span


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


_YAML = _yaml()


class _Converter:
    def __init__(self, source: SourceFile, diagnostics: Diagnostics) -> None:
        self.source = source
        self.diagnostics = diagnostics

    def span_at(self, pos: tuple[int, int] | None, fallback: Span) -> Span:
        if pos is None:
            return fallback
        line0, col0 = pos
        return self.source.span(line0, col0, self.source.token_width(line0, col0))

    def node(self, value: Any, pos: tuple[int, int] | None, fallback: Span) -> Node:
        span = self.span_at(pos, fallback)
        tag = _custom_tag(value)
        if tag is None and isinstance(value, CommentedMap):
            return self.mapping(value, fallback)
        if tag is None and isinstance(value, CommentedSeq):
            return self.sequence(value, fallback)
        if tag is not None:
            self.diagnostics.add(
                "TS201",
                f"YAML tags such as `{tag}` are not supported in task specs",
                span,
                notes=["write the value as a plain string or mapping"],
            )
            return invalid(span)
        return self.scalar(value, pos, span)

    def scalar(self, value: Any, pos: tuple[int, int] | None, span: Span) -> ScalarNode:
        style = "plain"
        body_line = body_col = 0
        if isinstance(value, LiteralScalarString | FoldedScalarString):
            style = "literal" if isinstance(value, LiteralScalarString) else "folded"
            body_line, body_col = self._block_body(span.line)
        elif pos is not None:
            first = self.source.line(span.line)[span.col - 1 : span.col]
            style = {"'": "single", '"': "double"}.get(first, "plain")
        return ScalarNode(_plain_scalar(value), span, style, body_line, body_col)

    def _block_body(self, indicator_line: int) -> tuple[int, int]:
        """Where a block scalar's text starts: its first non-blank line and indentation."""
        for number in range(indicator_line + 1, len(self.source.lines) + 1):
            text = self.source.line(number)
            if text.strip():
                return number, len(text) - len(text.lstrip(" ")) + 1
        return indicator_line + 1, 1

    def mapping(self, value: CommentedMap, fallback: Span) -> MapNode:
        own = self.span_at((value.lc.line, value.lc.col), fallback)
        node = MapNode(own)
        for key in value:
            try:
                key_pos: tuple[int, int] | None = value.lc.key(key)
                value_pos: tuple[int, int] | None = value.lc.value(key)
            except (KeyError, TypeError):  # keys that come from a `<<:` merge
                key_pos = value_pos = None
            key_span = self.span_at(key_pos, own)
            if not isinstance(key, str):
                self.diagnostics.add(
                    "TS105",
                    f"mapping key `{key}` is not a string (YAML reads it as "
                    f"{type(key).__name__.replace('Scalar', '').lower()})",
                    key_span,
                    label="quote the key",
                )
                continue
            child = self.node(value[key], value_pos, key_span)
            node.entries[key] = Entry(key, key_span, child)
        return node

    def sequence(self, value: CommentedSeq, fallback: Span) -> SeqNode:
        own = self.span_at((value.lc.line, value.lc.col), fallback)
        node = SeqNode(own)
        for index, item in enumerate(value):
            try:
                pos: tuple[int, int] | None = value.lc.item(index)
            except (KeyError, TypeError, IndexError):
                pos = None
            node.items.append(self.node(item, pos, own))
        return node


def _custom_tag(value: Any) -> str | None:
    """The explicit tag on a value (`!function x`), if it has one."""
    if isinstance(value, TaggedScalar):
        return str(value.tag.value or "!")
    tag = getattr(value, "tag", None)
    text = getattr(tag, "value", None) if tag is not None else None
    if text and not str(text).startswith("tag:yaml.org,2002:"):
        return str(text)
    return None


def _plain_scalar(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        # ruamel's ScalarBoolean subclasses int; its repr is still true/false.
        if type(value).__name__ == "ScalarBoolean":
            return bool(value)
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def parse_text(source: SourceFile, diagnostics: Diagnostics) -> Node | None:
    """Parse one file's text into nodes; YAML errors become TS100/TS103 diagnostics."""
    try:
        data = _YAML.load(source.text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None and mark.line >= len(source.lines) and exc.context_mark is not None:
            mark = exc.context_mark  # an error at the end of the file: show where it began
        span = source.span(mark.line, mark.column) if mark is not None else None
        code = "TS103" if "duplicate" in type(exc).__name__.lower() else "TS100"
        problem = str(exc.problem or exc.context or "invalid YAML").strip()
        if code == "TS103":
            problem = problem.replace("found ", "")
        notes = []
        context = exc.context_mark
        if exc.context and context is not None and code == "TS100":
            notes.append(
                f"{exc.context.strip()} that starts at {context.line + 1}:{context.column + 1}"
            )
        diagnostics.add(code, problem, span, notes=notes)
        return None
    except YAMLError as exc:  # errors without a position
        diagnostics.add("TS100", str(exc).strip().splitlines()[0], Span.point(source.name, 1, 1))
        return None
    start = Span.point(source.name, 1, 1)
    return _Converter(source, diagnostics).node(data, (0, 0), start)


def load_file(
    path: Path, diagnostics: Diagnostics, sources: dict[str, SourceFile]
) -> MapNode | None:
    """Load one spec file; None (with diagnostics) when it cannot be used."""
    try:
        source = SourceFile.read(path)
    except FileNotFoundError:
        diagnostics.add("TS101", f"no such file: {path}")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        diagnostics.add("TS101", f"cannot read {path}: {exc}")
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

"""Phase 1, load: parse YAML into positioned nodes, keeping every key's and value's place.

ruamel.yaml composes each file into its node graph (libyaml's C parser through
`ruamel.yaml.clib` when it is installed, ruamel's pure-Python parser otherwise); every
node carries its 0-based start mark. The marks are converted to 1-based spans here,
once, and the rest of the compiler never sees ruamel objects. Scalars are resolved by
YAML 1.2's core schema (ruamel's resolver and constructors), duplicate keys and merge
keys (`<<:`) are handled here, and a file that does not parse is parsed again by the
pure-Python parser, whose messages and marks are the ones users see.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import nodes as yn
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.nodes import Entry, MapNode, Node, ScalarNode, SeqNode, invalid
from taskseed.compiler.source import SourceFile, Span

CORE = "tag:yaml.org,2002:"
MERGE = CORE + "merge"
_STYLES = {"'": "single", '"': "double", "|": "literal", ">": "folded"}


def _composer(pure: bool) -> YAML:
    return YAML(typ="safe", pure=pure)


# libyaml's parser (ruamel.yaml.clib, a dependency) is about six times faster.
_FAST = _composer(pure=importlib.util.find_spec("_ruamel_yaml") is None)
_PURE = _composer(pure=True)


class _Converter:
    def __init__(self, source: SourceFile, diagnostics: Diagnostics) -> None:
        self.source = source
        self.diagnostics = diagnostics

    def span_of(self, node: yn.Node) -> Span:
        line0, col0 = node.start_mark.line, node.start_mark.column
        end = node.end_mark
        if (
            isinstance(node, yn.ScalarNode)
            and end.line == line0
            and end.column > col0
            and node.style not in ("|", ">")
        ):
            return self.source.span(line0, col0, end.column - col0)
        # Collections are shown by their first token; so are scalars over several lines.
        return self.source.span(line0, col0, self.source.token_width(line0, col0))

    def node(self, value: yn.Node) -> Node:
        span = self.span_of(value)
        tag = value.tag if isinstance(value.tag, str) else getattr(value.tag, "value", None)
        if tag and not str(tag).startswith(CORE):
            self.diagnostics.add(
                "TS201",
                f"YAML tags such as `{tag}` are not supported in task specs",
                span,
                notes=["write the value as a plain string or mapping"],
            )
            return invalid(span)
        if isinstance(value, yn.MappingNode):
            return self.mapping(value, span)
        if isinstance(value, yn.SequenceNode):
            node = SeqNode(span)
            node.items.extend(self.node(item) for item in value.value)
            return node
        assert isinstance(value, yn.ScalarNode)
        return self.scalar(value, span)

    def scalar(self, value: yn.ScalarNode, span: Span) -> ScalarNode:
        style = _STYLES.get(value.style or "", "plain")
        body_line = body_col = 0
        if style in ("literal", "folded"):
            body_line, body_col = self._block_body(span.line)
        return ScalarNode(_scalar_value(value), span, style, body_line, body_col)

    def _block_body(self, indicator_line: int) -> tuple[int, int]:
        """Where a block scalar's text starts: its first non-blank line and indentation."""
        for number in range(indicator_line + 1, len(self.source.lines) + 1):
            text = self.source.line(number)
            if text.strip():
                return number, len(text) - len(text.lstrip(" ")) + 1
        return indicator_line + 1, 1

    def mapping(self, value: yn.MappingNode, span: Span) -> MapNode:
        node = MapNode(span)
        merged: list[yn.Node] = []
        for key_node, value_node in value.value:
            if key_node.tag == MERGE:
                merged.append(value_node)
                continue
            key_span = self.span_of(key_node)
            key = _scalar_value(key_node) if isinstance(key_node, yn.ScalarNode) else None
            if not isinstance(key, str):
                kind = "a mapping or list" if key is None and key_node.value else type(key)
                name = kind if isinstance(kind, str) else _type_name(key)
                self.diagnostics.add(
                    "TS105",
                    f"mapping key `{key_node.value if isinstance(key_node.value, str) else '…'}` "
                    f"is not a string (YAML reads it as {name})",
                    key_span,
                    label="quote the key",
                )
                continue
            previous = node.entries.get(key)
            if previous is not None:
                self.diagnostics.add(
                    "TS103",
                    f'duplicate key "{key}"{_values_text(value_node, previous.value)}',
                    key_span,
                    label="this key is already set",
                    notes=[f"first set at {previous.key_span.line}:{previous.key_span.col}"],
                )
                continue
            node.entries[key] = Entry(key, key_span, self.node(value_node))
        for source in merged:  # `<<: *base`: keys the mapping does not set itself
            for other in source.value if isinstance(source, yn.SequenceNode) else [source]:
                if not isinstance(other, yn.MappingNode):
                    continue
                for entry in self.mapping(other, span):
                    node.entries.setdefault(entry.key, entry)
        return node


def _values_text(new: yn.Node, old: Node) -> str:
    if isinstance(new, yn.ScalarNode) and isinstance(old, ScalarNode):
        return f' with value "{new.value}" (original value: "{old.value}")'
    return ""


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return type(value).__name__


def _scalar_value(node: yn.Node) -> str | int | float | bool | None:
    """A scalar as YAML 1.2's core schema reads it (the tag comes from ruamel's resolver)."""
    text = node.value
    if not isinstance(text, str):
        return None
    tag = node.tag or ""
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
    if mark is not None and mark.line >= len(source.lines) and exc.context_mark is not None:
        mark = exc.context_mark  # an error at the end of the file: show where it began
    span = source.span(mark.line, mark.column) if mark is not None else None
    problem = str(exc.problem or exc.context or "invalid YAML").strip()
    notes = []
    context = exc.context_mark
    if exc.context and context is not None:
        notes.append(
            f"{exc.context.strip()} that starts at {context.line + 1}:{context.column + 1}"
        )
    diagnostics.add("TS100", problem, span, notes=notes)


def parse_text(source: SourceFile, diagnostics: Diagnostics) -> Node | None:
    """Parse one file's text into nodes; YAML errors become TS100 diagnostics."""
    try:
        root = _FAST.compose(source.text)
    except YAMLError:
        # Parse again with the pure-Python parser: its messages and marks are the ones
        # this project documents (libyaml words some errors differently).
        try:
            root = _PURE.compose(source.text)
        except MarkedYAMLError as exc:
            _syntax_error(exc, source, diagnostics)
            return None
        except YAMLError as exc:  # errors without a position
            first = str(exc).strip().splitlines()[0]
            diagnostics.add("TS100", first, Span.point(source.name, 1, 1))
            return None
    if root is None:
        return ScalarNode(None, Span.point(source.name, 1, 1))
    return _Converter(source, diagnostics).node(root)


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

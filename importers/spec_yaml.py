"""Write a task spec as YAML with comments, and say on which line each open problem sits.

Importers build a spec as nested dicts and lists. A value wrapped in `Note` carries the
comment lines written above its key and, optionally, a `Problem`: something the importer
could not translate. The writer returns the text and the spec line of every problem, so
that a warning can point at both the source file and the line of the spec to finish.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# A value starting with this word is not a valid Jinja expression, so `taskseed validate`
# fails at its line (TS504) until someone writes the expression by hand.
HAND = "__complete_by_hand__"
WIDTH = 92

_PLAIN = re.compile(r"^(?:[A-Za-z_]|\.\.?/)[A-Za-z0-9_.\-/()|: ]*$")
# Characters JSON leaves raw that YAML rejects, or reads as line breaks (U+0085, U+2028/9).
_UNPRINTABLE = re.compile("[\u007f-\u009f\u2028\u2029\ufffe\uffff]")
# ... and what a `|-` block cannot hold as it is.
_BLOCK_UNSAFE = re.compile("[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufffe\uffff]")
_RESERVED = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n", "nan", "inf"})


@dataclass(frozen=True)
class Problem:
    """Something the importer could not translate: what, and where lm-eval says it."""

    message: str
    origin: str  # "lm_eval/tasks/logiqa/logiqa.yaml:9"


@dataclass(frozen=True)
class Note:
    """A value with the comment lines written above its key (and maybe a problem)."""

    value: Any
    comments: tuple[str, ...] = ()
    problem: Problem | None = None


def hand(reason: str) -> str:
    """A mapping expression that fails validation, saying what is left to write."""
    text = " ".join(re.sub(r"[{}%#]", "", reason).split())
    return f"{HAND} {text}"


def strip_notes(value: Any) -> Any:
    """The value without comments and problems, to compare specs."""
    if isinstance(value, Note):
        return strip_notes(value.value)
    if isinstance(value, dict):
        return {k: strip_notes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_notes(v) for v in value]
    return value


@dataclass
class Written:
    text: str
    problems: list[tuple[int, Problem]] = field(default_factory=list)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.problems: list[tuple[int, Problem]] = []

    def comment(self, indent: int, comments: Sequence[str]) -> None:
        width = max(WIDTH - indent - 2, 40)
        for text in comments:
            for line in textwrap.wrap(text, width, break_long_words=False) or [""]:
                self.lines.append(" " * indent + f"# {line}".rstrip())

    def entry(self, indent: int, key: str, value: Any, prefix: str = "") -> None:
        """`key: value` at `indent`; `prefix` is `- ` for the first key of a list item."""
        lead = " " * indent + prefix
        if isinstance(value, Note):
            self.comment(indent + len(prefix), value.comments)
            if value.problem is not None:
                self.problems.append((len(self.lines) + 1, value.problem))
            value = value.value
        name = scalar(key)
        if isinstance(value, dict) and value:
            self.lines.append(f"{lead}{name}:")
            self.mapping(indent + len(prefix) + 2, value)
        elif isinstance(value, list) and value and not _flow_list(value, indent):
            self.lines.append(f"{lead}{name}:")
            self.sequence(indent + len(prefix) + 2, value)
        elif isinstance(value, str) and _literal_block(value):
            self.lines.append(f"{lead}{name}: |-")
            pad = " " * (indent + len(prefix) + 2)
            self.lines.extend(f"{pad}{line}" if line else "" for line in value.split("\n"))
        else:
            self.lines.append(f"{lead}{name}: {inline(value)}")

    def mapping(self, indent: int, value: dict[str, Any]) -> None:
        for key, item in value.items():
            self.entry(indent, key, item)

    def sequence(self, indent: int, items: list[Any]) -> None:
        for item in items:
            comments: tuple[str, ...] = ()
            if isinstance(item, Note):
                comments, item = item.comments, item.value
            self.comment(indent, comments)
            if isinstance(item, dict) and item:
                for position, (key, value) in enumerate(item.items()):
                    if position == 0:
                        self.entry(indent, key, value, prefix="- ")
                    else:
                        self.entry(indent + 2, key, value)
            else:
                self.lines.append(" " * indent + f"- {inline(item)}")


def render(header: Sequence[str], sections: Sequence[dict[str, Any]]) -> Written:
    """The spec: header comment lines, then the sections separated by blank lines."""
    writer = _Writer()
    writer.lines.extend(f"# {line}".rstrip() for line in header)
    for section in sections:
        if writer.lines:
            writer.lines.append("")
        writer.mapping(0, section)
    return Written("\n".join(writer.lines) + "\n", writer.problems)


def scalar(value: str, *, flow: bool = False) -> str:
    """A string as a YAML scalar: plain where that reads back the same, else quoted.
    Inside `[...]` or `{...}` (`flow`) a `:` is quoted too: `[a:b]` reads as a mapping."""
    if (
        _PLAIN.match(value)
        and value == value.strip()
        and value.lower() not in _RESERVED
        and " #" not in value
        and ": " not in value
        and not value.endswith(":")
        and not (flow and ":" in value)
    ):
        return value
    return _UNPRINTABLE.sub(_escape, json.dumps(value, ensure_ascii=False))


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def inline(value: Any, *, flow: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, str):
        return scalar(value, flow=flow)
    if isinstance(value, list):
        return "[" + ", ".join(inline(v, flow=True) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{scalar(k, flow=True)}: {inline(v, flow=True)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to a spec")


def _flow_list(items: list[Any], indent: int) -> bool:
    simple = all(isinstance(i, str | int | float | bool) for i in items)
    return simple and indent + len(inline(items)) < WIDTH - 20


def _literal_block(value: str) -> bool:
    """Multi-line text reads best as a `|-` block, where that keeps it exactly."""
    lines = value.split("\n")
    return (
        len(lines) > 1
        and not value.endswith("\n")
        and lines[0].strip() != ""
        and not lines[0].startswith(" ")
        and all(line == line.rstrip() for line in lines)
        and not _BLOCK_UNSAFE.search(value)
    )

"""Source files and spans.

Every value the compiler reads keeps the place it came from. Positions are 1-based
(line and column) from the moment they leave the YAML loader, and columns count
characters, not bytes. Lines are what editors and GitHub count: only `\n`, `\r\n` and
`\r` end a line (not NEL, U+2028 or U+2029, which Python's `splitlines` and libyaml
also break at); positions are computed from character offsets, never taken from a
parser's own line count.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """The lines of a text without their breaks; a final break opens no new line."""
    if not text:
        return []
    lines = LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


@dataclass(frozen=True, slots=True)
class Span:
    """A range inside one file: start inclusive, end exclusive, 1-based."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(file: str, line: int, col: int, width: int = 1) -> Span:
        return Span(file, line, col, line, col + max(width, 1))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def display_path(path: Path) -> str:
    """The path as users see it: relative to the working directory when possible, posix."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path.as_posix()
    if rel.startswith(".."):
        return path.resolve().as_posix()
    return Path(rel).as_posix()


@dataclass(slots=True)
class SourceFile:
    """The text of one file, kept for rendering source lines under diagnostics."""

    path: Path
    name: str
    text: str
    _lines: list[str] | None = field(default=None, repr=False)
    _starts: list[int] | None = field(default=None, repr=False)

    @classmethod
    def from_text(cls, path: Path, text: str) -> SourceFile:
        return cls(path=path, name=display_path(path), text=text)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = split_lines(self.text)
        return self._lines

    def position(self, index: int) -> tuple[int, int]:
        """The 0-based (line, column) of a character offset into the text."""
        if self._starts is None:
            self._starts = [0, *(m.end() for m in LINE_BREAK.finditer(self.text))]
        line = bisect_right(self._starts, index) - 1
        return line, index - self._starts[line]

    def line(self, number: int) -> str:
        """Line `number` (1-based) without its newline; empty past the end."""
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""

    def span(self, line0: int, col0: int, width: int = 1) -> Span:
        """A single-line span from 0-based coordinates as ruamel reports them."""
        return Span.point(self.name, line0 + 1, col0 + 1, width)

    def token_width(self, line0: int, col0: int) -> int:
        """Width of the YAML scalar token starting at a 0-based position.

        Handles quoted scalars, plain scalars in block and flow context, and stops
        before a trailing comment. Block scalars (| and >) get the indicator's width.
        """
        text = self.line(line0 + 1)
        if col0 >= len(text):
            return 1
        first = text[col0]
        if first in "\"'":
            end = col0 + 1
            while end < len(text):
                if text[end] == first:
                    if first == "'" and end + 1 < len(text) and text[end + 1] == "'":
                        end += 2
                        continue
                    if first == '"' and text[end - 1] == "\\":
                        end += 1
                        continue
                    return end + 1 - col0
                end += 1
            return len(text) - col0
        if first in "|>":
            return 1
        end = col0
        while end < len(text):
            ch = text[end]
            if ch == "#" and end > col0 and text[end - 1] in " \t":
                break
            if ch in ",]}" and _in_flow(text, col0):
                break
            if ch == ":" and (end + 1 == len(text) or text[end + 1] in " \t"):
                break
            end += 1
        return max(len(text[col0:end].rstrip()), 1)


def _in_flow(text: str, col0: int) -> bool:
    """Whether a position sits inside a flow collection on its line ([..] or {..})."""
    depth = 0
    for ch in text[:col0]:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth > 0

"""Offline fixtures: a few rows in the seed dataset's own format, read at compile time
and embedded in the plan so that a plan runs offline with nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.files import (
    MAX_FIXTURE_BYTES,
    FileMissing,
    FileRefused,
    Located,
    read_source,
)
from taskseed.compiler.source import SourceFile, Span, display_path

FIXTURE_SUFFIXES = (".jsonl", ".ndjson")
# How deep a fixture row's values may nest (as deep as a spec's: see load.MAX_DEPTH).
MAX_ROW_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Fixture:
    source: SourceFile
    rows: tuple[dict[str, Any], ...]
    lines: tuple[int, ...]  # the 1-based line of each row

    @property
    def fields(self) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(row))
        return tuple(names)


class FixtureReader:
    def __init__(self, diagnostics: Diagnostics, sources: dict[str, SourceFile]) -> None:
        self.diagnostics = diagnostics
        self.sources = sources
        self._cache: dict[str, Fixture | None] = {}

    def read(self, located: Located, span: Span) -> Fixture | None:
        if located.real not in self._cache:
            self._cache[located.real] = self._read(located, span)
        return self._cache[located.real]

    def _read(self, located: Located, span: Span) -> Fixture | None:
        shown = display_path(located.path)
        try:
            source = read_source(located.path, located.real, MAX_FIXTURE_BYTES)
        except FileMissing:
            self.diagnostics.add("TS402", f"fixture file not found: {shown}", span)
            return None
        except FileRefused as exc:
            at = Span.point(shown, *exc.at) if exc.at is not None else span
            self.diagnostics.add(exc.code, f"fixture {shown}: {exc.message}", at)
            return None
        self.sources[source.name] = source
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        ok = True
        for number, text in enumerate(source.lines, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                self._bad(source, number, exc.colno, f"fixture line is not JSON: {exc.msg}")
                ok = False
                continue
            except (ValueError, RecursionError) as exc:  # Python's own limits on JSON
                reason = (
                    "it nests too deeply"
                    if isinstance(exc, RecursionError)
                    else "a number has more digits than Python reads (4300)"
                    if "digits" in str(exc)
                    else str(exc)
                )
                self._bad(source, number, 1, f"fixture line is not usable JSON: {reason}")
                ok = False
                continue
            if not isinstance(row, dict):
                self._bad(source, number, 1, "fixture rows must be JSON objects")
                ok = False
                continue
            if text.count("[") + text.count("{") > MAX_ROW_DEPTH and _depth(row) > MAX_ROW_DEPTH:
                self._bad(
                    source, number, 1, f"fixture row nests deeper than {MAX_ROW_DEPTH} levels"
                )
                ok = False
                continue
            rows.append(row)
            lines.append(number)
        if ok and not rows:
            self.diagnostics.add("TS402", f"fixture {source.name} has no rows", span)
            return None
        return Fixture(source, tuple(rows), tuple(lines)) if ok else None

    def _bad(self, source: SourceFile, line: int, col: int, message: str) -> None:
        width = max(len(source.line(line)) + 1, 1)
        self.diagnostics.add("TS402", message, Span.point(source.name, line, min(col, width)))


def _depth(value: Any) -> int:
    """How deep lists and objects nest in a JSON value (without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest

"""Offline fixtures: a few rows in the seed dataset's own format, read at compile time
and embedded in the plan so that a plan runs offline with nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.source import SourceFile, Span


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
        self._cache: dict[Path, Fixture | None] = {}

    def read(self, path: Path, span: Span) -> Fixture | None:
        key = path.resolve()
        if key not in self._cache:
            self._cache[key] = self._read(path, span)
        return self._cache[key]

    def _read(self, path: Path, span: Span) -> Fixture | None:
        try:
            source = SourceFile.read(path)
        except FileNotFoundError:
            self.diagnostics.add("TS402", f"fixture file not found: {path}", span)
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.diagnostics.add("TS402", f"cannot read fixture {path}: {exc}", span)
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
                self.diagnostics.add(
                    "TS402",
                    f"fixture line is not JSON: {exc.msg}",
                    Span.point(source.name, number, exc.colno),
                )
                ok = False
                continue
            if not isinstance(row, dict):
                self.diagnostics.add(
                    "TS402", "fixture rows must be JSON objects", Span.point(source.name, number, 1)
                )
                ok = False
                continue
            rows.append(row)
            lines.append(number)
        if ok and not rows:
            self.diagnostics.add("TS402", f"fixture {source.name} has no rows", span)
            return None
        return Fixture(source, tuple(rows), tuple(lines)) if ok else None

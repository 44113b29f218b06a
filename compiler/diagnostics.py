"""Diagnostics are data: a code, a severity, a message, a span and notes.

The phases append to a `Diagnostics` collection and never print; the renderers in
`diagnostic_formats.py` turn the collection into text, JSON or CI annotations.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from taskseed.compiler.codes import CODES, Severity
from taskseed.compiler.source import Span

__all__ = ["Diagnostic", "Diagnostics", "Scope", "Severity"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span | None = None
    # A short text printed under the caret ("did you mean `temperature`?").
    label: str | None = None
    notes: tuple[str, ...] = ()

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return ("", 0, 0, self.code)
        return (self.span.file, self.span.line, self.span.col, self.code)


@dataclass(slots=True)
class Diagnostics:
    """An ordered, de-duplicated collection of diagnostics."""

    items: list[Diagnostic] = field(default_factory=list)
    _seen: set[tuple[str, Span | None, str]] = field(default_factory=set)
    error_count: int = 0

    def add(
        self,
        code: str,
        message: str,
        span: Span | None = None,
        *,
        label: str | None = None,
        notes: Iterable[str] = (),
        severity: Severity | None = None,
    ) -> None:
        info = CODES[code]
        key = (code, span, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self._append(
            Diagnostic(
                code=code,
                severity=severity or info.severity,
                message=message,
                span=span,
                label=label,
                notes=tuple(notes),
            )
        )

    def extend(self, other: Diagnostics) -> None:
        for item in other.items:
            key = (item.code, item.span, item.message)
            if key not in self._seen:
                self._seen.add(key)
                self._append(item)

    def _append(self, item: Diagnostic) -> None:
        self.items.append(item)
        self.error_count += item.severity is Severity.ERROR

    def scope(self, notes: Iterable[str] = ()) -> Scope:
        """A scope that starts here: whether errors were added since, and the notes
        that place them (`in subtask x of task y`)."""
        return Scope(self, tuple(notes), self.error_count)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=Diagnostic.sort_key)


@dataclass(frozen=True, slots=True)
class Scope:
    """One unit's share of the diagnostics: `failed` when an error was added after the
    scope opened (one already reported, for another unit, is not added again)."""

    diagnostics: Diagnostics
    notes: tuple[str, ...]
    start: int

    @property
    def failed(self) -> bool:
        return self.diagnostics.error_count > self.start

"""Renderers: diagnostics as compiler-style text, JSON, or GitHub annotations."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from taskseed.compiler.codes import CODES, Severity
from taskseed.compiler.diagnostics import Diagnostic
from taskseed.compiler.source import SourceFile

Sources = Mapping[str, SourceFile]

_COLORS = {
    "error": "\x1b[1;31m",
    "warning": "\x1b[1;33m",
    "bold": "\x1b[1m",
    "blue": "\x1b[1;34m",
    "reset": "\x1b[0m",
}


def _source_line(sources: Sources, file: str, line: int) -> str | None:
    """The line under a diagnostic, only from a file the compiler read (never from a
    file it refused: its content is not shown)."""
    source = sources.get(file)
    if source is None or not 1 <= line <= len(source.lines):
        return None
    return source.line(line)


def render_text(diagnostics: Sequence[Diagnostic], sources: Sources, *, color: bool = False) -> str:
    def paint(kind: str, text: str) -> str:
        return f"{_COLORS[kind]}{text}{_COLORS['reset']}" if color else text

    blocks: list[str] = []
    for diag in diagnostics:
        head = paint(diag.severity.value, f"{diag.severity.value}[{diag.code}]")
        lines = [f"{head}: {paint('bold', diag.message)}"]
        span = diag.span
        if span is not None:
            text = _source_line(sources, span.file, span.line)
            gutter = " " * len(str(span.line))
            lines.append(f"{gutter}{paint('blue', '-->')} {span.file}:{span.line}:{span.col}")
            if text is not None:
                expanded = text.replace("\t", " ")
                if span.end_line == span.line:
                    width = max(span.end_col - span.col, 1)
                else:
                    width = max(len(expanded) - span.col + 1, 1)
                caret = " " * (span.col - 1) + paint(diag.severity.value, "^" * width)
                if diag.label:
                    caret += " " + paint(diag.severity.value, diag.label)
                bar = paint("blue", "|")
                lines.append(f"{gutter} {bar}")
                lines.append(f"{paint('blue', str(span.line))} {bar} {expanded}")
                lines.append(f"{gutter} {bar} {caret}")
            elif diag.label:
                lines.append(f"{gutter} = {diag.label}")
            for note in diag.notes:
                lines.append(f"{gutter} = note: {note}")
        else:
            if diag.label:
                lines.append(f"  = {diag.label}")
            lines.extend(f"  = note: {note}" for note in diag.notes)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def summary_line(diagnostics: Sequence[Diagnostic], files: int) -> str:
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = len(diagnostics) - errors
    if not diagnostics:
        return f"ok: {files} file{'s' if files != 1 else ''} checked, no problems"
    noun = "error" if errors == 1 else "errors"
    wnoun = "warning" if warnings == 1 else "warnings"
    return (
        f"found {errors} {noun} and {warnings} {wnoun} in {files} file{'s' if files != 1 else ''}"
    )


def diagnostic_dict(diag: Diagnostic) -> dict[str, object]:
    out: dict[str, object] = {
        "code": diag.code,
        "name": CODES[diag.code].name,
        "severity": diag.severity.value,
        "message": diag.message,
    }
    if diag.span is not None:
        out.update(
            file=diag.span.file,
            line=diag.span.line,
            column=diag.span.col,
            end_line=diag.span.end_line,
            end_column=diag.span.end_col,
        )
    if diag.label:
        out["label"] = diag.label
    if diag.notes:
        out["notes"] = list(diag.notes)
    return out


def render_json(diagnostics: Sequence[Diagnostic], sources: Sources) -> str:
    del sources
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    payload = {
        "diagnostics": [diagnostic_dict(d) for d in diagnostics],
        "summary": {"errors": errors, "warnings": len(diagnostics) - errors},
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def escape_data(text: str) -> str:
    """A GitHub workflow command's message (escape_property: one of its properties)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic], sources: Sources) -> str:
    """GitHub Actions workflow commands: one `::error file=...` line per diagnostic."""
    del sources
    out = []
    for diag in diagnostics:
        props = [f"title={escape_property(f'{diag.code} {CODES[diag.code].name}')}"]
        if diag.span is not None:
            props = [
                f"file={escape_property(diag.span.file)}",
                f"line={diag.span.line}",
                f"col={diag.span.col}",
                f"endLine={diag.span.end_line}",
                f"endColumn={diag.span.end_col}",
                *props,
            ]
        message = diag.message
        if diag.label:
            message += f" ({diag.label})"
        for note in diag.notes:
            message += f"\nnote: {note}"
        out.append(f"::{diag.severity.value} {','.join(props)}::{escape_data(message)}")
    return "\n".join(out) + ("\n" if out else "")


RENDERERS: dict[str, Callable[[Sequence[Diagnostic], Sources], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
}

"""Renderers: text with source line and caret, JSON, GitHub annotations."""

from __future__ import annotations

from taskseed.compiler.diagnostic_formats import render_github, render_text
from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.source import SourceFile, Span


def sample() -> tuple[Diagnostics, dict[str, SourceFile]]:
    from pathlib import Path

    source = SourceFile(Path("x.yaml"), "x.yaml", "a: 1\nsampling:\n  tempature: 0.2\n")
    diags = Diagnostics()
    diags.add(
        "TS200",
        "unknown field `tempature`",
        Span.point("x.yaml", 3, 3, 9),
        label="did you mean `temperature`?",
        notes=["a note"],
    )
    diags.add("TS200", "unknown field `tempature`", Span.point("x.yaml", 3, 3, 9))  # duplicate
    return diags, {"x.yaml": source}


def test_text_shows_line_caret_label_and_note() -> None:
    diags, sources = sample()
    assert len(diags) == 1
    assert render_text(diags.sorted(), sources) == (
        "error[TS200]: unknown field `tempature`\n"
        " --> x.yaml:3:3\n"
        "  |\n"
        "3 |   tempature: 0.2\n"
        "  |   ^^^^^^^^^ did you mean `temperature`?\n"
        "  = note: a note\n"
    )
    colored = render_text(diags.sorted(), sources, color=True)
    assert "\x1b[1;31m" in colored


def test_github_annotations_escape_their_properties() -> None:
    diags, sources = sample()
    line = render_github(diags.sorted(), sources).strip()
    assert line.startswith("::error file=x.yaml,line=3,col=3,endLine=3,endColumn=12,")
    assert "title=TS200 unknown-field::" in line and "%0Anote: a note" in line

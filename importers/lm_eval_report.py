"""The table `taskseed import lm-eval` prints: what became of every lm-eval task.

One row per task: imported (into which spec) or skipped (why), and its Python hooks:
translated into expressions, referenced as hooks (`--hooks`), or left to finish by hand,
with the values the importer could not write (`by hand`: hooks and anything else). A
last line adds them up, with the skips counted by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from taskseed.importers.lm_eval_translate import Translation
from taskseed.importers.spec_yaml import Note

HEADERS = ("lm-eval task", "result", "hooks translated", "referenced", "by hand", "spec or reason")


@dataclass(frozen=True)
class Row:
    task: str
    result: str  # imported, skipped, failed
    translated: int = 0
    referenced: int = 0
    by_hand: int = 0
    detail: str = ""
    reason: str = ""  # for skips: one of lm_eval_translate.SKIP_REASONS


def unfinished(value: Any) -> int:
    """The values a translation left to finish by hand."""
    if isinstance(value, Note):
        return int(value.problem is not None) + unfinished(value.value)
    if isinstance(value, dict):
        return sum(unfinished(v) for v in value.values())
    if isinstance(value, list):
        return sum(unfinished(v) for v in value)
    return 0


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def imported(self, item: Translation, spec: str, twin: str | None) -> None:
        outcomes = Counter(h.outcome for h in item.hooks)
        detail = spec if twin is None else f"{spec} (as {twin}: the same rows, read the same way)"
        self.rows.append(
            Row(
                item.name,
                "imported",
                outcomes["translated"],
                outcomes["referenced"],
                unfinished({"seeds": item.seeds, "mapping": item.mapping}),
                detail,
            )
        )

    def skipped(self, task: str, kind: str, reason: str) -> None:
        self.rows.append(Row(task, "skipped", detail=reason, reason=kind))

    def failed(self, task: str, reason: str) -> None:
        self.rows.append(Row(task, "not written", detail=reason))

    def totals(self) -> str:
        imported = [r for r in self.rows if r.result == "imported"]
        clean = sum(1 for r in imported if r.by_hand == 0)
        skips = Counter(r.reason for r in self.rows if r.result == "skipped")
        parts = [
            f"{len(self.rows)} task{'s' if len(self.rows) != 1 else ''}: {len(imported)} "
            f"imported ({clean} with nothing to finish by hand)",
            f"hooks: {sum(r.translated for r in imported)} translated, "
            f"{sum(r.referenced for r in imported)} referenced",
        ]
        if skips:
            reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(skips.items()))
            parts.append(f"{sum(skips.values())} skipped ({reasons})")
        failed = sum(1 for r in self.rows if r.result == "not written")
        if failed:
            parts.append(f"{failed} not written")
        return "; ".join(parts)

    def render(self) -> str:
        cells = [
            (
                r.task,
                r.result,
                str(r.translated) if r.result == "imported" else "",
                str(r.referenced) if r.result == "imported" else "",
                str(r.by_hand) if r.result == "imported" else "",
                r.detail,
            )
            for r in self.rows
        ]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADERS[:-1])]
        lines = []
        for row in (HEADERS, *cells):
            padded = [text.ljust(width) for text, width in zip(row, widths, strict=False)]
            lines.append("  ".join([*padded, row[-1]]).rstrip())
        lines.append(self.totals())
        return "\n".join(lines) + "\n"

"""Progress bars per stage, with rates and ETA (rich), and the funnel table at the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

FUNNEL = (
    ("seeds", "seeds"),
    ("normalized", "mapped"),
    ("generated", "generated"),
    ("parsed", "parsed"),
    ("filtered", "filtered"),
    ("decontaminated", "decontam."),
    ("verified", "verified"),
    ("enriched", "enriched"),
    ("deduplicated", "dup. dropped"),
    ("written", "written"),
)


# One bar per stage: units (with an ETA), then items through each stage, and the
# engine requests answered (sent or replayed from the ledger), each with its rate.
STAGE_BARS = ("units", "seeds", "generate", "verify", "enrich", "requests")


class StageProgress:
    """Bars for units, seeds and engine requests; a no-op when disabled."""

    def __init__(self, console: Console, *, enabled: bool, units: int) -> None:
        self.enabled = enabled
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
        )
        self._tasks: dict[str, TaskID] = {}
        self._counts: Counter[str] = Counter()
        for name in STAGE_BARS:
            total = units if name == "units" else None
            self._tasks[name] = self._progress.add_task(name, total=total, rate="")

    def __enter__(self) -> StageProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def advance(self, stage: str, amount: int = 1) -> None:
        self._counts[stage] += amount
        task = self._tasks.get(stage)
        if task is None:
            return
        elapsed = self._progress.tasks[task].elapsed or 0.0
        rate = f"{self._counts[stage] / elapsed:6.1f}/s" if elapsed > 0 else ""
        self._progress.update(task, advance=amount, rate=rate)


def funnel_table(units: Mapping[str, Mapping[str, Any]]) -> Table:
    """Counts per task (summed over its subtasks), one column per stage; with
    `--target-records`, a last column: records kept (before dedup) of the target."""
    per_task: dict[str, Counter[str]] = {}
    targets: dict[str, Counter[str]] = {}
    for unit_id, info in units.items():
        task = unit_id.split("/", 1)[0]
        per_task.setdefault(task, Counter()).update(info["counts"])
        target = info.get("target")
        if target is not None:
            mine = targets.setdefault(task, Counter())
            mine.update(kept=target["kept"], records=target["records"])
            mine["short"] += not target["reached"]
    columns: tuple[tuple[str, str], ...] = FUNNEL
    if any("judged" in counts for counts in per_task.values()):  # a judge ran somewhere
        at = next(i for i, (key, _) in enumerate(FUNNEL) if key == "verified") + 1
        columns = (*FUNNEL[:at], ("judged", "judged"), *FUNNEL[at:])
    table = Table(title="funnel per task", title_justify="left")
    table.add_column("task")
    for _, label in columns:
        table.add_column(label, justify="right")
    if targets:
        table.add_column("kept/target", justify="right")

    def target_cell(target: Counter[str] | None) -> list[str]:
        if not targets:
            return []
        if target is None:
            return ["-"]
        note = f" ({target['short']} short)" if target["short"] else ""
        return [f"{target['kept']}/{target['records']}{note}"]

    total: Counter[str] = Counter()
    total_target: Counter[str] = Counter()
    for task, counts in sorted(per_task.items()):
        total.update(counts)
        total_target.update(targets.get(task, Counter()))
        table.add_row(
            task, *(str(counts.get(key, 0)) for key, _ in columns), *target_cell(targets.get(task))
        )
    if len(per_task) > 1:
        table.add_row(
            "all",
            *(str(total.get(key, 0)) for key, _ in columns),
            *target_cell(total_target if targets else None),
            style="bold",
        )
    return table

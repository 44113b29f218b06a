"""Stage 4, filter: the plan's schema and format checks (`filters.py`), one fused polars
expression over micro-batches of items from many seeds at once (`batcher.py`); the
first failing check is the reject's reason."""

from __future__ import annotations

from typing import Any

import msgspec

from taskseed.contract.records import OutputRecord
from taskseed.runtime.batcher import MicroBatcher
from taskseed.runtime.filters import reject_reasons
from taskseed.runtime.stages.base import Funnel, Stage, UnitContext


class Filter(Stage):
    name = "filter"

    def __init__(self, context: UnitContext) -> None:
        super().__init__(context)
        unit = self.unit
        self.batches: MicroBatcher[dict[str, Any], str | None] = MicroBatcher(
            lambda rows: reject_reasons(rows, unit.filters, unit.format)
        )

    async def run(
        self, items: list[OutputRecord], funnel: Funnel, *, count: str | None = None
    ) -> list[OutputRecord]:
        """The items that pass; `count` names the funnel count they add to."""
        rows = [msgspec.structs.asdict(i) for i in items]
        reasons = await self.batches.submit(rows)
        kept = []
        for item, row, reason in zip(items, rows, reasons, strict=True):
            if reason is None:
                kept.append(item)
            else:
                self.drop(funnel, item, reason, row)
        if count is not None:
            funnel.kept(count, len(kept))
        return kept

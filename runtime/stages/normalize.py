"""Stage 2, normalize: native rows -> seed records, by the unit's mapping
(`contract/mapping.py`, shared with the compiler).

A row that does not map is a reject naming the mapping field that failed and the
row's file and line; a seed whose ID an earlier seed of the unit already has is a
reject too (the first one wins, in source order, across slices).
"""

from __future__ import annotations

from taskseed.contract.mapping import MappingError, normalize, row_id
from taskseed.contract.records import SeedRecord
from taskseed.runtime.seeds import SourceRow
from taskseed.runtime.stages.base import Funnel, Stage


class Normalize(Stage):
    name = "normalize"

    def run(self, rows: list[SourceRow], funnel: Funnel, seen: set[str]) -> list[SeedRecord]:
        unit = self.unit
        seeds: list[SeedRecord] = []
        for source in rows:
            assert source.row is not None
            try:
                record = normalize(source.row, unit.mapping, unit.format, unit.task, unit.subtask)
            except MappingError as exc:
                funnel.reject(self.name, row_id(source.row), str(exc), source=source.origin)
                continue
            if record.id in seen:
                funnel.reject(
                    self.name,
                    record.id,
                    "duplicate seed id",
                    seed_id=record.id,
                    source=source.origin,
                )
                continue
            seen.add(record.id)
            seeds.append(record)
        funnel.kept("normalized", len(seeds))
        return seeds

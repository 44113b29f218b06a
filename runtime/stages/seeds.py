"""Stage 1, seeds: a unit's native rows (`runtime/seeds.py`), cut into slices.

Slice k holds the source's rows k * size to (k + 1) * size, so a resumed run finds the
same slices and starts reading at the first one not committed, without reading the
rows before it again. `select` applies `seeds.where` and `--limit-seeds` to a slice;
a row that could not be read, or on which `where` fails, is a reject of this stage
naming its file and line.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from taskseed.contract.mapping import compile_expr
from taskseed.runtime.results import record_id
from taskseed.runtime.seeds import SourceRow, source_rows
from taskseed.runtime.stages.base import Funnel, Stage, UnitContext


@dataclass
class RawSlice:
    index: int
    rows: list[SourceRow]
    last: bool  # the source has no rows after this slice


class Seeds(Stage):
    name = "seeds"

    def __init__(self, context: UnitContext) -> None:
        super().__init__(context)
        where = self.unit.seeds.where
        self.where: Callable[[dict[str, Any]], Any] | None = compile_expr(where) if where else None

    def slices(self, first: int) -> Iterator[RawSlice]:
        """Slices `first`, `first + 1`, ... to the end of the source."""
        options = self.context.options
        size = options.slice_size
        rows = source_rows(
            self.context.plan,
            self.unit,
            use_fixtures=options.use_fixtures,
            root=options.root,
            skip=first * size,
        )
        index = first
        chunk = list(itertools.islice(rows, size))
        while True:
            following = list(itertools.islice(rows, size))
            yield RawSlice(index, chunk, last=not following)
            if not following:
                return
            index, chunk = index + 1, following

    def select(
        self, raw: RawSlice, funnel: Funnel, room: int | None
    ) -> tuple[list[SourceRow], bool]:
        """The rows of the slice that pass `seeds.where`, at most `room` of them (None:
        no limit), and whether the limit was reached."""
        kept: list[SourceRow] = []
        for source in raw.rows:
            if room is not None and len(kept) >= room:
                return kept, True
            if source.row is None:
                funnel.kept("seeds")
                self.context.progress("seeds", 1)
                funnel.reject(
                    self.name,
                    record_id("row", source.origin),
                    source.error or "unreadable",
                    source=source.origin,
                    item={"text": source.preview} if source.preview else None,
                )
                continue
            if self.where is not None:
                try:
                    keep = self.where(source.row)
                except Exception as exc:
                    funnel.kept("seeds")
                    self.context.progress("seeds", 1)
                    funnel.reject(
                        self.name,
                        record_id("row", source.origin),
                        f"seeds.where: {type(exc).__name__}: {exc}",
                        source=source.origin,
                    )
                    continue
                if not keep:
                    continue
            funnel.kept("seeds")
            self.context.progress("seeds", 1)
            kept.append(source)
        return kept, room is not None and len(kept) >= room

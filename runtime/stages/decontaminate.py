"""Stage 4b, decontaminate: items that reproduce a held-out evaluation item are dropped
before they cost a verification request. The index (`decontaminate.py`: word n-grams
and MinHash over the unit's held-out files and eval splits) is built once per unit;
the reject's reason names the source, the held-out item and what they share."""

from __future__ import annotations

import msgspec

from taskseed.contract.records import OutputRecord
from taskseed.runtime.stages.base import Funnel, Stage


class Decontaminate(Stage):
    name = "decontaminate"

    def run(self, items: list[OutputRecord], funnel: Funnel, *, count: str) -> list[OutputRecord]:
        """The items that reproduce no held-out item; `count` as in `Filter.run`."""
        held_out = self.context.held_out
        kept = []
        for item in items:
            if held_out is None:
                kept.append(item)
                continue
            row = msgspec.structs.asdict(item)
            reason = held_out.check(row)
            if reason is None:
                kept.append(item)
            else:
                self.drop(funnel, item, reason, row)
        funnel.kept(count, len(kept))
        return kept

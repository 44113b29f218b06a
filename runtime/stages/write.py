"""Stage 8, write: the dataset and the rejects, shard by shard, from the staged slices.

Every slice's records are sorted by ID, so the dataset (all units' kept records in ID
order, one folder per family) is a merge of the slices, read a batch at a time (batches
sized so that all of them together hold about `staging.MERGE_ROWS` rows); only those
batches and one shard are held. The records dedup drops become rejects as
they pass. The rejects follow, unit by unit, merged from the slices by stage and ID,
with the unit's dedup rejects among them. Each shard is written atomically
(`writer.py`).
"""

from __future__ import annotations

import heapq
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import msgspec

from taskseed.runtime.results import Reject
from taskseed.runtime.stages.dedup import Match
from taskseed.runtime.staging import iter_records, iter_rejects, merge_batch
from taskseed.runtime.writer import Format, ShardWriter

FAMILIES = ("multiple_choice", "generative")
SPOOL_BYTES = 1 << 20  # dedup rejects of a unit held before they go to a file


@dataclass
class Written:
    files: list[dict[str, object]]
    reject_files: list[dict[str, object]]
    written: Counter[str] = field(default_factory=Counter)  # records per unit
    deduplicated: Counter[str] = field(default_factory=Counter)  # dedup rejects per unit
    rejects_by_stage: Counter[str] = field(default_factory=Counter)


class _Spool:
    """One unit's dedup rejects, in the ID order they arrive: in memory, then a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.buffer: list[tuple[str, bytes]] = []
        self.size = 0
        self.spilled = False

    def add(self, item_id: str, line: bytes) -> None:
        self.buffer.append((item_id, line))
        self.size += len(line)
        if self.size > SPOOL_BYTES:
            self._spill()

    def _spill(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            for item_id, line in self.buffer:
                handle.write(item_id.encode() + b"\t" + line + b"\n")
        self.buffer, self.size, self.spilled = [], 0, True

    def __iter__(self) -> Iterator[tuple[tuple[str, str], bytes]]:
        if self.spilled:
            with self.path.open("rb") as handle:
                for raw in handle:
                    name, line = raw.rstrip(b"\n").split(b"\t", 1)
                    yield ("dedup", name.decode()), line
        for item_id, line in self.buffer:
            yield ("dedup", item_id), line


def write_dataset(
    slices: dict[str, list[Path]],
    dropped: dict[str, Match],
    out: Path,
    *,
    fmt: Format,
    shard_size: int,
    scratch: Path,
) -> Written:
    """Write `data/<family>/` and `rejects/` from the units' slices (`slices`, by unit)."""
    writers = {f: ShardWriter(out / "data" / f, fmt, shard_size, out) for f in FAMILIES}
    spools: dict[str, _Spool] = {}
    result = Written(files=[], reject_files=[])
    paths = [path for unit in sorted(slices) for path in slices[unit]]
    batch = merge_batch(len(paths))
    cursors = [iter_records(path, batch) for path in paths]
    for item_id, record in heapq.merge(*cursors, key=itemgetter(0)):
        unit = f"{record.task}/{record.subtask}"
        match = dropped.get(item_id)
        if match is None:
            writers[record.family].add(record)
            result.written[unit] += 1
            continue
        other, similarity = match
        what = f"seed {other.rsplit(':', 1)[1]}" if other.startswith("seed:") else other
        reject = Reject(
            id=record.id,
            unit=unit,
            stage="dedup",
            reason=f"near-duplicate of {what} (estimated Jaccard {similarity:.2f})",
            kind=record.kind,
            seed_id=record.seed_id,
            item=msgspec.structs.asdict(record),
        )
        if unit not in spools:
            spools[unit] = _Spool(scratch / "dedup-rejects" / f"{len(spools)}.tsv")
        spools[unit].add(item_id, msgspec.json.encode(reject))
        result.deduplicated[unit] += 1
    for family in FAMILIES:
        result.files.extend(writers[family].close())

    rejects = ShardWriter(out / "rejects", "jsonl", shard_size, out)
    for unit in sorted(set(slices) | set(spools)):
        mine = slices.get(unit, [])
        streams: list[Iterator[tuple[tuple[str, str], bytes]]] = [
            iter_rejects(path, merge_batch(len(mine))) for path in mine
        ]
        if unit in spools:
            streams.append(iter(spools[unit]))
        for (stage, _id), line in heapq.merge(*streams, key=itemgetter(0)):
            rejects.add_line(line)
            result.rejects_by_stage[stage] += 1
    result.reject_files = rejects.close()
    shutil.rmtree(scratch / "dedup-rejects", ignore_errors=True)
    return result

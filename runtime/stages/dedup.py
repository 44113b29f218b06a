"""Stage 7, dedup: MinHash LSH near-duplicate removal within each dedup scope (subtask,
task or catalog) and against its seeds, over what the units committed to staging.

The result is the one `dedup.NearDuplicates` gives when it indexes a scope's seeds and
then deduplicates its items of one data kind in record-ID order (an item is dropped
when its estimated similarity to a seed or an earlier kept item reaches the
threshold; the reject names the most similar one), but it is reached without holding
the scope in memory:

1. Every seed and item of the scope is sketched once, slice by slice (the texts are
   read from the staged columns and dropped), and only the 64-bit key of each LSH band
   is kept: `bands` x 8 bytes a document, in memory up to `memory_bytes` and in one
   file per band under `.work/` above it.
2. Per data kind, band by band, the keys are sorted: a document whose key is unique in
   every band shares no band with any other document of the kind (seeds included), so
   it is no one's candidate and has none; it is kept, whatever else is in the scope.
3. The others, usually few, are sketched again and run through `NearDuplicates` as
   before: their seeds first, then their items in record-ID order. Candidates only
   ever share a band, so each item meets the same candidates as in the whole index,
   and the same one wins (most agreeing rows, then the greatest key).

Memory is then the band keys of one band at a time, and the index of the documents
that have a candidate at all; a scope of near copies of each other needs more.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt

from taskseed.contract.plan import PlanDedup, Unit
from taskseed.runtime.dedup import NearDuplicates, item_text
from taskseed.runtime.lsh import band_keys
from taskseed.runtime.staging import read_columns, read_seeds

Match = tuple[str, float]  # the key it duplicates ("seed:<unit>:<id>" or a record ID), similarity
Keys = npt.NDArray[np.uint64]
Rows = npt.NDArray[np.int64]
StagedRows = npt.NDArray[np.int32]  # rows of one staged slice


def scope_key(unit: Unit) -> str:
    scope = unit.dedup.scope
    if scope == "subtask":
        return unit.id
    if scope == "task":
        return unit.task
    return "*"


@dataclass
class _Stream:
    """Band keys of one stream of documents (a scope's seeds, or its items of one kind),
    band by band, with where each document is staged (slice number, row)."""

    bands: int
    folder: Path | None  # None: in memory
    parts: list[list[Keys]] = field(default_factory=list)
    chunks: list[tuple[int, StagedRows]] = field(default_factory=list)
    count: int = 0

    def __post_init__(self) -> None:
        self.parts = [[] for _ in range(self.bands)]
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def append(self, keys: Keys, slice_no: int, rows: StagedRows) -> None:
        if not len(rows):
            return
        for band in range(self.bands):
            column = np.ascontiguousarray(keys[band])
            if self.folder is None:
                self.parts[band].append(column)
            else:
                with open(self.folder / f"band-{band}.u64", "ab") as handle:
                    column.tofile(handle)
        self.chunks.append((slice_no, rows))
        self.count += len(rows)

    def band(self, band: int) -> Keys:
        if self.folder is None:
            parts = self.parts[band]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
        path = self.folder / f"band-{band}.u64"
        return np.fromfile(path, dtype=np.uint64) if path.exists() else np.zeros(0, np.uint64)

    def locate(self, positions: Rows) -> dict[int, Rows]:
        """The staged rows of the documents at these positions, by slice number."""
        starts = np.cumsum([0] + [len(rows) for _, rows in self.chunks])
        found: dict[int, list[int]] = defaultdict(list)
        for position in positions.tolist():
            chunk = int(np.searchsorted(starts, position, side="right")) - 1
            slice_no, rows = self.chunks[chunk]
            found[slice_no].append(int(rows[position - starts[chunk]]))
        return {k: np.array(v, dtype=np.int64) for k, v in found.items()}


@dataclass
class _Member:
    unit: Unit
    slices: list[Path]


def deduplicate(
    units: Sequence[Unit],
    slices: dict[str, list[Path]],
    counts: dict[str, int],
    *,
    memory_bytes: int,
    scratch: Path,
) -> dict[str, Match]:
    """The records to drop, by ID, with what each duplicates. `slices` are each unit's
    committed slice folders; `counts` the documents (seeds and records) per unit, to
    size what stays in memory."""
    groups: dict[tuple[str, bytes], list[_Member]] = defaultdict(list)
    for unit in sorted(units, key=lambda u: u.id):
        if unit.dedup.enabled and unit.id in slices:
            config = msgspec.json.encode(unit.dedup, order="deterministic")
            groups[(scope_key(unit), config)].append(_Member(unit, slices[unit.id]))
    dropped: dict[str, Match] = {}
    for number, (_group, members) in enumerate(sorted(groups.items())):
        settings = members[0].unit.dedup
        documents = sum(counts.get(m.unit.id, 0) for m in members)
        spill = documents * settings.bands * 8 > memory_bytes
        folder = scratch / f"group-{number}" if spill else None
        try:
            dropped.update(_group_duplicates(settings, members, folder))
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
    return dropped


def _group_duplicates(
    settings: PlanDedup, members: list[_Member], folder: Path | None
) -> dict[str, Match]:
    sketcher = NearDuplicates(settings)
    bands, rows = settings.bands, settings.rows
    fields = settings.fields
    placed = [(m.unit, path) for m in members for path in m.slices]

    def stream(name: str) -> _Stream:
        return _Stream(bands, None if folder is None else folder / name)

    seeds = stream("seeds")
    kinds: dict[str, _Stream] = {}
    for slice_no, (_unit, path) in enumerate(placed):
        if settings.against_seeds:
            texts = read_seeds(path)["text"].to_list()
            keys = band_keys(sketcher.sketch_many([t or "" for t in texts]), bands, rows)
            seeds.append(keys, slice_no, np.arange(len(texts), dtype=np.int32))
        frame = read_columns(path, ["kind", *fields])
        if not frame.height:
            continue
        texts = [item_text(row, fields) for row in frame.select(fields).iter_rows(named=True)]
        keys = band_keys(sketcher.sketch_many(texts), bands, rows)
        kind_column = np.array(frame["kind"].to_list(), dtype=object)
        for kind in sorted(set(kind_column.tolist())):
            where = np.flatnonzero(kind_column == kind)
            if kind not in kinds:
                kinds[kind] = stream(f"kind-{kind}")
            kinds[kind].append(keys[:, where], slice_no, where.astype(np.int32))

    dropped: dict[str, Match] = {}
    for kind in sorted(kinds):
        items = kinds[kind]
        shared = np.zeros(seeds.count + items.count, dtype=bool)
        for band in range(bands):
            shared |= _repeated(np.concatenate([seeds.band(band), items.band(band)]))
        candidates = np.flatnonzero(shared[seeds.count :])
        if not len(candidates):
            continue  # no item of this kind shares a band with anything: all kept
        index = NearDuplicates(settings)
        seed_keys, seed_texts = _seed_documents(
            placed, seeds, np.flatnonzero(shared[: seeds.count])
        )
        index.add_signatures(seed_keys, sketcher.sketch_many(seed_texts))
        ids, texts = _item_documents(placed, items, candidates, fields)
        order = sorted(range(len(ids)), key=ids.__getitem__)
        sigs = sketcher.sketch_many([texts[i] for i in order])
        ordered = [ids[i] for i in order]
        for item_id, match in zip(
            ordered, index.deduplicate_signatures(ordered, sigs), strict=True
        ):
            if match is not None:
                dropped[item_id] = match
    return dropped


def _repeated(keys: Keys) -> npt.NDArray[np.bool_]:
    """Which keys occur more than once."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]
    mark = np.zeros(len(keys), dtype=bool)
    mark[order[1:][same]] = True
    mark[order[:-1][same]] = True
    return mark


def _seed_documents(
    placed: list[tuple[Unit, Path]], seeds: _Stream, positions: Rows
) -> tuple[list[str], list[str]]:
    keys: list[str] = []
    texts: list[str] = []
    for slice_no, rows in sorted(seeds.locate(positions).items()):
        unit, path = placed[slice_no]
        frame = read_seeds(path)[rows.tolist()]
        for seed_id, text in frame.iter_rows():
            keys.append(f"seed:{unit.id}:{seed_id}")
            texts.append(text or "")
    return keys, texts


def _item_documents(
    placed: list[tuple[Unit, Path]], items: _Stream, positions: Rows, fields: Sequence[str]
) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    texts: list[str] = []
    for slice_no, rows in sorted(items.locate(positions).items()):
        _unit, path = placed[slice_no]
        frame = read_columns(path, ["id", *fields])[rows.tolist()]
        for row in frame.iter_rows(named=True):
            ids.append(row["id"])
            texts.append(item_text(row, fields))
    return ids, texts

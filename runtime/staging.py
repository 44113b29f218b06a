"""Staging: each slice of a unit, committed atomically as soon as it is done.

A slice is a folder, `.work/units/<unit>/slice-000007/`, written under a temporary
name and renamed, so it exists whole or not at all:

- `records.parquet`: the items it kept, one column per record field (the verification
  and the judgement as JSON), sorted by record ID, zstd-compressed;
- `rejects.parquet`: its rejects, by stage and ID, each as its final JSON line;
- `seeds.parquet`: its seeds' IDs and the text dedup compares against them;
- `meta.json`: the run key, where the slice lies in the source, its counts, tokens and
  requests.

A slice whose meta has this run's key is done: a resumed run skips it and starts at
the first slice that is not. Everything else under `.work/units/<unit>/` (slices of
another run key, temporary folders of a killed run) is removed when the unit starts.
Finalize reads only these files, so a resumed run reports what a clean one does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from taskseed.contract.records import Judgement, OutputRecord, Verification
from taskseed.runtime.results import Reject

WORK_DIR = ".work"
ROW_GROUP = 256  # rows per Parquet row group: the unit a slice is read back in
MERGE_ROWS = 8_192  # rows held at once over all slices when they are merged
RECORD_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "task": pl.String,
    "subtask": pl.String,
    "domain": pl.String,
    "kind": pl.String,
    "family": pl.String,
    "seed_id": pl.String,
    "parent_id": pl.String,
    "question": pl.String,
    "context": pl.String,
    "choices": pl.List(pl.String),
    "answer": pl.String,
    "answer_index": pl.Int64,
    "answer_label": pl.String,
    "rationale": pl.String,
    "tests": pl.List(pl.String),
    "verification": pl.String,
    "judgement": pl.String,
    "unit_fingerprint": pl.String,
    "model": pl.String,
    "license": pl.String,
}
# Record fields staged as JSON text: their shapes vary (votes and scores by key).
JSON_COLUMNS: dict[str, type] = {"verification": Verification, "judgement": Judgement}
REJECT_SCHEMA: dict[str, Any] = {"stage": pl.String, "id": pl.String, "line": pl.Binary}
SEED_SCHEMA: dict[str, Any] = {"id": pl.String, "text": pl.String}


def run_key(*parts: object) -> str:
    """What a unit's slices depend on besides the ledger: plan, engine, options."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


class SliceMeta(msgspec.Struct, kw_only=True):
    run_key: str
    index: int
    rows: int  # source rows in the slice (where and limit aside)
    taken: int  # readable rows that passed `seeds.where`, for --limit-seeds
    last: bool  # no slice follows: the source ended, or the limit was reached
    counts: dict[str, int]
    kinds: dict[str, int]  # records per data kind
    families: dict[str, int]  # records per family
    rejects: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests_sent: int = 0
    requests_replayed: int = 0
    seconds: float = 0.0
    # engine use per stage: {stage: {requests, prompt_tokens, completion_tokens}}
    stages: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    decontamination: dict[str, Any] = msgspec.field(default_factory=dict)


def kept_records(meta: SliceMeta) -> int:
    """The records a slice kept: verified and enriched items, before dedup."""
    return sum(meta.kinds.values())


def result_slices(
    committed: dict[int, SliceMeta], target: int | None
) -> tuple[dict[int, SliceMeta], bool]:
    """The slices a unit's result is made of, and whether they are all there.

    They are the committed slices 0, 1, ... up to the last one of the source, or, with
    a target in kept records, up to the first at which the slices so far have kept at
    least `target` records. Which slices these are depends only on what each slice
    kept, never on which finished first, so slices after them (in flight when the
    target was reached) are left out of the result whether or not they were committed.
    """
    prefix: dict[int, SliceMeta] = {}
    kept = 0
    index = 0
    while index in committed:
        meta = prefix[index] = committed[index]
        kept += kept_records(meta)
        if meta.last or (target is not None and kept >= target):
            return prefix, True
        index += 1
    return prefix, False


def unit_folder_name(unit_id: str) -> str:
    return unit_id.replace("/", "__")


class Staging:
    def __init__(self, out: Path) -> None:
        self.folder = out / WORK_DIR / "units"

    def unit_folder(self, unit_id: str) -> Path:
        return self.folder / unit_folder_name(unit_id)

    def slice_folder(self, unit_id: str, index: int) -> Path:
        return self.unit_folder(unit_id) / f"slice-{index:06d}"

    def committed(self, unit_id: str, key: str, *, clean: bool = False) -> dict[int, SliceMeta]:
        """The unit's slices committed under `key`, by index; with `clean`, whatever
        else is in the unit's folder is removed."""
        folder = self.unit_folder(unit_id)
        found: dict[int, SliceMeta] = {}
        if not folder.is_dir():
            return found
        for entry in sorted(folder.iterdir()):
            meta = _read_meta(entry / "meta.json") if entry.name.startswith("slice-") else None
            if meta is not None and meta.run_key == key and entry.name == f"slice-{meta.index:06d}":
                found[meta.index] = meta
            elif clean:
                _remove(entry)
        return found

    def commit(
        self,
        unit_id: str,
        meta: SliceMeta,
        records: Sequence[OutputRecord],
        rejects: Sequence[Reject],
        seeds: Sequence[tuple[str, str | None]],
    ) -> None:
        """Write the slice under a temporary name, then rename it into place."""
        final = self.slice_folder(unit_id, meta.index)
        tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
        _remove(tmp)
        tmp.mkdir(parents=True)
        records_frame(records).write_parquet(tmp / "records.parquet", row_group_size=ROW_GROUP)
        ordered = sorted(rejects, key=lambda r: (r.stage, r.id))
        pl.DataFrame(
            {
                "stage": [r.stage for r in ordered],
                "id": [r.id for r in ordered],
                "line": [msgspec.json.encode(r) for r in ordered],
            },
            schema=REJECT_SCHEMA,
        ).write_parquet(tmp / "rejects.parquet", row_group_size=ROW_GROUP)
        pl.DataFrame(
            {"id": [s[0] for s in seeds], "text": [s[1] for s in seeds]}, schema=SEED_SCHEMA
        ).write_parquet(tmp / "seeds.parquet")
        (tmp / "meta.json").write_bytes(msgspec.json.encode(meta))
        for name in ("records.parquet", "rejects.parquet", "seeds.parquet", "meta.json"):
            _fsync(tmp / name)
        _remove(final)
        os.replace(tmp, final)
        _fsync(final.parent)

    def slices(self, unit_id: str, key: str) -> list[Path]:
        """The folders of the unit's committed slices, in order."""
        return [self.slice_folder(unit_id, i) for i in sorted(self.committed(unit_id, key))]


def _read_meta(path: Path) -> SliceMeta | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=SliceMeta)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None  # an unreadable slice is redone, never trusted


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ records


def records_frame(records: Sequence[OutputRecord]) -> pl.DataFrame:
    """The records as columns, in their order."""
    columns: dict[str, list[Any]] = {name: [] for name in RECORD_SCHEMA}
    for record in records:
        for name, values in columns.items():
            values.append(getattr(record, name))
    for name in JSON_COLUMNS:
        columns[name] = [
            None if v is None else msgspec.json.encode(v).decode() for v in columns[name]
        ]
    return pl.DataFrame(columns, schema=RECORD_SCHEMA)


def record_from_row(row: dict[str, Any]) -> OutputRecord:
    """A staged row back as the record it was (the same JSON when encoded)."""
    for name, kind in JSON_COLUMNS.items():
        value = row.get(name)
        if value is not None:
            row[name] = msgspec.json.decode(value, type=kind)
    return OutputRecord(**row)


def merge_batch(slices: int) -> int:
    """Rows to read at a time from each of `slices` slices merged together, so that the
    merge holds about `MERGE_ROWS` rows however many slices there are."""
    return max(16, min(ROW_GROUP, MERGE_ROWS // max(slices, 1)))


def iter_frames(path: Path, batch_rows: int = ROW_GROUP) -> Iterator[pl.DataFrame]:
    """A staged file in batches of `batch_rows` rows."""
    frame = pl.scan_parquet(path)
    offset = 0
    while True:
        batch = frame.slice(offset, batch_rows).collect()
        if batch.height == 0:
            return
        yield batch
        offset += batch.height


def iter_records(folder: Path, batch_rows: int = ROW_GROUP) -> Iterator[tuple[str, OutputRecord]]:
    """A slice's records in ID order, with their IDs."""
    for batch in iter_frames(folder / "records.parquet", batch_rows):
        for row in batch.iter_rows(named=True):
            yield row["id"], record_from_row(row)


def iter_rejects(
    folder: Path, batch_rows: int = ROW_GROUP
) -> Iterator[tuple[tuple[str, str], bytes]]:
    """A slice's rejects in (stage, ID) order: the key and the reject's JSON line."""
    for batch in iter_frames(folder / "rejects.parquet", batch_rows):
        for stage, item_id, line in batch.iter_rows():
            yield (stage, item_id), line


def read_seeds(folder: Path) -> pl.DataFrame:
    return pl.read_parquet(folder / "seeds.parquet")


def read_columns(folder: Path, columns: Sequence[str]) -> pl.DataFrame:
    return pl.read_parquet(folder / "records.parquet", columns=list(columns))

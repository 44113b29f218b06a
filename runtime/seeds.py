"""Stage 1, seeds: stream a unit's native rows from its source.

Sources: the fixture rows embedded in the plan (offline), local JSONL, Parquet or CSV
files (read in slices through polars, never whole), or a Hugging Face dataset
(`hf_datasets.py`, streaming; the optional extra `[hf]`). Held-out splits are refused here
too, whatever the plan says, so a hand-edited plan cannot seed from a benchmark. The
file reader and the dataset loader also serve decontamination (`decontaminate.py`),
which is the one caller allowed to read held-out splits (`held_out_rows`).
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from taskseed.contract.mapping import MappingError, compile_expr
from taskseed.contract.plan import Plan, Unit
from taskseed.contract.splits import is_training_name, split_name
from taskseed.runtime.errors import SeedError
from taskseed.runtime.hf_datasets import load_split

SLICE_ROWS = 10_000
Row = dict[str, Any]


def check_split(unit: Unit) -> None:
    seeds = unit.seeds
    name = split_name(seeds.split)
    if name in {split_name(s) for s in seeds.eval_splits}:
        raise SeedError(f"{unit.id}: split `{seeds.split}` is evaluated on; refusing to seed")
    if not is_training_name(seeds.split) and not seeds.training_split_reason:
        raise SeedError(f"{unit.id}: split `{seeds.split}` is not a training split; refusing")


def iter_rows(
    plan: Plan, unit: Unit, *, use_fixtures: bool, root: Path, limit: int | None = None
) -> Iterator[Row]:
    """The unit's rows (after `seeds.where`), at most `limit` of them."""
    check_split(unit)
    if use_fixtures:
        if unit.seeds.fixture is None:
            raise SeedError(f"{unit.id}: the plan has no fixture rows for this unit")
        rows: Iterator[Row] = iter(plan.fixtures[unit.seeds.fixture].rows)
    elif unit.seeds.files:
        rows = _local_rows(unit, root)
    elif unit.seeds.dataset:
        rows = _hf_rows(unit)
    else:
        raise SeedError(f"{unit.id}: the plan names no seed source")
    count = 0
    where = compile_expr(unit.seeds.where) if unit.seeds.where else None
    for row in rows:
        if limit is not None and count >= limit:
            return
        if where is not None:
            try:
                keep = where(row)
            except Exception as exc:
                raise MappingError("seeds.where", f"{type(exc).__name__}: {exc}") from None
            if not keep:
                continue
        count += 1
        yield row


def _local_rows(unit: Unit, root: Path) -> Iterator[Row]:
    return read_files(unit.seeds.files, root, unit.seeds.format, owner=unit.id)


def matching_files(pattern: str, root: Path) -> list[str]:
    """The files a local-file glob (relative to `root`) names, sorted."""
    return sorted(glob.glob(str(root / pattern)))


def read_files(
    patterns: Sequence[str],
    root: Path,
    fmt: str | None = None,
    *,
    owner: str,
    role: str = "seed",
) -> Iterator[Row]:
    """Rows of local JSONL, Parquet or CSV files (globs relative to `root`), read in
    slices through polars. Shared by the seeds and by decontamination's held-out files
    (`role` says which, in error messages; `owner` is the unit ID)."""
    import polars as pl

    paths: list[str] = []
    for pattern in patterns:
        matches = matching_files(pattern, root)
        if not matches:
            raise SeedError(f"{owner}: no {role} file matches {pattern} (relative to {root})")
        paths.extend(matches)
    for path in paths:
        kind = fmt or _format_of(path)
        if kind == "parquet":
            frame = pl.scan_parquet(path)
        elif kind == "csv":
            frame = pl.scan_csv(path)
        elif kind == "jsonl":
            frame = pl.scan_ndjson(path)
        else:
            raise SeedError(f"{owner}: cannot tell the format of {path}; set `seeds.format`")
        offset = 0
        while True:
            batch = frame.slice(offset, SLICE_ROWS).collect()
            if batch.height == 0:
                break
            yield from batch.iter_rows(named=True)
            offset += batch.height


def _format_of(path: str) -> str | None:
    lowered = path.lower()
    for suffix, fmt in (
        (".parquet", "parquet"),
        (".csv", "csv"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
    ):
        if lowered.endswith(suffix):
            return fmt
    return None


def _hf_rows(unit: Unit) -> Iterator[Row]:
    return load_split(unit, unit.seeds.split)


def held_out_rows(unit: Unit, split: str) -> Iterator[Row]:
    """The rows of one of the unit's held-out splits, for decontamination only: the
    same loader as the seeds, with the one split that seeding refuses."""
    held_out = {split_name(s) for s in (*unit.seeds.eval_splits, *unit.decontaminate.splits)}
    if split_name(split) not in held_out:
        raise SeedError(f"{unit.id}: split `{split}` is not a held-out split of this unit")
    return load_split(unit, split)

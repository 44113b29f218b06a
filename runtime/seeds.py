"""Seed sources: a unit's native rows, one at a time, each with where it came from.

Sources: the fixture rows embedded in the plan (offline), local JSONL, Parquet or CSV
files, or a Hugging Face dataset (`hf_datasets.py`, streaming; the optional extra
`[hf]`). Held-out splits are refused here too, whatever the plan says, so a
hand-edited plan cannot seed from a benchmark. The file reader and the dataset loader
also serve decontamination (`decontaminate.py`), which is the one caller allowed to
read held-out splits (`held_out_rows`).

Local files are named by globs relative to the run's root, and must stay inside it:
absolute paths and `..` are refused, as are symbolic links that leave the root and
anything but regular files. Rows are read without inferring a schema across them, so
one bad row cannot change how the others parse:

- JSONL: one JSON object per line, decoded on its own; the row fields the unit's
  mapping names and a row lacks are null (`row_fields`);
- CSV: the header names the fields; each value is read on its own: empty is null, an
  integer or a decimal number is a number, anything else is text;
- Parquet: the file's own schema.

A row that cannot be read (not JSON, not an object, not UTF-8, the wrong number of
CSV fields) is a `SourceRow` with the reason, which the seeds stage turns into a
reject naming the file and line; a file that cannot be read at all (empty, corrupt,
unreadable) is a `SeedError` naming it.
"""

from __future__ import annotations

import csv
import glob
import itertools
import os
import re
import stat
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec
from jinja2 import meta

from taskseed.contract.jinja_env import environment
from taskseed.contract.mapping import MappingError, classify, compile_expr
from taskseed.contract.plan import Plan, Unit
from taskseed.contract.splits import is_training_name, split_name
from taskseed.runtime.errors import SeedError
from taskseed.runtime.hf_datasets import load_split

READ_ROWS = 10_000  # Parquet rows decoded at a time
PREVIEW_CHARS = 500
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One native row, or why it could not be read; `origin` is its file and line
    (`seeds.jsonl:17`), or its file, split or fixture and row number (`x.parquet#17`)."""

    row: Row | None
    origin: str
    error: str | None = None
    preview: str | None = None  # the start of a row that could not be read


def check_split(unit: Unit) -> None:
    seeds = unit.seeds
    name = split_name(seeds.split)
    if name in {split_name(s) for s in seeds.eval_splits}:
        raise SeedError(f"{unit.id}: split `{seeds.split}` is evaluated on; refusing to seed")
    if not is_training_name(seeds.split) and not seeds.training_split_reason:
        raise SeedError(f"{unit.id}: split `{seeds.split}` is not a training split; refusing")


def row_fields(unit: Unit) -> frozenset[str]:
    """The top-level row fields the unit's mapping and `seeds.where` name."""
    mapping = unit.mapping
    texts = [
        mapping.question,
        mapping.context,
        mapping.choices if isinstance(mapping.choices, str) else None,
        mapping.answer.value,
        mapping.answer.labels if isinstance(mapping.answer.labels, str) else None,
        mapping.answer.aliases,
        mapping.rationale,
        mapping.tests,
        mapping.id,
        *mapping.metadata.values(),
        unit.seeds.where,
    ]
    env = environment()
    names: set[str] = set()
    for text in texts:
        if not text:
            continue
        expr = classify(text)
        source = expr.body if expr.is_template else "{{ " + expr.body + " }}"
        try:
            names |= meta.find_undeclared_variables(env.parse(source))
        except Exception:  # the compiler checked the syntax; nothing to add here
            continue
    return frozenset(names)


def source_rows(
    plan: Plan, unit: Unit, *, use_fixtures: bool, root: Path, skip: int = 0
) -> Iterator[SourceRow]:
    """The unit's native rows in source order, after the first `skip` of them."""
    check_split(unit)
    if use_fixtures:
        if unit.seeds.fixture is None:
            raise SeedError(f"{unit.id}: the plan has no fixture rows for this unit")
        fixture = plan.fixtures[unit.seeds.fixture]
        return (
            SourceRow(row, f"{fixture.origin}#{number}")
            for number, row in enumerate(fixture.rows[skip:], skip + 1)
        )
    if unit.seeds.files:
        return _file_rows(
            unit.seeds.files,
            root,
            unit.seeds.format,
            owner=unit.id,
            role="seed",
            fields=row_fields(unit),
            skip=skip,
        )
    if unit.seeds.dataset:
        split = unit.seeds.split
        rows = itertools.islice(load_split(unit, split), skip, None)
        return (SourceRow(row, f"{split}#{number}") for number, row in enumerate(rows, skip + 1))
    raise SeedError(f"{unit.id}: the plan names no seed source")


def iter_rows(
    plan: Plan, unit: Unit, *, use_fixtures: bool, root: Path, limit: int | None = None
) -> Iterator[Row]:
    """The unit's rows after `seeds.where`, at most `limit` of them; a row that cannot
    be read is an error here (the seeds stage makes it a reject instead)."""
    where = compile_expr(unit.seeds.where) if unit.seeds.where else None
    count = 0
    for source in source_rows(plan, unit, use_fixtures=use_fixtures, root=root):
        if limit is not None and count >= limit:
            return
        if source.row is None:
            raise SeedError(f"{unit.id}: {source.origin}: {source.error}")
        if where is not None:
            try:
                keep = where(source.row)
            except Exception as exc:
                raise MappingError("seeds.where", f"{type(exc).__name__}: {exc}") from None
            if not keep:
                continue
        count += 1
        yield source.row


# ------------------------------------------------------------------ local files


def matching_files(
    pattern: str, root: Path, *, owner: str = "the plan", role: str = "seed"
) -> list[str]:
    """The regular files a glob relative to `root` names, sorted; a pattern or a match
    that leaves the root is refused."""
    pure = PurePosixPath(pattern.replace("\\", "/"))
    if pure.is_absolute() or Path(pattern).is_absolute() or ".." in pure.parts:
        raise SeedError(
            f"{owner}: {role} files `{pattern}` must be relative to --root and stay inside "
            "it (absolute paths and `..` are refused)"
        )
    base = root.resolve()
    found = []
    for match in sorted(glob.glob(str(root / pattern))):
        name = _name(match, root)
        real = Path(os.path.realpath(match))
        if not real.is_relative_to(base):
            raise SeedError(f"{owner}: {role} file {name} links outside --root; refused")
        try:
            mode = os.stat(real).st_mode
        except OSError as exc:
            raise SeedError(f"{owner}: cannot read {role} file {name}: {exc.strerror}") from None
        if stat.S_ISDIR(mode):
            continue  # a folder the glob also matched: not a file to read
        if not stat.S_ISREG(mode):
            raise SeedError(f"{owner}: {role} file {name} is not a regular file; refused")
        found.append(match)
    return found


def _name(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


def read_files(
    patterns: Sequence[str],
    root: Path,
    fmt: str | None = None,
    *,
    owner: str,
    role: str = "seed",
) -> Iterator[Row]:
    """Rows of local JSONL, Parquet or CSV files (globs relative to `root`). Shared by
    the seeds and by decontamination's held-out files (`role` says which, in error
    messages; `owner` is the unit ID); a row that cannot be read is an error here."""
    for source in _file_rows(patterns, root, fmt, owner=owner, role=role, fields=(), skip=0):
        if source.row is None:
            raise SeedError(f"{owner}: {role} file {source.origin}: {source.error}")
        yield source.row


def _file_rows(
    patterns: Sequence[str],
    root: Path,
    fmt: str | None,
    *,
    owner: str,
    role: str,
    fields: Collection[str],
    skip: int,
) -> Iterator[SourceRow]:
    paths: list[str] = []
    for pattern in patterns:
        matches = matching_files(pattern, root, owner=owner, role=role)
        if not matches:
            raise SeedError(f"{owner}: no {role} file matches {pattern} (relative to {root})")
        paths.extend(matches)
    left = [skip]
    for path in paths:
        kind = fmt or _format_of(path)
        name = _name(path, root)
        if kind not in ("jsonl", "parquet", "csv"):
            raise SeedError(f"{owner}: cannot tell the format of {name}; set `seeds.format`")
        try:
            empty = os.stat(path).st_size == 0
        except OSError as exc:
            raise SeedError(f"{owner}: cannot read {role} file {name}: {exc.strerror}") from None
        if empty:
            raise SeedError(f"{owner}: {role} file {name} is empty")
        try:
            if kind == "jsonl":
                yield from _jsonl(path, name, fields, left)
            elif kind == "csv":
                yield from _csv(path, name, fields, left)
            else:
                yield from _parquet(path, name, left)
        except OSError as exc:
            raise SeedError(f"{owner}: cannot read {role} file {name}: {exc.strerror}") from None
        except _Unreadable as exc:
            raise SeedError(f"{owner}: cannot read {role} file {name}: {exc}") from None


class _Unreadable(Exception):
    """A file that cannot be read as its format says."""


def _preview(data: bytes) -> str:
    return data.decode("utf-8", "replace")[:PREVIEW_CHARS]


def _filled(row: Row, fields: Collection[str]) -> Row:
    for name in fields:
        row.setdefault(name, None)
    return row


def _jsonl(path: str, name: str, fields: Collection[str], left: list[int]) -> Iterator[SourceRow]:
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line.strip():
                continue
            if left[0]:
                left[0] -= 1
                continue
            origin = f"{name}:{number}"
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield SourceRow(
                    None, origin, f"not valid UTF-8 (byte {exc.start + 1})", _preview(line)
                )
                continue
            try:
                value = msgspec.json.decode(line)
            except msgspec.DecodeError as exc:
                yield SourceRow(None, origin, f"not valid JSON: {exc}", _preview(line))
                continue
            if not isinstance(value, dict):
                kind = "an array" if isinstance(value, list) else f"a {type(value).__name__}"
                yield SourceRow(None, origin, f"{kind}, not a JSON object", _preview(line))
                continue
            yield SourceRow(_filled(value, fields), origin)


def _csv(path: str, name: str, fields: Collection[str], left: list[int]) -> Iterator[SourceRow]:
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise _Unreadable(f"the header: {exc}") from None
        if not header or not any(name.strip() for name in header):
            raise _Unreadable("no header line")
        if any(_bad_text(h) for h in header):
            raise _Unreadable("the header is not valid UTF-8")
        line = reader.line_num
        while True:
            try:
                values = next(reader, None)
            except csv.Error as exc:
                raise _Unreadable(f"line {reader.line_num}: {exc}") from None
            if values is None:
                return
            start, line = line + 1, reader.line_num
            if not values:
                continue
            if left[0]:
                left[0] -= 1
                continue
            origin = f"{name}:{start}"
            if any(_bad_text(v) for v in values):
                text = ",".join(values).encode("utf-8", "surrogateescape")
                yield SourceRow(None, origin, "not valid UTF-8", _preview(text))
                continue
            if len(values) != len(header):
                reason = f"{len(values)} fields where the header has {len(header)}"
                yield SourceRow(None, origin, reason, ",".join(values)[:PREVIEW_CHARS])
                continue
            row = {name: _scalar(value) for name, value in zip(header, values, strict=True)}
            yield SourceRow(_filled(row, fields), origin)


_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+(?:[eE][-+]?[0-9]+)?")


def _scalar(value: str) -> Any:
    """A CSV value: null, a number, or text, by its own form only."""
    if value == "":
        return None
    if _INTEGER.fullmatch(value):
        return int(value)
    if _DECIMAL.fullmatch(value):
        return float(value)
    return value


def _bad_text(text: str) -> bool:
    """Whether the text holds bytes that were not UTF-8 (surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parquet(path: str, name: str, left: list[int]) -> Iterator[SourceRow]:
    import polars as pl

    try:
        frame = pl.scan_parquet(path)
        total = int(frame.select(pl.len()).collect().item())
    except Exception as exc:  # polars reports a corrupt file in several exception types
        raise _Unreadable(_one_line(exc)) from None
    offset = min(left[0], total)
    left[0] -= offset
    while offset < total:
        try:
            batch = frame.slice(offset, READ_ROWS).collect()
        except Exception as exc:
            raise _Unreadable(_one_line(exc)) from None
        if batch.height == 0:
            return
        for number, row in enumerate(batch.iter_rows(named=True), offset + 1):
            yield SourceRow(row, f"{name}#{number}")
        offset += batch.height


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


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


def held_out_rows(unit: Unit, split: str) -> Iterator[Row]:
    """The rows of one of the unit's held-out splits, for decontamination only: the
    same loader as the seeds, with the one split that seeding refuses."""
    held_out = {split_name(s) for s in (*unit.seeds.eval_splits, *unit.decontaminate.splits)}
    if split_name(split) not in held_out:
        raise SeedError(f"{unit.id}: split `{split}` is not a held-out split of this unit")
    return load_split(unit, split)

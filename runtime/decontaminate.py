"""Decontamination: drop generated items that reproduce held-out evaluation items.

The index of a unit's held-out items is built once, before its first item is checked,
from the unit's `decontaminate` section:

- `files`: local files of evaluation items in the dataset's own row format (JSONL,
  Parquet or CSV, read by the seeds' reader, `seeds.read_files`), relative to the plan
  root;
- `splits` (default: `seeds.eval_splits`): the held-out splits of the unit's Hugging
  Face dataset, read by the seeds' loader (`seeds.held_out_rows`, the only reader that
  accepts a held-out split). In an offline run (`--fixtures`) they are never loaded:
  the check runs against the local files only, and the manifest's `decontamination`
  section names the splits that were skipped. In a real run a split that cannot be
  loaded stops the run, like a seed source that cannot be read: a run that was asked
  to decontaminate does not silently skip it. A unit whose seeds are local files
  names no dataset: its splits are skipped with a note;
- `sources`: benchmarks that live in other datasets (BBH's items are BIG-bench's), each
  one split of a dataset loaded by `hf_datasets.load_rows` and mapped by its own text
  mapping (or the unit's); online runs only, like `splits`, and listed in the manifest.

Every row is mapped by the unit's own mapping (`compiler.mapping.normalize`); a row
that does not map as a whole (a test split with hidden labels, say) keeps the text of
the fields that do. `fields` (default `question` and `context`) says which text is
compared, normalised as `answers.normalize_text` (SQuAD-style).

A generated item is dropped when

1. one of its field values shares a run of `ngram` words (13, as in GPT-3 and later
   reports) with a held-out item; a value shorter than that is compared whole, when it
   has at least `MIN_SHORT_WORDS` words. N-grams that more than `COMMON_ITEMS` held-out
   items share are the task's own wording (BIG-bench repeats an instruction in every
   prompt) and do not count. The index stores 64-bit BLAKE2b hashes of the n-grams in
   one sorted numpy array (12 bytes an n-gram with its owner), never the text; or
2. its MinHash similarity to a held-out item is at or above `threshold`, by the run's
   MinHash LSH (`dedup.NearDuplicates`, with the settings the plan resolved in
   `decontaminate.minhash`: the unit's dedup shingles, bands and rows for this threshold).

Indexes are cached per source, mapping and settings, so the subtasks of a task that
share their held-out data build it once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from taskseed.contract.mapping import MappingError, compile_expr, normalize
from taskseed.contract.plan import PlanDedup, PlanEvalSource, Unit
from taskseed.runtime.answers import normalize_text
from taskseed.runtime.dedup import NearDuplicates
from taskseed.runtime.hf_datasets import load_rows
from taskseed.runtime.seeds import held_out_rows, matching_files, read_files

MIN_SHORT_WORDS = 5
# An n-gram that more than this many held-out items share is the task's wording (an
# instruction every prompt repeats), not an item's content: it is not a match. Copies of
# whole items are still caught by the item's other n-grams and by MinHash.
COMMON_ITEMS = 10
QUOTE_CHARS = 120
CACHE_SIZE = 16
Row = dict[str, Any]


def _hash(words: Sequence[str]) -> int:
    digest = hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _values(item: dict[str, Any], fields: Iterable[str]) -> list[str]:
    out: list[str] = []
    for name in fields:
        value = item.get(name)
        if isinstance(value, list | tuple):
            out.extend(str(v) for v in value if v is not None)
        elif value is not None and str(value).strip():
            out.append(str(value))
    return out


def _runs(words: list[str], n: int) -> Iterator[tuple[int, int]]:
    """(start, length) of every n-word run; a shorter value is one run of its own."""
    if len(words) >= n:
        for start in range(len(words) - n + 1):
            yield start, n
    elif len(words) >= MIN_SHORT_WORDS:
        yield 0, len(words)


@dataclass
class HeldOut:
    """Held-out items: their n-gram hashes and a MinHash index, checked per item."""

    ngram: int
    fields: list[str]
    minhash: PlanDedup
    labels: list[tuple[str, str]] = field(default_factory=list)  # (source, item id)
    counts: dict[str, int] = field(default_factory=dict)  # items per source
    common_ngrams: int = 0  # n-grams left out as the task's own wording
    _pending: list[int] = field(default_factory=list)
    _owners_pending: list[int] = field(default_factory=list)
    _hashes: np.ndarray[Any, np.dtype[np.uint64]] = field(
        default_factory=lambda: np.zeros(0, dtype=np.uint64)
    )
    _owners: np.ndarray[Any, np.dtype[np.int32]] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int32)
    )
    _near: NearDuplicates = field(init=False)

    def __post_init__(self) -> None:
        self._near = NearDuplicates(self.minhash)

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, source: str, item_id: str, item: dict[str, Any]) -> None:
        values = _values(item, self.fields)
        if not values:
            return
        owner = len(self.labels)
        self.labels.append((source, item_id))
        self.counts[source] = self.counts.get(source, 0) + 1
        for value in values:
            words = normalize_text(value).split()
            for start, length in _runs(words, self.ngram):
                self._pending.append(_hash(words[start : start + length]))
                self._owners_pending.append(owner)
        text = "\n".join(values)
        if normalize_text(text):
            self._near.add(str(owner), text)

    def freeze(self) -> None:
        """Sort the n-gram hashes for lookup (after the last `add`), leaving out the
        n-grams that more than `COMMON_ITEMS` held-out items share."""
        if not self._pending:
            return
        hashes = np.concatenate([self._hashes, np.array(self._pending, dtype=np.uint64)])
        owners = np.concatenate([self._owners, np.array(self._owners_pending, dtype=np.int32)])
        order = np.lexsort((owners, hashes))
        hashes, owners = hashes[order], owners[order]
        # One entry per (n-gram, item); then how many items hold each n-gram.
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])
        hashes, owners = hashes[first], owners[first]
        _, items = np.unique(hashes, return_counts=True)
        common = items > COMMON_ITEMS
        self.common_ngrams += int(common.sum())
        keep = np.repeat(~common, items)
        self._hashes, self._owners = hashes[keep], owners[keep]
        self._pending, self._owners_pending = [], []

    def check(self, item: dict[str, Any]) -> str | None:
        """Why the item reproduces a held-out item, or None when it does not."""
        if not self.labels:
            return None
        values = _values(item, self.fields)
        for value in values:
            words = normalize_text(value).split()
            runs = list(_runs(words, self.ngram))
            if not runs or not len(self._hashes):
                continue
            wanted = np.array(
                [_hash(words[start : start + length]) for start, length in runs],
                dtype=np.uint64,
            )
            at = np.searchsorted(self._hashes, wanted)
            at = np.minimum(at, len(self._hashes) - 1)
            hits = np.flatnonzero(self._hashes[at] == wanted)
            if len(hits):
                first = int(hits[0])
                start, length = runs[first]
                source, item_id = self.labels[int(self._owners[at[first]])]
                quote = _quote(" ".join(words[start : start + length]))
                if length == self.ngram:
                    return (
                        f"shares a {self.ngram}-gram with held-out {source} item {item_id}: "
                        f"'{quote}'"
                    )
                return f"repeats held-out {source} item {item_id} word for word: '{quote}'"
        text = "\n".join(values)
        if not normalize_text(text):
            return None
        match = self._near.first_match(text)
        if match is None:
            return None
        key, similarity = match
        source, item_id = self.labels[int(key)]
        return (
            f"near-duplicate of held-out {source} item {item_id} "
            f"(estimated Jaccard {similarity:.2f}, threshold {self.minhash.threshold})"
        )


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "..."


# ------------------------------------------------------------------ building


def _unit_expressions(unit: Unit) -> dict[str, Any]:
    mapping = unit.mapping
    return {
        "question": mapping.question,
        "context": mapping.context,
        "choices": mapping.choices,
        "rationale": mapping.rationale,
    }


def _text_fields(row: Row, expressions: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The compared fields of a row, by the expressions of each record field: for a row
    that does not map as a whole (hidden labels), and for a benchmark's own rows."""
    out: dict[str, Any] = {}
    for name in fields:
        expression = expressions.get(name)
        if expression is None:
            continue
        if isinstance(expression, list):
            out[name] = list(expression)
            continue
        try:
            value = compile_expr(expression)(row)
        except Exception:
            continue
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            out[name] = str(value)
        elif isinstance(value, list | tuple):
            out[name] = [str(v) for v in value if isinstance(v, str | int | float)]
    return out


def _add_rows(index: HeldOut, unit: Unit, source: str, rows: Iterable[Row]) -> int:
    """Map and index one source's rows; the number of rows that gave no text."""
    unmapped = 0
    for number, row in enumerate(rows, 1):
        try:
            record = normalize(row, unit.mapping, unit.format, unit.task, unit.subtask)
        except MappingError:
            fields = _text_fields(row, _unit_expressions(unit), index.fields)
            if not _values(fields, index.fields):
                unmapped += 1
                continue
            index.add(source, f"#{number}", fields)
            continue
        item_id = record.id if unit.mapping.id is not None else f"#{number}"
        index.add(source, item_id, msgspec.structs.asdict(record))
    return unmapped


def _add_source_rows(index: HeldOut, unit: Unit, source: PlanEvalSource) -> int:
    """Index a benchmark in another dataset; rows in the unit's own format map by the
    unit's mapping, others by the source's. The number of rows that gave no text."""
    rows = load_rows(source, source.split, owner=unit.id)
    if source.mapping is None:
        return _add_rows(index, unit, source.label, rows)
    unmapped = 0
    expressions = dict(source.mapping)
    for number, row in enumerate(rows, 1):
        fields = _text_fields(row, expressions, index.fields)
        if not _values(fields, index.fields):
            unmapped += 1
            continue
        index.add(source.label, f"#{number}", fields)
    return unmapped


@dataclass
class Built:
    """A unit's index (None: nothing to check against) and what the manifest says."""

    index: HeldOut | None
    info: dict[str, Any]


def build(unit: Unit, *, use_fixtures: bool, root: Path) -> Built:
    """The unit's held-out index, read from its files and (online) its eval splits."""
    config = unit.decontaminate
    if not config.enabled:
        return Built(None, {"enabled": False})
    skipped: list[str] = []
    splits: list[str] = []
    if config.splits:
        dataset = unit.seeds.dataset
        names = ", ".join(config.splits)
        if use_fixtures:
            skipped.append(
                f"held-out splits {names} of {dataset or 'the dataset'} not loaded in an "
                "offline run (--fixtures); checked against the local files only"
            )
        elif dataset is None:
            skipped.append(f"held-out splits {names}: the unit's seeds name no dataset")
        else:
            splits = list(config.splits)
    sources: list[PlanEvalSource] = []
    if config.sources:
        if use_fixtures:
            names = ", ".join(source.label for source in config.sources)
            skipped.append(f"benchmark sources {names} not loaded in an offline run (--fixtures)")
        else:
            sources = list(config.sources)
    info: dict[str, Any] = {
        "enabled": True,
        "ngram": config.ngram,
        "threshold": config.threshold,
        "fields": list(config.fields),
        "items": {},
    }
    if config.sources:
        info["sources"] = [source.label for source in config.sources]
    if skipped:
        info["skipped"] = skipped
    if not config.files and not splits and not sources:
        return Built(None, info)  # nothing to check against
    index = HeldOut(ngram=config.ngram, fields=list(config.fields), minhash=config.minhash)
    unmapped: dict[str, int] = {}
    for pattern in config.files:
        rows = read_files([pattern], root, None, owner=unit.id, role="held-out")
        unmapped[pattern] = _add_rows(index, unit, pattern, rows)
    for split in splits:
        unmapped[split] = _add_rows(index, unit, split, held_out_rows(unit, split))
    for source in sources:
        unmapped[source.label] = _add_source_rows(index, unit, source)
    index.freeze()
    info["items"] = dict(index.counts)
    if index.common_ngrams:
        info["common_ngrams_ignored"] = index.common_ngrams
    if any(unmapped.values()):
        info["rows_without_text"] = {k: v for k, v in unmapped.items() if v}
    return Built(index if len(index) else None, info)


def _stamp(unit: Unit, use_fixtures: bool, root: Path) -> bytes:
    """What a unit's index depends on: its sources (and their files' sizes and times),
    mapping, fields and settings; units with the same stamp share one index."""
    files = []
    for pattern in unit.decontaminate.files:
        for path in matching_files(pattern, root):
            stat = os.stat(path)
            files.append((path, stat.st_size, stat.st_mtime_ns))
    seeds = unit.seeds
    online = not use_fixtures and (unit.decontaminate.splits or unit.decontaminate.sources)
    parts = {
        "decontaminate": unit.decontaminate,
        "mapping": unit.mapping,
        "format": unit.format,
        "minhash": unit.decontaminate.minhash,
        "files": files,
        "root": str(root.resolve()),
        "dataset": (
            [seeds.dataset, seeds.config, seeds.revision, seeds.data_files, seeds.data_dir]
            if online
            else None
        ),
    }
    return msgspec.json.encode(parts, order="deterministic")


class _Cache:
    """Built indexes by stamp (a few, least recently used first out), thread-safe; a
    unit waits for another unit that is building the same index."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._built: OrderedDict[bytes, Built] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[bytes, threading.Lock] = {}

    def get(self, unit: Unit, *, use_fixtures: bool, root: Path) -> Built:
        if not unit.decontaminate.enabled:
            return Built(None, {"enabled": False})
        stamp = _stamp(unit, use_fixtures, root)
        with self._lock:
            building = self._building.setdefault(stamp, threading.Lock())
        with building:
            with self._lock:
                if stamp in self._built:
                    self._built.move_to_end(stamp)
                    return self._built[stamp]
            built = build(unit, use_fixtures=use_fixtures, root=root)
            with self._lock:
                self._built[stamp] = built
                while len(self._built) > self.size:
                    self._built.popitem(last=False)
                self._building.pop(stamp, None)
            return built


CACHE = _Cache(CACHE_SIZE)


def held_out_index(unit: Unit, *, use_fixtures: bool, root: Path) -> Built:
    """The unit's index, built once per source and settings (cached across units)."""
    return CACHE.get(unit, use_fixtures=use_fixtures, root=root)

"""The dedup stage over staged slices: the same drops as the algorithm it replaces (the
whole scope in one `NearDuplicates` index), as datasketch, and with its band keys
spilled to files as in memory."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import msgspec
import pytest

from bench.near_dups import banded_targets, documents, planted_pairs
from taskseed.contract.plan import Unit
from taskseed.contract.records import OutputRecord
from taskseed.runtime.dedup import NearDuplicates, item_text
from taskseed.runtime.stages import dedup as dedup_stage
from taskseed.runtime.stages.dedup import Match, deduplicate, scope_key
from taskseed.runtime.staging import SliceMeta, Staging
from tests.runtime.catalog import compile_catalog
from tests.runtime.test_dedup import DatasketchIndex

KINDS = ("similar_question", "answer_enriched", "context_enriched")
Staged = tuple[Unit, list[OutputRecord], dict[str, str]]  # a unit, its records, its seeds


def whole_scope_dedup(staged: list[Staged]) -> dict[str, Match]:
    """Dedup as finalize did it before slices: per scope, every seed and record sketched
    at once into one index per data kind, seeds first, records in ID order."""
    groups: dict[tuple[str, bytes], list[Staged]] = defaultdict(list)
    for unit, records, seeds in sorted(staged, key=lambda s: s[0].id):
        if unit.dedup.enabled:
            config = msgspec.json.encode(unit.dedup, order="deterministic")
            groups[(scope_key(unit), config)].append((unit, records, seeds))
    dropped: dict[str, Match] = {}
    for _group, members in sorted(groups.items()):
        settings = members[0][0].dedup
        records = sorted((r for _, rs, _ in members for r in rs), key=lambda r: r.id)
        sketcher = NearDuplicates(settings)
        seed_keys: list[str] = []
        seed_texts: list[str] = []
        if settings.against_seeds:
            for unit, _, seeds in members:
                for seed_id, text in sorted(seeds.items()):
                    seed_keys.append(f"seed:{unit.id}:{seed_id}")
                    seed_texts.append(text)
        seed_sigs = sketcher.sketch_many(seed_texts)
        record_sigs = sketcher.sketch_many(
            [item_text(msgspec.structs.asdict(r), settings.fields) for r in records]
        )
        for kind in sorted({r.kind for r in records}):
            index = NearDuplicates(settings)
            index.add_signatures(seed_keys, seed_sigs)
            rows = [i for i, r in enumerate(records) if r.kind == kind]
            matches = index.deduplicate_signatures([records[i].id for i in rows], record_sigs[rows])
            for i, match in zip(rows, matches, strict=True):
                if match is not None:
                    dropped[records[i].id] = match
    return dropped


def record(unit: Unit, record_id: str, kind: str, question: str, context: str | None = None):
    return OutputRecord(
        id=record_id,
        task=unit.task,
        subtask=unit.subtask,
        domain=unit.domain,
        kind=kind,  # type: ignore[arg-type]
        family=unit.family,
        seed_id="q1",
        unit_fingerprint=unit.fingerprint,
        model="test",
        license="CC0-1.0",
        question=question,
        context=context,
        answer="x",
    )


def stage(out: Path, staged: list[Staged], slices: int) -> tuple[dict[str, list[Path]], dict]:
    """Commit each unit's records and seeds, dealt over `slices` slices."""
    staging = Staging(out)
    folders: dict[str, list[Path]] = {}
    counts: dict[str, int] = {}
    for unit, records, seeds in staged:
        seed_items = sorted(seeds.items())
        folders[unit.id] = []
        for index in range(slices):
            mine = sorted(records[index::slices], key=lambda r: r.id)
            meta = SliceMeta(
                run_key="k",
                index=index,
                rows=0,
                taken=0,
                last=index == slices - 1,
                counts={},
                kinds={},
                families={},
                rejects=0,
            )
            staging.commit(unit.id, meta, mine, [], seed_items[index::slices])
            folders[unit.id].append(staging.slice_folder(unit.id, index))
        counts[unit.id] = len(records) + len(seeds)
    return folders, counts


def corpus(unit: Unit, other: Unit, seed: int) -> list[Staged]:
    """Two units of one task: copies of seeds, copies across units and kinds, pairs
    near the threshold, ties, and unrelated items."""
    rng = random.Random(seed)
    seed_texts = documents(30, 30, seed=seed + 1)
    near = planted_pairs(banded_targets([(0.7, 1.0, 60)], seed=seed + 2), 30, seed=seed + 3)
    fresh = iter(documents(400, 30, seed=seed + 4))
    staged: list[Staged] = []
    for number, owner in enumerate((unit, other)):
        records = []
        for i in range(150):
            roll = rng.random()
            if roll < 0.15:
                question = seed_texts[rng.randrange(30)].upper()  # a copy of a seed
            elif roll < 0.45:
                question = near.texts[rng.randrange(len(near.texts))]  # near-copies
            else:
                question = next(fresh)
            context = next(fresh) if rng.random() < 0.1 else None
            kind = KINDS[rng.randrange(3)]
            records.append(
                record(
                    owner, f"r{rng.randrange(10**6):06d}{number}{i:03d}", kind, question, context
                )
            )
        seeds = {f"s{i}": t for i, t in enumerate(seed_texts) if i % 2 == number}
        staged.append((owner, records, seeds))
    return staged


def two_units(tmp_path: Path, **dedup: object) -> tuple[Unit, Unit]:
    unit = compile_catalog(tmp_path).units[0]
    unit = msgspec.structs.replace(unit, dedup=msgspec.structs.replace(unit.dedup, **dedup))
    other = msgspec.structs.replace(unit, id=f"{unit.task}/other", subtask="other")
    return unit, other


@pytest.mark.parametrize("slices", [1, 4])
@pytest.mark.parametrize("scope", ["task", "subtask"])
def test_same_drops_as_the_whole_scope_index(tmp_path: Path, slices: int, scope: str) -> None:
    unit, other = two_units(tmp_path, scope=scope, ngram=3)
    staged = corpus(unit, other, seed=5)
    folders, counts = stage(tmp_path / "out", staged, slices)
    dropped = deduplicate(
        [unit, other], folders, counts, memory_bytes=1 << 30, scratch=tmp_path / "scratch"
    )
    expected = whole_scope_dedup(staged)
    assert dropped == expected
    assert len(dropped) > 25  # copies of seeds, copies across units, near pairs
    seeds_hit = [m for m in dropped.values() if m[0].startswith("seed:")]
    assert seeds_hit and len(seeds_hit) < len(dropped)


def test_spilled_band_keys_give_the_same_drops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit, other = two_units(tmp_path, ngram=3)
    staged = corpus(unit, other, seed=9)
    folders, counts = stage(tmp_path / "out", staged, 3)
    in_memory = deduplicate(
        [unit, other], folders, counts, memory_bytes=1 << 30, scratch=tmp_path / "a"
    )
    spilled_to: list[Path] = []
    append = dedup_stage._Stream.append

    def spy(self: dedup_stage._Stream, *args: object) -> None:
        if self.folder is not None:
            spilled_to.append(self.folder)
            assert self.folder.is_relative_to(tmp_path / "b")
        append(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(dedup_stage._Stream, "append", spy)
    # 600 documents of 9 band keys (8 bytes each) do not fit in 1 KB: the keys go to files
    spilled = deduplicate([unit, other], folders, counts, memory_bytes=1024, scratch=tmp_path / "b")
    assert spilled_to, "the band keys were not spilled"
    assert spilled == in_memory == whole_scope_dedup(staged)
    assert not list((tmp_path / "b").rglob("band-*"))  # scratch files are removed


def test_same_drops_as_datasketch(tmp_path: Path) -> None:
    """The stage against datasketch's MinHashLSH, one item at a time, as before."""
    unit, _ = two_units(tmp_path, ngram=3)
    seeds = documents(20, 30, seed=71)
    others = documents(40, 30, seed=72)
    unrelated = documents(120, 30, seed=74)
    rng = random.Random(73)
    records = []
    for i in range(120):
        roll = rng.random()
        if roll < 0.25:
            question = seeds[rng.randrange(20)].lower()
        elif roll < 0.5:
            question = others[rng.randrange(40)]
        else:
            question = unrelated[i]
        kind = "similar_question" if i % 3 else "answer_enriched"
        records.append(record(unit, f"r{rng.randrange(10**6):06d}{i:03d}", kind, question))
    seed_texts = {f"s{i}": t for i, t in enumerate(seeds)}
    folders, counts = stage(tmp_path / "out", [(unit, records, seed_texts)], 2)
    dropped = deduplicate([unit], folders, counts, memory_bytes=0, scratch=tmp_path / "s")
    expected: dict[str, str] = {}
    for kind in sorted({r.kind for r in records}):
        index = DatasketchIndex(unit.dedup)
        for seed_id, text in sorted(seed_texts.items()):
            index.add(f"seed:{unit.id}:{seed_id}", text)
        for r in sorted((r for r in records if r.kind == kind), key=lambda r: r.id):
            text = item_text(msgspec.structs.asdict(r), unit.dedup.fields)
            match = index.first_match(text)
            if match is None:
                index.add(r.id, text)
            else:
                expected[r.id] = match[0]
    assert {k: m[0] for k, m in dropped.items()} == expected
    assert len(dropped) > 30


@pytest.mark.parametrize("against_seeds", [True, False])
def test_against_seeds(tmp_path: Path, against_seeds: bool) -> None:
    unit, _ = two_units(tmp_path, against_seeds=against_seeds)
    seed = "What is the boiling point of water at sea level in degrees Celsius?"
    staged = [(unit, [record(unit, "r1", "similar_question", seed)], {"q1": seed})]
    folders, counts = stage(tmp_path / "out", staged, 1)
    dropped = deduplicate([unit], folders, counts, memory_bytes=1 << 20, scratch=tmp_path / "s")
    assert dropped == ({"r1": (f"seed:{unit.id}:q1", 1.0)} if against_seeds else {})


def test_disabled_dedup_drops_nothing(tmp_path: Path) -> None:
    unit, _ = two_units(tmp_path, enabled=False)
    text = "the same question, twice over, in the same words"
    records = [
        record(unit, "r1", "similar_question", text),
        record(unit, "r2", "similar_question", text),
    ]
    folders, counts = stage(tmp_path / "out", [(unit, records, {})], 1)
    assert deduplicate([unit], folders, counts, memory_bytes=0, scratch=tmp_path / "s") == {}

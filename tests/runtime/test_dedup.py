"""Near-duplicate removal: the index's batch and one-at-a-time answers agree with each
other and with datasketch. The dedup stage over staged slices is tested in
tests/runtime/stages/test_dedup.py."""

from __future__ import annotations

import random
from typing import Any

from datasketch import MinHash, MinHashLSH

from bench.near_dups import banded_targets, documents, planted_pairs
from taskseed.contract.plan import PlanDedup
from taskseed.runtime.dedup import NearDuplicates, shingles

CONFIG = PlanDedup(
    enabled=True,
    threshold=0.8,
    shingle="word",
    ngram=3,
    num_perm=128,
    bands=9,
    rows=13,
    scope="task",
    against_seeds=True,
    fields=["question", "context"],
)


class DatasketchIndex:
    """The index as it was before: datasketch's MinHash and MinHashLSH, one at a time."""

    def __init__(self, config: PlanDedup) -> None:
        self.config = config
        self.lsh = MinHashLSH(
            threshold=config.threshold, num_perm=config.num_perm, params=(config.bands, config.rows)
        )
        self.sketches: dict[str, MinHash] = {}

    def sketch(self, text: str) -> MinHash:
        m = MinHash(num_perm=self.config.num_perm, seed=1)
        m.update_batch(list(shingles(text, self.config.ngram, self.config.shingle)))
        return m

    def add(self, key: str, text: str) -> None:
        if key not in self.sketches:
            self.sketches[key] = self.sketch(text)
            self.lsh.insert(key, self.sketches[key])

    def first_match(self, text: str) -> tuple[str, float] | None:
        sketch = self.sketch(text)
        best = None
        for key in self.lsh.query(sketch):
            similarity = sketch.jaccard(self.sketches[key])
            if similarity >= self.config.threshold and (
                best is None or (similarity, key) > (best[1], best[0])
            ):
                best = (key, similarity)
        return best


def one_at_a_time(index: Any, keys: list[str], texts: list[str]) -> list[tuple[str, float] | None]:
    matches = []
    for key, text in zip(keys, texts, strict=True):
        match = index.first_match(text)
        if match is None:
            index.add(key, text)
        matches.append(match)
    return matches


def near_threshold_corpus() -> tuple[list[str], list[str]]:
    """Seeds and items: pairs around the threshold, exact copies, unrelated texts."""
    pairs = planted_pairs(banded_targets([(0.7, 1.0, 150)], seed=41), 40, seed=42)
    seeds = pairs.texts[0:100:2]
    items = pairs.texts[1:100:2] + pairs.texts[100:] + seeds[:10] + documents(30, 40, seed=43)
    random.Random(44).shuffle(items)
    return seeds, items


def test_batch_and_one_at_a_time_agree() -> None:
    seeds, items = near_threshold_corpus()
    seed_keys = [f"seed:u:{i}" for i in range(len(seeds))]
    item_keys = [f"item{i:04d}" for i in range(len(items))]
    slow = NearDuplicates(CONFIG)
    for key, text in zip(seed_keys, seeds, strict=True):
        slow.add(key, text)
    expected = one_at_a_time(slow, item_keys, items)
    fast = NearDuplicates(CONFIG)
    fast.add_many(seed_keys, seeds)
    assert fast.deduplicate(item_keys, items) == expected
    assert len(fast) == len(slow)
    kinds = {("seed" if m[0].startswith("seed") else "item") for m in expected if m}
    assert kinds == {"seed", "item"} and expected.count(None) > 30
    # queries alone add nothing
    probe = NearDuplicates(CONFIG)
    probe.add_many(seed_keys, seeds)
    assert probe.first_matches(items) == [probe.first_match(t) for t in items]
    assert len(probe) == len(seeds)


def test_ties_name_the_greatest_key_as_before() -> None:
    text = "Which instrument measures the mass of a small object in a laboratory?"
    for index in (NearDuplicates(CONFIG), DatasketchIndex(CONFIG)):
        for key in ("seed:u:b", "seed:u:c", "seed:u:a"):
            index.add(key, text)
        assert index.first_match(text + "!") == ("seed:u:c", 1.0)
    batch = NearDuplicates(CONFIG)
    batch.add_many(["seed:u:b", "seed:u:c", "seed:u:a"], [text] * 3)
    assert batch.deduplicate(["x", "y"], [text, text.upper()]) == [("seed:u:c", 1.0)] * 2


def test_repeated_keys_behave_as_add_does() -> None:
    texts = ["alpha beta gamma delta", "totally different words here", "alpha beta gamma delta"]
    keys = ["k1", "k1", "k2"]
    slow = NearDuplicates(CONFIG)
    expected = one_at_a_time(slow, keys, texts)
    fast = NearDuplicates(CONFIG)
    assert fast.deduplicate(keys, texts) == expected == [None, None, ("k1", 1.0)]
    assert len(fast) == 1 and "k1" in fast
    fast.add_many(["k1", "k3", "k3"], texts)
    assert len(fast) == 2


def test_same_matches_as_datasketch_away_from_the_threshold() -> None:
    """Copies (with case and punctuation changed), edits at J >= 0.97, unrelated
    texts: both implementations name the same key for every item."""
    base = documents(120, 60, seed=51)
    fresh = iter(documents(80, 60, seed=53))
    rng = random.Random(52)
    items = []
    for text in base[:40] + base[80:]:
        choice = rng.random()
        if choice < 0.4:
            items.append(text.upper().replace(",", ";"))
        elif choice < 0.7:
            words = text.split()
            words[-1] = "changed."
            items.append(" ".join(words))  # one word of 60 changed: J ~ 0.97
        else:
            items.append(next(fresh))
    seeds, items = base[80:], base[:40] + items
    seed_keys = [f"seed:u:{i}" for i in range(len(seeds))]
    item_keys = [f"item{i:03d}" for i in range(len(items))]
    ours = NearDuplicates(CONFIG)
    ours.add_many(seed_keys, seeds)
    theirs = DatasketchIndex(CONFIG)
    for key, text in zip(seed_keys, seeds, strict=True):
        theirs.add(key, text)
    mine = ours.deduplicate(item_keys, items)
    reference = one_at_a_time(theirs, item_keys, items)
    assert [m and m[0] for m in mine] == [m and m[0] for m in reference]
    assert sum(m is not None for m in mine) > 40


def test_memory_grows_with_signatures_not_text() -> None:
    short = documents(300, 20, seed=61)
    long = documents(300, 2000, seed=62)
    sizes = []
    for texts in (short, long):
        index = NearDuplicates(CONFIG)
        index.add_many([f"k{i}" for i in range(len(texts))], texts)
        sizes.append(index.nbytes())
    assert sizes[0] == sizes[1]
    assert sizes[0] < 300 * 128 * 4 * 3  # about a signature per text, with its buckets

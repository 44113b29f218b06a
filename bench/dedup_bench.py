"""`make bench-filters`, first half: our MinHash and LSH beside datasketch's, in one run.

Settings are the catalog defaults (`taskspecs/_defaults.yaml`, dedup section; bands and
rows chosen by `compiler/lsh_bands.py` as the compiler does). Every figure is measured in this
run, on documents from `near_dups.py`:

1. sketching: documents of 200 words; ours is `MinHasher.sketch_many` (normalisation and
   shingling included), datasketch's is `MinHash.bulk` over `dedup.shingles` (the Python
   shingling our old path used; included). Target: 30 times datasketch.
2. LSH candidates on the planted-pair corpus: ours is `lsh.candidate_pairs` (sort the
   band keys, pair up equal runs); datasketch's is `MinHashLSH` insert of every sketch,
   then a query of every sketch. Target: 20 times datasketch.
3. end-to-end dedup (sketch, index, keep the first of each group, in order): ours is
   `NearDuplicates.deduplicate`; datasketch's is the one-at-a-time loop `finalize` ran
   before (`first_match`, then `add`). No target; reported.
4. recall per band of true Jaccard similarity, at the same bands and rows, each library
   with its own sketches: the share of planted pairs that become LSH candidates, beside
   the S-curve 1 - (1 - s^r)^b averaged over the band's pairs. Target: within 1.5
   points of datasketch in every band (the standard error of each difference is shown).
5. memory: bytes held per indexed document for short and long texts (tracemalloc; the
   texts themselves are made before tracing starts), and the peak while sketching.
   Target: what is held does not grow with the text (within 5%), and the peak stays
   under a quarter of the text's size.

Times are CPU seconds of this process (`time.process_time`), one core: our code runs on
one thread, so documents per CPU-second are documents per second per core. On a shared
machine each timing is the best of a few repetitions. numba compiles on the first call
(or loads its on-disk cache); that time is measured apart and excluded. Exit status 1
when any target is missed.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import datasketch
import msgspec
import numba
import numpy as np
from datasketch import MinHash, MinHashLSH
from near_dups import Corpus, banded_targets, documents, planted_pairs  # bench/ is sys.path[0]
from ruamel.yaml import YAML

from taskseed.compiler.lsh_bands import candidate_probability
from taskseed.compiler.plan import plan_dedup
from taskseed.compiler.spec import DedupSpec
from taskseed.contract.plan import PlanDedup
from taskseed.runtime import minhash
from taskseed.runtime.dedup import NearDuplicates, shingles
from taskseed.runtime.lsh import LSHIndex, candidate_pairs, min_count
from taskseed.runtime.minhash import MinHasher

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")

SKETCH_DOCS, SKETCH_DS_DOCS, SKETCH_WORDS = 30_000, 2_000, 200
PAIR_WORDS = 100
# (low, high, planted pairs): the share of pairs that become candidates varies most
# (p(1 - p)) where the defaults' S-curve is steep, 0.6-0.8 at 14 bands of 9 rows, so those
# bands get the most pairs: the standard error of the difference stays near half a
# point in every band, a third of the 1.5-point target.
BANDS = [
    (0.3, 0.4, 1_000),
    (0.4, 0.5, 1_500),
    (0.5, 0.6, 4_000),
    (0.6, 0.7, 15_000),
    (0.7, 0.8, 19_000),
    (0.8, 0.9, 6_000),
    (0.9, 1.0, 1_500),
]
E2E_DS_DOCS = 3_000
MEMORY_DOCS, MEMORY_DS_DOCS = 5_000, 1_000
TARGET_SKETCH, TARGET_LSH, TARGET_RECALL_POINTS = 30.0, 20.0, 1.5


def defaults() -> PlanDedup:
    """The dedup defaults every task inherits, resolved as `compiler/plan.py` does."""
    data = YAML(typ="safe").load((REPO / "taskspecs/_defaults.yaml").read_text())
    return plan_dedup(msgspec.convert(data.get("dedup", {}), DedupSpec))


def cpu(fn: Callable[[], T], repeat: int = 3) -> tuple[float, T]:
    """Best CPU time of `repeat` runs, and the last result."""
    best, result = math.inf, None
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result  # type: ignore[return-value]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def ds_sketches(texts: list[str], c: PlanDedup) -> list[MinHash]:
    return MinHash.bulk(
        [list(shingles(t, c.ngram, c.shingle)) for t in texts], num_perm=c.num_perm, seed=1
    )


def ds_lsh(sketches: list[MinHash], c: PlanDedup) -> tuple[MinHashLSH, list[list[Any]]]:
    lsh = MinHashLSH(threshold=c.threshold, num_perm=c.num_perm, params=(c.bands, c.rows))
    for i, m in enumerate(sketches):
        lsh.insert(i, m)
    return lsh, [lsh.query(m) for m in sketches]


def ds_deduplicate(keys: list[str], texts: list[str], c: PlanDedup) -> list[bool]:
    """The loop finalize ran before, on datasketch: True where the text is kept."""
    lsh = MinHashLSH(threshold=c.threshold, num_perm=c.num_perm, params=(c.bands, c.rows))
    kept_sketches: dict[str, MinHash] = {}
    kept = []
    for key, text in zip(keys, texts, strict=True):
        m = MinHash(num_perm=c.num_perm, seed=1)
        m.update_batch(list(shingles(text, c.ngram, c.shingle)))
        best = None
        for other in lsh.query(m):
            s = m.jaccard(kept_sketches[other])
            if s >= c.threshold and (best is None or (s, other) > best):
                best = (s, other)
        if best is None:
            lsh.insert(key, m)
            kept_sketches[key] = m
        kept.append(best is None)
    return kept


def traced(fn: Callable[[], T]) -> tuple[int, int, T]:
    """Bytes still allocated after fn (what its result holds) and the peak during it."""
    gc.collect()
    tracemalloc.start()
    result = fn()
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current, peak, result


def warm_up(c: PlanDedup, hasher: MinHasher) -> None:
    start = time.perf_counter()
    tiny = ["warm up the compiled code", "warm up the compiled code!", ""]
    candidate_pairs(hasher.sketch_many(tiny), c.bands, c.rows)
    NearDuplicates(c).deduplicate(["a", "b", "c"], tiny)
    LSHIndex(c.num_perm, c.bands, c.rows).query(hasher.sketch_many(tiny), 1, insert=True)
    jit = time.perf_counter() - start
    print(f"\nnumba first call (compile, or load of the on-disk cache): {jit:.2f} s wall, excluded")


def sketching(c: PlanDedup, hasher: MinHasher) -> float:
    docs = documents(SKETCH_DOCS, SKETCH_WORDS, seed=1)
    ours_s, _ = cpu(lambda: hasher.sketch_many(docs))
    sub = docs[:SKETCH_DS_DOCS]
    ds_s, _ = cpu(lambda: ds_sketches(sub, c), repeat=2)
    sh_s, _ = cpu(lambda: [shingles(t, c.ngram, c.shingle) for t in sub], repeat=2)
    ours_rate, ds_rate = len(docs) / ours_s, len(sub) / ds_s
    print(f"\n1. sketching, {SKETCH_WORDS}-word documents, {c.num_perm} permutations")
    print(f"   ours  MinHasher.sketch_many, shingling included  {ours_rate:>9,.0f} docs/s/core"
          f"  ({len(docs):,} docs)")  # fmt: skip
    print(f"   datasketch MinHash.bulk + dedup.shingles         {ds_rate:>9,.0f} docs/s/core"
          f"  ({len(sub):,} docs)")  # fmt: skip
    print(
        f"   (Python shingling alone, dedup.shingles          {len(sub) / sh_s:>9,.0f} docs/s/core)"
    )
    ratio = ours_rate / ds_rate
    print(
        f"   ratio {ratio:.1f}x, target >= {TARGET_SKETCH:.0f}x: {verdict(ratio >= TARGET_SKETCH)}"
    )
    return ratio


def lsh_and_recall(c: PlanDedup, hasher: MinHasher, failures: list[str]) -> float:
    start = time.perf_counter()
    corpus: Corpus = planted_pairs(banded_targets(BANDS), PAIR_WORDS, ngram=c.ngram, kind=c.shingle)
    n = len(corpus.texts)
    print(f"\nplanted-pair corpus: {len(corpus.pairs):,} pairs, {n:,} documents of "
          f"{PAIR_WORDS} words (made in {time.perf_counter() - start:.0f} s)")  # fmt: skip
    sigs = hasher.sketch_many(corpus.texts)
    theirs = ds_sketches(corpus.texts, c)

    # 2. LSH
    ours_l, pairs = cpu(lambda: candidate_pairs(sigs, c.bands, c.rows))
    need = min_count(c.threshold, c.num_perm)

    def index_insert_query() -> Any:
        index = LSHIndex(c.num_perm, c.bands, c.rows)
        index.insert(sigs)
        return index.query(sigs, need)

    idx_l, _ = cpu(index_insert_query)
    ds_l, (_, ds_results) = cpu(lambda: ds_lsh(theirs, c), repeat=1)
    ratio = ds_l / ours_l
    print(f"\n2. LSH candidates, {n:,} signatures, {c.bands} bands x {c.rows} rows")
    print(f"   ours  candidate_pairs (band-key sort)            {n / ours_l:>9,.0f} docs/s/core"
          f"  ({len(pairs):,} candidate pairs)")  # fmt: skip
    print(f"   ours  LSHIndex insert + query (hash table)       {n / idx_l:>9,.0f} docs/s/core")
    print(f"   datasketch MinHashLSH insert + query             {n / ds_l:>9,.0f} docs/s/core")
    print(f"   ratio (band sort) {ratio:.1f}x, target >= {TARGET_LSH:.0f}x: "
          f"{verdict(ratio >= TARGET_LSH)}   (hash-table index: {ds_l / idx_l:.1f}x)")  # fmt: skip

    # 3. end to end
    keys = [f"doc{i:07d}" for i in range(n)]
    ours_e, kept = cpu(lambda: NearDuplicates(c).deduplicate(keys, corpus.texts), repeat=2)
    m = E2E_DS_DOCS
    ds_e, ds_kept = cpu(lambda: ds_deduplicate(keys[:m], corpus.texts[:m], c), repeat=1)
    ours_sub = [x is None for x in NearDuplicates(c).deduplicate(keys[:m], corpus.texts[:m])]
    agree = np.mean(np.array(ours_sub) == np.array(ds_kept))
    print("\n3. end-to-end dedup (sketch, index, keep the first of each near-duplicate group)")
    print(f"   ours  NearDuplicates.deduplicate                 {n / ours_e:>9,.0f} docs/s/core"
          f"  ({n:,} docs, {sum(x is None for x in kept):,} kept)")  # fmt: skip
    print(f"   datasketch, the former one-at-a-time loop        {m / ds_e:>9,.0f} docs/s/core"
          f"  ({m:,} docs, {sum(ds_kept):,} kept)")  # fmt: skip
    print(f"   ratio {ds_e / m * n / ours_e:.1f}x; the same keep/drop decision on the first "
          f"{m:,} docs: {agree:.1%} (pairs near the threshold may go either way)")  # fmt: skip

    # 4. recall
    found = {(int(a), int(b)) for a, b in pairs}
    est = np.count_nonzero(sigs[0::2] == sigs[1::2], axis=1) / c.num_perm
    print(f"\n4. recall per band of true Jaccard similarity, {c.bands} bands x {c.rows} rows: "
          "the share of planted pairs that become candidates")  # fmt: skip
    print("   band        pairs  S-curve    ours  datasketch  diff (s.e.)  target  "
          f"| dedup recall (est. >= {c.threshold}) ours / datasketch")  # fmt: skip
    for low, high, _ in BANDS:
        members = [p for p in corpus.pairs if low <= p.jaccard < high]
        if not members:
            continue
        curve = np.mean([candidate_probability(p.jaccard, c.bands, c.rows) for p in members])
        ours_hit = [(p.a, p.b) in found for p in members]
        ds_hit = [p.b in ds_results[p.a] for p in members]
        ours_r, ds_r = float(np.mean(ours_hit)), float(np.mean(ds_hit))
        se = math.sqrt((ours_r * (1 - ours_r) + ds_r * (1 - ds_r)) / len(members))
        diff = 100 * (ours_r - ds_r)
        ok = abs(diff) <= TARGET_RECALL_POINTS
        if not ok:
            failures.append(f"recall {low:.1f}-{high:.1f}")
        ours_d = np.mean(
            [h and est[p.a // 2] >= c.threshold for p, h in zip(members, ours_hit, strict=True)]
        )
        ds_d = np.mean(
            [h and theirs[p.a].jaccard(theirs[p.b]) >= c.threshold
             for p, h in zip(members, ds_hit, strict=True)]
        )  # fmt: skip
        print(f"   {low:.1f}-{high:.1f}  {len(members):>8,}  {curve:7.1%}  {ours_r:6.1%}  "
              f"{ds_r:10.1%}  {diff:+5.2f} ({100 * se:.2f})  {verdict(ok)}    "
              f"| {ours_d:6.1%} / {ds_d:6.1%}")  # fmt: skip
    curve_points = ", ".join(
        f"{s:.2f}: {candidate_probability(s, c.bands, c.rows):.1%}"
        for s in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    )
    print(f"   S-curve of the defaults, 1 - (1 - s^{c.rows})^{c.bands}: {curve_points}")
    return ratio


def memory(c: PlanDedup) -> bool:
    print(f"\n5. memory per indexed document ({MEMORY_DOCS:,} documents; a signature alone is "
          f"{c.num_perm * 4} bytes)")  # fmt: skip
    rows = []
    for words in (20, 2000):
        texts = documents(MEMORY_DOCS, words, seed=5)
        keys = [f"k{i}" for i in range(len(texts))]
        text_bytes = sum(len(t.encode()) for t in texts) / len(texts)

        def build() -> NearDuplicates:
            index = NearDuplicates(c)
            index.add_many(keys, texts)  # noqa: B023
            return index

        held, peak, index = traced(build)
        rows.append((text_bytes, held / len(texts), peak - held))
        arrays = index.nbytes() / len(texts)
        print(f"   ours, {words:>4}-word texts ({text_bytes:>6,.0f} bytes of text each): held "
              f"{held / len(texts):>4,.0f} bytes/doc (index arrays {arrays:,.0f}), "
              f"peak {peak / len(texts):>5,.0f} bytes/doc")  # fmt: skip
    texts = documents(MEMORY_DS_DOCS, 20, seed=5)
    held, _, _ = traced(lambda: ds_lsh(ds_sketches(texts, c), c))
    print(f"   datasketch MinHash + MinHashLSH, 20-word texts: held {held / len(texts):,.0f} "
          f"bytes/doc ({len(texts):,} documents)")  # fmt: skip
    (_, held_short, _), (text_long, held_long, transient) = rows
    share = transient / (text_long * MEMORY_DOCS)
    ok = held_long <= 1.05 * held_short and share < 0.25
    print(f"   held for long / short texts: {held_long / held_short:.3f} (target <= 1.05); "
          f"peak above held for long texts: {transient / 2**20:.1f} MiB, {share:.1%} of their "
          f"text (target < 25%): {verdict(ok)}")  # fmt: skip
    return ok


def main() -> int:
    c = defaults()
    print("dedup benchmark: our compiled MinHash + LSH beside datasketch")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
        f"datasketch {datasketch.__version__}"
    )
    print(
        f"defaults: threshold {c.threshold}, {c.shingle} {c.ngram}-grams, num_perm "
        f"{c.num_perm}, {c.bands} bands x {c.rows} rows (compiler/lsh_bands.py)"
    )
    hasher = MinHasher(c.num_perm, c.shingle, c.ngram)
    warm_up(c, hasher)
    failures: list[str] = []
    sketch_ratio = sketching(c, hasher)
    if sketch_ratio < TARGET_SKETCH:
        failures.append("sketching")
    lsh_ratio = lsh_and_recall(c, hasher, failures)
    if lsh_ratio < TARGET_LSH:
        failures.append("LSH")
    if not memory(c):
        failures.append("memory")

    print("\nsummary")
    print(f"   sketching        {sketch_ratio:6.1f}x datasketch, target >= {TARGET_SKETCH:.0f}x")
    print(f"   LSH candidates   {lsh_ratio:6.1f}x datasketch, target >= {TARGET_LSH:.0f}x")
    print(f"   recall per band  target: within {TARGET_RECALL_POINTS} points of datasketch")
    print("   memory           target: grows with signatures, not with text")
    print(f"   (text is sketched in chunks of {minhash.CHUNK_CHARS:,} characters)")
    if failures:
        print(f"FAIL: {', '.join(failures)}")
        return 1
    print("PASS: every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())

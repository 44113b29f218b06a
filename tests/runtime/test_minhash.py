"""Compiled MinHash and LSH against their definitions and against datasketch.

- The compiled shingling is checked bit for bit against a plain-Python rendering of
  its specification applied to `normalize_text`, on adversarial text (punctuation,
  articles glued to other characters, Unicode spaces and letters, final sigma,
  characters beyond the BMP).
- Estimated Jaccard similarity tracks the exact one within the binomial error of
  `num_perm` rows, as datasketch's does.
- Our candidate pairs are exactly datasketch's MinHashLSH candidates on the same
  signatures, bands and rows; and on a planted-duplicate corpus our recall per
  similarity band matches datasketch's own sketches within the sampling error.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.near_dups import banded_targets, planted_pairs
from taskseed.runtime import minhash
from taskseed.runtime.answers import normalize_text
from taskseed.runtime.dedup import shingles
from taskseed.runtime.lsh import (
    LSHIndex,
    band_keys,
    candidate_pairs,
    min_count,
    pair_similarity,
)
from taskseed.runtime.minhash import MinHasher, jaccard, permutations

M64 = (1 << 64) - 1

# ------------------------------------------------------------ a plain-Python reference


def ref_mix64(x: int) -> int:
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & M64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & M64
    return x ^ (x >> 33)


def ref_word_hash(word: str) -> int:
    data = word.encode("utf-8", "surrogatepass")
    h = ((len(data) * minhash._LENGTH_MUL) & M64) ^ minhash._WORD_SEED
    for i in range(0, len(data), 8):
        h = ref_mix64(h ^ int.from_bytes(data[i : i + 8], "little"))
    return h


def ref_keys(text: str, ngram: int, kind: str) -> set[int]:
    """The specification of the shingle keys, on `normalize_text`'s output."""
    normal = normalize_text(text)
    if kind == "char":
        values = [ref_mix64((ord(c) + minhash._CHAR_SEED) & M64) for c in normal]
    else:
        values = [ref_word_hash(w) for w in normal.split()]
    if not values:
        return {ref_mix64(minhash._EMPTY_SEED) >> 32}
    width = min(ngram, len(values))
    salt = ref_mix64(minhash._WIDTH_SEED ^ width)
    keys = set()
    for start in range(len(values) - width + 1):
        poly = 0
        for v in values[start : start + width]:
            poly = (poly * minhash._POLY + v) & M64
        keys.add(ref_mix64((poly + salt) & M64) >> 32)
    return keys


def ref_signature(keys: set[int], num_perm: int) -> np.ndarray:
    a, b = permutations(num_perm)
    x = np.array(sorted(keys), dtype=np.uint32)[:, None]
    return (a[None, :] * x + b[None, :]).min(axis=0)  # uint32 arithmetic wraps: mod 2^32


# Text built to hit every rule of the normalisation and its edge cases.
PIECES = [
    "a", "an", "the", "A", "An", "THE", "theft", "ant", "la", "x", "7", "_", "-", ".", ",",
    "'", "(", ")", "a.", ".the", "the'", "don't", " ", "  ", "\t", "\n", "\x0b", "\x1c",
    "\x85", "\xa0", "\u2003", "\u3000", "\u200b", "\x01", "\x00", "é", "É", "ß", "Σ", "ΟΔΟΣ",
    "İ", "K", "ﬁ", "\u0307", "’", "“", "—", "日本", "한국어", "😀", "𝐚", "𝟘", "\ud800",
]  # fmt: skip
TEXT = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
# ASCII only (the fast path), with a control character now and then (the general one)
ASCII = st.lists(
    st.sampled_from([p for p in PIECES if p.isascii() and p not in "\x00\x01"] + ["Tea"]),
    max_size=60,
).map("".join) | st.text(st.characters(max_codepoint=127), max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXT | ASCII, min_size=1, max_size=6), ngram=st.integers(1, 4))
def test_compiled_shingles_are_the_specification(texts: list[str], ngram: int) -> None:
    for kind in ("word", "char"):
        sigs = MinHasher(16, kind, ngram).sketch_many(texts)  # type: ignore[arg-type]
        for text, sig in zip(texts, sigs, strict=True):
            expected = ref_signature(ref_keys(text, ngram, kind), 16)
            assert np.array_equal(sig, expected), (text, kind)


@pytest.mark.parametrize("tail", ["", " é", " \x01"])  # the ASCII path, the general one
def test_words_of_every_length_hash_by_their_bytes(tail: str) -> None:
    words = [
        "".join(chr(97 + (i * 7 + k) % 26) for k in range(n)) for i, n in enumerate(range(1, 41))
    ]
    for ngram in (1, 2):
        text = " ".join(words) + ", THE END." + tail
        sig = MinHasher(32, "word", ngram).sketch(text)
        assert np.array_equal(sig, ref_signature(ref_keys(text, ngram, "word"), 32))


def test_reference_keys_count_the_reference_shingles() -> None:
    text = "The cat sat on the mat; the cat sat on a mat, and an owl looked on."
    for kind, n in (("word", 3), ("word", 1), ("char", 5)):
        assert len(ref_keys(text, n, kind)) == len(shingles(text, n, kind))


@pytest.mark.parametrize(
    "text",
    [
        "😀the cat sat on the mat",  # an article touching a character beyond the BMP
        "a𝐚 b 𝐚an c the😀 d",
        "\U0001d41athe end",
    ],
)
def test_beyond_the_bmp_falls_back_to_normalize_text(text: str) -> None:
    sig = MinHasher(32, "word", 2).sketch(text)
    assert np.array_equal(sig, ref_signature(ref_keys(text, 2, "word"), 32))


def test_batches_chunks_and_order_do_not_change_signatures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = [f"Document {i}: the quick brown fox {i % 7} jumps ΟΔΟΣ" for i in range(50)]
    texts += ["", "nul\x00inside the text", "Σ", "ΣΣ ΑΣ"]
    hasher = MinHasher(64, "word", 3)
    alone = np.array([hasher.sketch(t) for t in texts])
    assert np.array_equal(hasher.sketch_many(texts), alone)
    assert np.array_equal(hasher.sketch_many(texts[::-1]), alone[::-1])
    monkeypatch.setattr(minhash, "CHUNK_CHARS", 16)
    assert np.array_equal(hasher.sketch_many(texts), alone)


def test_signatures_are_deterministic_across_processes() -> None:
    code = (
        "from taskseed.runtime.minhash import MinHasher;"
        "print(MinHasher(8, 'word', 2).sketch('Deterministic, the same everywhere.').tolist())"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    here = MinHasher(8, "word", 2).sketch("Deterministic, the same everywhere.").tolist()
    assert runs[0].stdout == runs[1].stdout == f"{here}\n"


def test_edge_cases() -> None:
    hasher = MinHasher(128, "word", 3)
    empty, blank, punct, short, short2, reordered = hasher.sketch_many(
        ["", "   \n\t", "?!,.", "one two", "One, two!", "two one"]
    )
    assert np.array_equal(empty, blank) and np.array_equal(empty, punct)  # all normalise to ""
    assert np.array_equal(short, short2)  # fewer words than n: one shingle, same text
    assert jaccard(short, reordered) < 0.1 and jaccard(empty, short) < 0.1
    cafe = hasher.sketch_many(["CAFÉ au lait", "café au lait", "cafe au lait"])
    assert jaccard(cafe[0], cafe[1]) == 1.0 and jaccard(cafe[1], cafe[2]) < 0.1
    chars = MinHasher(128, "char", 4).sketch_many(["abc", "ABC!", "abcd", "xabcdx"])
    assert jaccard(chars[0], chars[1]) == 1.0 and jaccard(chars[0], chars[2]) < 0.1
    assert 0.1 < jaccard(chars[2], chars[3]) < 0.6  # {abcd} vs {xabc, abcd, bcdx}: 1/3


# ------------------------------------------------------------ estimates


def test_estimated_jaccard_tracks_the_exact_one() -> None:
    """Over 600 pairs at similarities from 0.05 to 1: no bias beyond 0.01, errors within
    the binomial spread sqrt(J (1 - J) / num_perm), and no worse than datasketch's."""
    num_perm = 128
    corpus = planted_pairs(banded_targets([(0.05, 1.0, 600)], seed=11), 80, seed=12)
    ours = MinHasher(num_perm, "word", 3).sketch_many(corpus.texts)
    theirs = MinHash.bulk(
        [list(shingles(t, 3, "word")) for t in corpus.texts], num_perm=num_perm, seed=1
    )
    errors, ds_errors, z = [], [], []
    for pair in corpus.pairs:
        est = jaccard(ours[pair.a], ours[pair.b])
        errors.append(est - pair.jaccard)
        ds_errors.append(theirs[pair.a].jaccard(theirs[pair.b]) - pair.jaccard)
        spread = math.sqrt(max(pair.jaccard * (1 - pair.jaccard), 1e-4) / num_perm)
        z.append(abs(est - pair.jaccard) / spread)
    assert abs(np.mean(errors)) < 0.01
    assert np.mean(np.array(z) > 3) < 0.01  # |z| > 3 is 0.3% for a binomial
    assert np.std(errors) < 1.25 * np.std(ds_errors)


# ------------------------------------------------------------ LSH


def datasketch_candidates(sigs: np.ndarray, bands: int, rows: int) -> set[tuple[int, int]]:
    lsh = MinHashLSH(num_perm=sigs.shape[1], params=(bands, rows))
    sketches = [MinHash(hashvalues=s, scheme="affine32") for s in sigs]
    for i, m in enumerate(sketches):
        lsh.insert(i, m)
    return {(min(i, j), max(i, j)) for i, m in enumerate(sketches) for j in lsh.query(m) if i != j}


@pytest.mark.parametrize(("bands", "rows"), [(9, 13), (16, 8), (5, 3), (2, 1)])
def test_candidates_are_exactly_datasketchs_on_the_same_signatures(bands: int, rows: int) -> None:
    corpus = planted_pairs(banded_targets([(0.3, 1.0, 300)], seed=21), 60, seed=22)
    sigs = MinHasher(128, "word", 3).sketch_many(corpus.texts)
    sigs[5] = sigs[9]  # an exact duplicate of an unrelated document: a bucket of three
    expected = datasketch_candidates(sigs, bands, rows)
    pairs = candidate_pairs(sigs, bands, rows)
    assert {tuple(p) for p in pairs.tolist()} == expected
    assert len(pairs) == len(expected)  # each pair once
    # the incremental index: the same candidates, one query at a time
    index = LSHIndex(128, bands, rows)
    index.insert(sigs)
    found = set()
    for i, sig in enumerate(sigs):
        docs, _ = index.candidates(sig, need=0)
        found |= {(min(i, d), max(i, d)) for d in docs.tolist() if d != i}
    assert found == expected


def test_band_key_collisions_never_make_candidates() -> None:
    sigs = np.arange(40 * 16, dtype=np.uint32).reshape(40, 16)
    keys = band_keys(sigs, 4, 4)
    assert keys.shape == (4, 40) and len(np.unique(keys)) == keys.size
    assert len(candidate_pairs(sigs, 4, 4)) == 0


def test_recall_per_band_matches_datasketch() -> None:
    """Same bands and rows, each library's own sketches, recall per similarity band:
    within 4 points (about three standard errors of the difference at 1,200 pairs)."""
    bands, rows = 9, 13
    spec = [(0.6, 0.7, 600), (0.7, 0.8, 1200), (0.8, 0.9, 1200), (0.9, 1.0, 600)]
    corpus = planted_pairs(banded_targets(spec, seed=31), 100, seed=32)
    ours = MinHasher(128, "word", 3).sketch_many(corpus.texts)
    ours_found = {tuple(p) for p in candidate_pairs(ours, bands, rows).tolist()}
    theirs = MinHash.bulk(
        [list(shingles(t, 3, "word")) for t in corpus.texts], num_perm=128, seed=1
    )
    lsh = MinHashLSH(num_perm=128, params=(bands, rows))
    for i, m in enumerate(theirs):
        lsh.insert(i, m)
    for low, high, count in spec:
        members = [p for p in corpus.pairs if low <= p.jaccard < high]
        assert len(members) > 0.7 * count
        ours_recall = np.mean([(p.a, p.b) in ours_found for p in members])
        ds_recall = np.mean([p.b in lsh.query(theirs[p.a]) for p in members])
        assert abs(ours_recall - ds_recall) < 0.04, (low, high, ours_recall, ds_recall)


def test_index_grows_and_answers_the_same() -> None:
    rng = np.random.default_rng(5)
    sigs = rng.integers(0, 50, size=(3000, 32), dtype=np.uint32)  # many shared bands
    need = min_count(0.5, 32)
    small = LSHIndex(32, 8, 4)
    for start in range(0, 3000, 7):  # many small inserts: the table is rebuilt often
        small.insert(sigs[start : start + 7])
    big = LSHIndex(32, 8, 4)
    big.insert(sigs)
    assert len(small) == len(big) == 3000
    a = small.query(sigs[:300], need)
    b = big.query(sigs[:300], need)
    assert all(np.array_equal(x, y) for x, y in zip(a[1:], b[1:], strict=True))
    for i in range(0, 300, 17):
        docs, counts = big.candidates(sigs[i], need)
        assert i in docs.tolist() and counts.max() == 32
        sims = pair_similarity(sigs, np.array([[i, d] for d in docs.tolist()]))
        assert np.array_equal(np.round(sims * 32).astype(np.int64), counts)


def test_min_count_is_the_float_comparison() -> None:
    for num_perm in (16, 100, 128, 256):
        for t in (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 1.0):
            c = min_count(t, num_perm)
            assert c / num_perm >= t and (c == 0 or (c - 1) / num_perm < t)

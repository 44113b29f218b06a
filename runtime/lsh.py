"""MinHash LSH over a signature matrix: band keys, candidate pairs, an incremental index.

The bands are datasketch's: band i is the contiguous slice of rows [i * r, (i + 1) * r)
of a signature, and two signatures are candidates when at least one band is equal in
every row. A band is reduced to a 64-bit key (its rows folded through the MurmurHash3
finalizer), and every key match is checked against the rows themselves, so a collision
of keys never makes a candidate: the candidates are exactly datasketch's for the same
signatures, bands and rows.

- `candidate_pairs` finds every candidate pair of a matrix at once: per band, sort the
  keys and pair up each run of equal keys; a pair is reported by the first band it
  shares, so each pair once.
- `LSHIndex` is the incremental form: an open-addressing hash table from band key to a
  linked list of the documents in that bucket, all in flat arrays, with batch queries
  in compiled code. `insert_unique` is the dedup pass: each query is matched against
  what is indexed so far, and indexed only when it matches nothing.

Similarity is the share of equal minima over all `num_perm` rows (as
`MinHash.jaccard`), held as the integer count of agreeing rows; a threshold t is the
smallest count c with c / num_perm >= t, the same float comparison.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from taskseed.runtime.minhash import Signatures, compiled, mix64

_BAND_SEED = 0x2545F4914F6CDD1D
_EMPTY = -1

Pairs = npt.NDArray[np.int64]


def min_count(threshold: float, num_perm: int) -> int:
    """The fewest agreeing rows whose share reaches the threshold (num_perm + 1: never)."""
    for count in range(num_perm + 1):
        if count / num_perm >= threshold:
            return count
    return num_perm + 1


def check_bands(num_perm: int, bands: int, rows: int) -> None:
    if bands < 1 or rows < 1 or bands * rows > num_perm:
        raise ValueError(f"{bands} bands x {rows} rows do not fit {num_perm} permutations")


# ---------------------------------------------------------------- compiled core


@compiled
def _band_key(sig: npt.NDArray[np.uint32], band: int, rows: int) -> np.uint64:
    h = mix64(np.uint64(_BAND_SEED) ^ np.uint64(band))
    base = band * rows
    r = 0
    while r + 1 < rows:
        pair = (np.uint64(sig[base + r]) << np.uint64(32)) | np.uint64(sig[base + r + 1])
        h = mix64(h ^ pair)
        r += 2
    if r < rows:
        h = mix64(h ^ np.uint64(sig[base + r]))
    return h


@compiled
def _same_band(x: npt.NDArray[np.uint32], y: npt.NDArray[np.uint32], band: int, rows: int) -> bool:
    for r in range(band * rows, (band + 1) * rows):  # noqa: SIM110 (loops compile best)
        if x[r] != y[r]:
            return False
    return True


@compiled
def _first_shared(
    x: npt.NDArray[np.uint32], y: npt.NDArray[np.uint32], band: int, rows: int
) -> bool:
    """Whether `band` is equal in x and y and no band before it is."""
    if not _same_band(x, y, band, rows):
        return False
    for earlier in range(band):  # noqa: SIM110
        if _same_band(x, y, earlier, rows):
            return False
    return True


@compiled
def _agree(x: npt.NDArray[np.uint32], y: npt.NDArray[np.uint32]) -> int:
    count = 0
    for i in range(x.shape[0]):
        count += x[i] == y[i]
    return count


@compiled
def _band_keys(sigs: Signatures, bands: int, rows: int, out: npt.NDArray[np.uint64]) -> None:
    for d in range(sigs.shape[0]):
        for band in range(bands):
            out[band, d] = _band_key(sigs[d], band, rows)


@compiled
def _run_pairs(
    sigs: Signatures,
    keys: npt.NDArray[np.uint64],
    order: npt.NDArray[np.int64],
    rows: int,
) -> Pairs:
    bands, n = keys.shape
    out = np.empty((max(16, n), 2), dtype=np.int64)
    k = 0
    for band in range(bands):
        start = 0
        while start < n:
            stop = start + 1
            key = keys[band, order[band, start]]
            while stop < n and keys[band, order[band, stop]] == key:
                stop += 1
            for p in range(start, stop):
                for q in range(p + 1, stop):
                    i = order[band, p]
                    j = order[band, q]
                    if _first_shared(sigs[i], sigs[j], band, rows):
                        if k == out.shape[0]:
                            grown = np.empty((2 * k, 2), dtype=np.int64)
                            grown[:k] = out
                            out = grown
                        out[k, 0] = min(i, j)
                        out[k, 1] = max(i, j)
                        k += 1
            start = stop
    return out[:k]


@compiled
def _slot(
    slot_key: npt.NDArray[np.uint64], slot_head: npt.NDArray[np.int32], key: np.uint64
) -> int:
    mask = slot_key.shape[0] - 1
    s = np.int64(key & np.uint64(mask))
    while slot_head[s] != _EMPTY and slot_key[s] != key:
        s = (s + 1) & mask
    return int(s)


@compiled
def _insert(
    sigs: Signatures,
    lo: int,
    hi: int,
    bands: int,
    rows: int,
    slot_key: npt.NDArray[np.uint64],
    slot_head: npt.NDArray[np.int32],
    nxt: npt.NDArray[np.int32],
) -> None:
    for d in range(lo, hi):
        for band in range(bands):
            key = _band_key(sigs[d], band, rows)
            s = _slot(slot_key, slot_head, key)
            if slot_head[s] == _EMPTY:
                slot_key[s] = key
            entry = d * bands + band
            nxt[entry] = slot_head[s]
            slot_head[s] = entry


@compiled
def _query(
    sigs: Signatures,
    n: int,
    bands: int,
    rows: int,
    slot_key: npt.NDArray[np.uint64],
    slot_head: npt.NDArray[np.int32],
    nxt: npt.NDArray[np.int32],
    queries: Signatures,
    need: int,
    insert: bool,
    best: npt.NDArray[np.int64],
    best_count: npt.NDArray[np.int64],
    tie: npt.NDArray[np.bool_],
) -> int:
    """Per query, the indexed candidate with most agreeing rows if it has `need`.

    `tie` says another candidate agrees in as many rows (the caller breaks the tie).
    With `insert`, a query that matches nothing is indexed before the next one is
    looked up; the number of indexed documents is returned.
    """
    for q in range(queries.shape[0]):
        query = queries[q]
        found = -1
        count = -1
        tied = False
        for band in range(bands):
            s = _slot(slot_key, slot_head, _band_key(query, band, rows))
            entry = slot_head[s]
            while entry != _EMPTY:
                d = entry // bands
                if entry - d * bands == band and _first_shared(sigs[d], query, band, rows):
                    c = _agree(sigs[d], query)
                    if c > count:
                        found, count, tied = d, c, False
                    elif c == count:
                        tied = True
                entry = nxt[entry]
        if count >= need:
            best[q] = found
            best_count[q] = count
            tie[q] = tied
        else:
            best[q] = -1
            best_count[q] = max(count, 0)
            tie[q] = False
            if insert:
                sigs[n, :] = query
                _insert(sigs, n, n + 1, bands, rows, slot_key, slot_head, nxt)
                n += 1
    return n


@compiled
def _candidates(
    sigs: Signatures,
    limit: int,
    bands: int,
    rows: int,
    slot_key: npt.NDArray[np.uint64],
    slot_head: npt.NDArray[np.int32],
    nxt: npt.NDArray[np.int32],
    query: npt.NDArray[np.uint32],
    need: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every indexed candidate below `limit` with at least `need` agreeing rows."""
    docs = np.empty(16, dtype=np.int64)
    counts = np.empty(16, dtype=np.int64)
    k = 0
    for band in range(bands):
        s = _slot(slot_key, slot_head, _band_key(query, band, rows))
        entry = slot_head[s]
        while entry != _EMPTY:
            d = entry // bands
            if (
                d < limit
                and entry - d * bands == band
                and _first_shared(sigs[d], query, band, rows)
            ):
                c = _agree(sigs[d], query)
                if c >= need:
                    if k == docs.shape[0]:
                        docs = np.concatenate((docs, np.empty(k, dtype=np.int64)))
                        counts = np.concatenate((counts, np.empty(k, dtype=np.int64)))
                    docs[k] = d
                    counts[k] = c
                    k += 1
            entry = nxt[entry]
    return docs[:k], counts[:k]


# ---------------------------------------------------------------- Python side


def band_keys(sigs: Signatures, bands: int, rows: int) -> npt.NDArray[np.uint64]:
    """The 64-bit key of every band of every signature: a (bands, n) matrix."""
    check_bands(sigs.shape[1], bands, rows)
    out = np.empty((bands, sigs.shape[0]), dtype=np.uint64)
    _band_keys(np.ascontiguousarray(sigs), bands, rows, out)
    return out


def candidate_pairs(sigs: Signatures, bands: int, rows: int) -> Pairs:
    """Every pair (i, j), i < j, that shares at least one band; sorted, each once."""
    sigs = np.ascontiguousarray(sigs)
    keys = band_keys(sigs, bands, rows)
    order = np.argsort(keys, axis=1, kind="stable").astype(np.int64, copy=False)
    pairs: Pairs = _run_pairs(sigs, keys, order, rows)
    if len(pairs):
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    return pairs


def pair_similarity(sigs: Signatures, pairs: Pairs) -> npt.NDArray[np.float64]:
    """Estimated Jaccard similarity of each pair of rows."""
    if not len(pairs):
        return np.zeros(0, dtype=np.float64)
    equal = np.count_nonzero(sigs[pairs[:, 0]] == sigs[pairs[:, 1]], axis=1)
    similarity: npt.NDArray[np.float64] = equal.astype(np.float64) / float(sigs.shape[1])
    return similarity


class LSHIndex:
    """Signatures in LSH buckets, grown in place; documents are numbered 0, 1, ..."""

    def __init__(self, num_perm: int, bands: int, rows: int) -> None:
        check_bands(num_perm, bands, rows)
        self.num_perm, self.bands, self.rows = num_perm, bands, rows
        self._n = 0
        self._sigs = np.empty((0, num_perm), dtype=np.uint32)
        self._next = np.empty(0, dtype=np.int32)
        self._slot_key = np.zeros(16, dtype=np.uint64)
        self._slot_head = np.full(16, _EMPTY, dtype=np.int32)

    def __len__(self) -> int:
        return self._n

    @property
    def signatures(self) -> Signatures:
        return self._sigs[: self._n]

    def nbytes(self) -> int:
        """Memory held: signatures, bucket chains and the table."""
        arrays = (self._sigs, self._next, self._slot_key, self._slot_head)
        return sum(a.nbytes for a in arrays)

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        if need > len(self._sigs):
            capacity = max(need, 2 * len(self._sigs), 64)
            sigs = np.empty((capacity, self.num_perm), dtype=np.uint32)
            sigs[: self._n] = self._sigs[: self._n]
            nxt = np.empty(capacity * self.bands, dtype=np.int32)
            nxt[: self._n * self.bands] = self._next[: self._n * self.bands]
            self._sigs, self._next = sigs, nxt
        if 2 * need * self.bands > len(self._slot_key):
            if need * self.bands >= 2**31:
                raise ValueError("too many documents for one LSH index")
            size = len(self._slot_key)
            while size < 2 * max(need, 2 * self._n) * self.bands:
                size *= 2
            self._slot_key = np.zeros(size, dtype=np.uint64)
            self._slot_head = np.full(size, _EMPTY, dtype=np.int32)
            self._insert(0, self._n)

    def _insert(self, lo: int, hi: int) -> None:
        _insert(
            self._sigs, lo, hi, self.bands, self.rows, self._slot_key, self._slot_head, self._next
        )

    def insert(self, sigs: Signatures) -> None:
        """Index every row of `sigs`, in order."""
        self._reserve(len(sigs))
        self._sigs[self._n : self._n + len(sigs)] = sigs
        self._insert(self._n, self._n + len(sigs))
        self._n += len(sigs)

    def query(
        self, sigs: Signatures, need: int, *, insert: bool = False
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Per row: the best indexed match with at least `need` agreeing rows (or -1),
        its count, and whether another candidate ties with it. With `insert`, each
        row that matches nothing is indexed before the next row is looked up."""
        sigs = np.ascontiguousarray(sigs, dtype=np.uint32)
        if insert:
            self._reserve(len(sigs))
        best = np.empty(len(sigs), dtype=np.int64)
        count = np.empty(len(sigs), dtype=np.int64)
        tie = np.empty(len(sigs), dtype=np.bool_)
        self._n = _query(
            self._sigs,
            self._n,
            self.bands,
            self.rows,
            self._slot_key,
            self._slot_head,
            self._next,
            sigs,
            need,
            insert,
            best,
            count,
            tie,
        )
        return best, count, tie

    def candidates(
        self, sig: npt.NDArray[np.uint32], need: int, limit: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every indexed document (numbered below `limit`) sharing a band with `sig`
        and agreeing in at least `need` rows, with its count."""
        docs, counts = _candidates(
            self._sigs,
            self._n if limit is None else limit,
            self.bands,
            self.rows,
            self._slot_key,
            self._slot_head,
            self._next,
            np.ascontiguousarray(sig, dtype=np.uint32),
            need,
        )
        return docs, counts

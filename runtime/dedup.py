"""Stage 7, dedup: MinHash LSH near-duplicate removal, within the run and against seeds.

Texts are normalised and cut into word or character n-grams; two items whose
estimated Jaccard similarity reaches the threshold are near duplicates, and the later
one (in record-ID order) is dropped with the ID of the one it duplicates. Seeds are
indexed first, so no output is a near copy of a seed.

The sketches come from `minhash.py` and the buckets from `lsh.py`, both compiled; an
index holds one uint32 signature per key and its bucket entries, never the text.
`shingles` is the reference definition of the shingles (the compiled path produces
the same sets, hashed); tests and the benchmark feed it to datasketch as the oracle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from taskseed.contract.plan import PlanDedup
from taskseed.runtime.answers import normalize_text
from taskseed.runtime.lsh import LSHIndex, min_count
from taskseed.runtime.minhash import MinHasher, Signatures, hasher

Match = tuple[str, float]


def shingles(text: str, ngram: int, kind: str) -> set[bytes]:
    normal = normalize_text(text)
    if kind == "char":
        if len(normal) <= ngram:
            return {normal.encode()}
        return {normal[i : i + ngram].encode() for i in range(len(normal) - ngram + 1)}
    words = normal.split()
    if len(words) <= ngram:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + ngram]).encode() for i in range(len(words) - ngram + 1)}


def item_text(item: dict[str, Any], fields: Iterable[str]) -> str:
    parts: list[str] = []
    for name in fields:
        value = item.get(name)
        if isinstance(value, list):
            parts.extend(str(v) for v in value)
        elif value:
            parts.append(str(value))
    return "\n".join(parts)


class NearDuplicates:
    """One LSH index: seeds first, then items in a deterministic order.

    `add` and `first_match` work one text at a time; the `*_many` forms and
    `deduplicate` take whole batches (sketched together, looked up in compiled code)
    and give the same answers as the one-at-a-time calls in the same order.
    """

    def __init__(self, config: PlanDedup) -> None:
        self.config = config
        self.hasher: MinHasher = hasher(config.num_perm, config.shingle, config.ngram)
        self._index = LSHIndex(config.num_perm, config.bands, config.rows)
        self._need = min_count(config.threshold, config.num_perm)
        self._keys: list[str] = []
        self._known: set[str] = set()
        self._last: tuple[str, npt.NDArray[np.uint32]] | None = None  # first_match, then add

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._known

    def nbytes(self) -> int:
        """Memory held by the index arrays (the keys aside)."""
        return self._index.nbytes()

    # ------------------------------------------------------------ sketches

    def sketch(self, text: str) -> npt.NDArray[np.uint32]:
        if self._last is not None and self._last[0] == text:
            return self._last[1]
        sig = self.hasher.sketch(text)
        self._last = (text, sig)
        return sig

    def sketch_many(self, texts: Sequence[str]) -> Signatures:
        return self.hasher.sketch_many(texts)

    # ------------------------------------------------------------ one at a time

    def add(self, key: str, text: str) -> None:
        if key not in self._known:
            self.add_signatures([key], self.sketch(text)[None, :])

    def first_match(self, text: str) -> Match | None:
        """The most similar indexed key at or above the threshold, if any."""
        return self._best(self.sketch(text), len(self._keys))

    def _best(self, sig: npt.NDArray[np.uint32], limit: int) -> Match | None:
        """Among indexed documents numbered below `limit`: the highest similarity, and
        of those the greatest key."""
        docs, counts = self._index.candidates(sig, self._need, limit)
        if not len(docs):
            return None
        count, key = max(zip(counts.tolist(), [self._keys[d] for d in docs.tolist()], strict=True))
        return key, count / self.config.num_perm

    # ------------------------------------------------------------ batches

    def add_many(self, keys: Sequence[str], texts: Sequence[str]) -> None:
        self.add_signatures(keys, self.sketch_many(texts))

    def add_signatures(self, keys: Sequence[str], sigs: Signatures) -> None:
        """Index signatures under their keys; a key already indexed is skipped."""
        if len(keys) != len(sigs):
            raise ValueError("one key per signature")
        fresh: list[int] = []
        for i, key in enumerate(keys):
            if key not in self._known:
                fresh.append(i)
                self._known.add(key)
                self._keys.append(key)
        if fresh:
            self._index.insert(sigs if len(fresh) == len(keys) else sigs[fresh])

    def first_matches(self, texts: Sequence[str]) -> list[Match | None]:
        """`first_match` of each text against the index as it is (nothing is added)."""
        return self.first_matches_signatures(self.sketch_many(texts))

    def first_matches_signatures(self, sigs: Signatures) -> list[Match | None]:
        best, count, tie = self._index.query(sigs, self._need)
        return self._matches(sigs, best, count, tie, np.full(len(sigs), len(self._keys)))

    def deduplicate(self, keys: Sequence[str], texts: Sequence[str]) -> list[Match | None]:
        """For each text in order: its `first_match`, and when there is none, `add`
        it. Returns the matches (None: the text was kept and indexed)."""
        return self.deduplicate_signatures(keys, self.sketch_many(texts))

    def deduplicate_signatures(self, keys: Sequence[str], sigs: Signatures) -> list[Match | None]:
        if len(keys) != len(sigs):
            raise ValueError("one key per signature")
        if len(set(keys)) != len(keys) or not self._known.isdisjoint(keys):
            return self._deduplicate_slowly(keys, sigs)  # a key seen twice: as `add` does
        before = len(self._keys)
        best, count, tie = self._index.query(sigs, self._need, insert=True)
        kept = best < 0
        limits = before + np.cumsum(kept) - kept  # documents indexed when each was looked up
        for i in np.flatnonzero(kept).tolist():
            self._keys.append(keys[i])
            self._known.add(keys[i])
        return self._matches(sigs, best, count, tie, limits)

    def _deduplicate_slowly(self, keys: Sequence[str], sigs: Signatures) -> list[Match | None]:
        matches: list[Match | None] = []
        for key, sig in zip(keys, sigs, strict=True):
            match = self._best(sig, len(self._keys))
            if match is None and key not in self._known:
                self.add_signatures([key], sig[None, :])
            matches.append(match)
        return matches

    def _matches(
        self,
        sigs: Signatures,
        best: npt.NDArray[np.int64],
        count: npt.NDArray[np.int64],
        tie: npt.NDArray[np.bool_],
        limits: npt.NDArray[np.int64],
    ) -> list[Match | None]:
        num_perm = self.config.num_perm
        matches: list[Match | None] = []
        rows = zip(best.tolist(), count.tolist(), tie.tolist(), strict=True)
        for i, (doc, c, tied) in enumerate(rows):
            if doc < 0:
                matches.append(None)
            elif tied:  # several at the best similarity: the greatest key, as `first_match`
                matches.append(self._best(sigs[i], int(limits[i])))
            else:
                matches.append((self._keys[doc], c / num_perm))
        return matches

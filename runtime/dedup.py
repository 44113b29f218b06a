"""Stage 7, dedup: MinHash LSH near-duplicate removal, within the run and against seeds.

Texts are normalised and cut into word or character n-grams; two items whose
estimated Jaccard similarity reaches the threshold are near duplicates, and the later
one (in record-ID order) is dropped with the ID of the one it duplicates. Seeds are
indexed first, so no output is a near copy of a seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from datasketch import MinHash, MinHashLSH

from taskseed.compiler.plan_model import PlanDedup
from taskseed.runtime.answers import normalize_text


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


@dataclass
class NearDuplicates:
    """One LSH index: seeds first, then items in a deterministic order."""

    config: PlanDedup
    _lsh: MinHashLSH = field(init=False)
    _sketches: dict[str, MinHash] = field(default_factory=dict)

    def __post_init__(self) -> None:
        c = self.config
        self._lsh = MinHashLSH(threshold=c.threshold, num_perm=c.num_perm, params=(c.bands, c.rows))

    def sketch(self, text: str) -> MinHash:
        minhash = MinHash(num_perm=self.config.num_perm, seed=1)
        minhash.update_batch(list(shingles(text, self.config.ngram, self.config.shingle)))
        return minhash

    def add(self, key: str, text: str) -> None:
        if key in self._sketches:
            return
        sketch = self.sketch(text)
        self._lsh.insert(key, sketch)
        self._sketches[key] = sketch

    def first_match(self, text: str) -> tuple[str, float] | None:
        """The most similar indexed key at or above the threshold, if any."""
        sketch = self.sketch(text)
        best: tuple[str, float] | None = None
        for key in self._lsh.query(sketch):
            similarity = sketch.jaccard(self._sketches[key])
            if similarity >= self.config.threshold and (
                best is None or (similarity, key) > (best[1], best[0])
            ):
                best = (key, similarity)
        return best

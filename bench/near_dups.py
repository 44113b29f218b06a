"""Synthetic documents with planted near-duplicates at known Jaccard similarities.

Documents are sequences of pseudo-words drawn with a Zipf-like frequency from a fixed
vocabulary (a few real function words, articles among them, at the head, so that the
normalisation matters), with a capital letter, commas and a full stop. A planted pair is
a document and a copy of it with some words replaced; the number of replacements is
chosen for a target similarity, and the pair's true Jaccard similarity is then computed
exactly on the reference shingle sets (`dedup.shingles`, what datasketch is given), so
every pair carries its exact value, whatever the target was.

Everything is drawn from one seeded `random.Random`: the same arguments give the same
corpus on every machine.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from taskseed.runtime.dedup import shingles

FUNCTION_WORDS = ["the", "of", "and", "a", "to", "in", "is", "that", "an", "for", "on", "with"]
SYLLABLES = [
    c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou", "ee")
]


def jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class Vocabulary:
    """Pseudo-words with Zipf-like weights (rank r drawn in proportion to 1 / (r + 10))."""

    def __init__(self, size: int, rng: random.Random) -> None:
        words = list(FUNCTION_WORDS)
        seen = set(words)
        while len(words) < size:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
            if word not in seen:
                seen.add(word)
                words.append(word)
        self.words = words
        self._cumulative = list(itertools.accumulate(1.0 / (r + 10) for r in range(size)))

    def draw(self, rng: random.Random, k: int) -> list[str]:
        total = self._cumulative[-1]
        return [self.words[bisect.bisect(self._cumulative, rng.random() * total)] for _ in range(k)]


def render(words: Sequence[str], rng: random.Random) -> str:
    """Words as a sentence: capitalised, a comma now and then, a full stop."""
    out = []
    for i, word in enumerate(words):
        token = word.capitalize() if i == 0 else word
        if i + 1 < len(words) and rng.random() < 0.06:
            token += ","
        out.append(token)
    return " ".join(out) + "."


@dataclass(frozen=True)
class Pair:
    a: int  # index of the original in the corpus
    b: int  # index of its near-duplicate
    jaccard: float  # exact, on the reference shingles


@dataclass
class Corpus:
    texts: list[str]
    pairs: list[Pair]


def documents(n: int, words: int, *, seed: int = 1, vocabulary: int = 50_000) -> list[str]:
    """n unrelated documents of `words` words each."""
    rng = random.Random(seed)
    vocab = Vocabulary(vocabulary, rng)
    return [render(vocab.draw(rng, words), rng) for _ in range(n)]


def planted_pairs(
    targets: Sequence[float],
    words: int,
    *,
    ngram: int = 3,
    kind: str = "word",
    seed: int = 2,
    vocabulary: int = 50_000,
) -> Corpus:
    """One planted pair per target similarity: texts [a0, b0, a1, b1, ...]."""
    rng = random.Random(seed)
    vocab = Vocabulary(vocabulary, rng)
    texts: list[str] = []
    pairs: list[Pair] = []
    for target in targets:
        base = vocab.draw(rng, words)
        text_a = render(base, rng)
        set_a = shingles(text_a, ngram, kind)
        # A replaced word changes up to n shingles of the original and adds as many:
        # J = (S - d) / (S + d) with d = n * edits, hence the first guess.
        size = len(set_a)
        edits = max(1, round(size * (1 - target) / ((1 + target) * ngram)))
        copy = list(base)
        positions = rng.sample(range(words), min(words, edits))
        for p in positions:
            replacement = copy[p]
            while replacement == copy[p]:
                replacement = vocab.draw(rng, 1)[0]
            copy[p] = replacement
        text_b = render(copy, rng)
        exact = jaccard(set_a, shingles(text_b, ngram, kind))
        pairs.append(Pair(len(texts), len(texts) + 1, exact))
        texts.extend((text_a, text_b))
    return Corpus(texts, pairs)


def banded_targets(bands: Sequence[tuple[float, float, int]], *, seed: int = 3) -> list[float]:
    """Target similarities drawn uniformly in each band, `count` per (low, high, count)."""
    rng = random.Random(seed)
    targets = [rng.uniform(low, high) for low, high, count in bands for _ in range(count)]
    rng.shuffle(targets)
    return targets

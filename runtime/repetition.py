"""Repetition checks in the manner of Gopher's quality filters (Rae et al. 2021, "Scaling
Language Models", appendix A): a text that repeats its lines, its sentences or its word
n-grams is what a small model writes when it loops, and no useful explanation.

- duplicate lines, for a text of three lines or sentences or more: the share of lines
  and sentences (split at line breaks and at `.`, `!`, `?`, `。`, `！`, `？`) that repeat
  an earlier one, after case and punctuation are folded, and the share of characters in
  them (`duplicate_lines`, `duplicate_line_chars`);

and for a text of at least `min_words` words (a Han or kana character is a word of its
own, since those scripts do not separate words; Gopher too measured only documents of
50 words or more, and in shorter texts one repeated phrase is a large share):

- top n-grams, n = 2, 3, 4, ...: the share of the text's characters covered by its most
  frequent word n-gram, when that n-gram occurs more than once (`top_ngrams`);
- duplicate n-grams, n = 5, 6, 7, ...: the share of characters in words that belong to
  some n-gram occurring more than once; each word counts once (`duplicate_ngrams`).

Characters are those of the words (spaces and punctuation do not count). The first
limit a text exceeds is the reason it is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from taskseed.contract.language import HAN, KANA
from taskseed.contract.plan import PlanRepetition

_WORD = re.compile(f"[{HAN}{KANA}]|[^\\s{HAN}{KANA}]+")
_SENTENCES = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")


def _bare(word: str) -> str:
    """A word without the punctuation and symbols around it."""
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(word[end - 1])[0] in "PS":
        end -= 1
    return word[start:end]


def words(text: str) -> list[str]:
    """Lower-cased words without punctuation; Han and kana characters one by one."""
    return [w for w in (_bare(t) for t in _WORD.findall(text.lower())) if w]


def duplicate_segments(text: str) -> tuple[float, float, int]:
    """(share of segments repeating an earlier one, share of characters in them, how
    many segments there are)."""
    seen: set[str] = set()
    total = repeated = 0
    total_chars = repeated_chars = 0
    for segment in _SENTENCES.split(text):
        key = " ".join(words(segment))
        if not key:
            continue
        size = len(key.replace(" ", ""))
        total += 1
        total_chars += size
        if key in seen:
            repeated += 1
            repeated_chars += size
        seen.add(key)
    if not total:
        return 0.0, 0.0, 0
    return repeated / total, repeated_chars / total_chars, total


def top_ngram_share(tokens: Sequence[str], n: int) -> float:
    """Share of characters covered by the most frequent n-gram (0 if none repeats)."""
    total = sum(len(w) for w in tokens)
    grams = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    if not grams or not total:
        return 0.0
    gram, count = grams.most_common(1)[0]
    if count < 2:
        return 0.0
    return count * sum(len(w) for w in gram) / total


def duplicate_ngram_share(tokens: Sequence[str], n: int) -> float:
    """Share of characters in words covered by n-grams that occur more than once."""
    total = sum(len(w) for w in tokens)
    starts = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    counts = Counter(starts)
    covered = [False] * len(tokens)
    for i, gram in enumerate(starts):
        if counts[gram] > 1:
            covered[i : i + n] = [True] * n
    if not total:
        return 0.0
    return sum(len(w) for w, hit in zip(tokens, covered, strict=True) if hit) / total


def repetition(text: str | None, rules: PlanRepetition) -> str | None:
    """Why the text repeats itself too much, or None."""
    if not text:
        return None
    lines, line_chars, segments = duplicate_segments(text)
    if segments >= 3:
        if rules.duplicate_lines is not None and lines > rules.duplicate_lines:
            limit = rules.duplicate_lines
            return f"{lines:.0%} of its lines and sentences repeat (most {limit:.0%})"
        if rules.duplicate_line_chars is not None and line_chars > rules.duplicate_line_chars:
            return (
                f"{line_chars:.0%} of its characters are in repeated lines "
                f"(most {rules.duplicate_line_chars:.0%})"
            )
    tokens = words(text)
    if len(tokens) < rules.min_words:
        return None
    for n, limit in enumerate(rules.top_ngrams, start=2):
        share = top_ngram_share(tokens, n)
        if share > limit:
            return f"its most frequent {n}-gram covers {share:.0%} of it (most {limit:.0%})"
    for n, limit in enumerate(rules.duplicate_ngrams, start=5):
        share = duplicate_ngram_share(tokens, n)
        if share > limit:
            return f"{share:.0%} of it is in repeated {n}-grams (most {limit:.0%})"
    return None

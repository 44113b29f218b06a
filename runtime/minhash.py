"""MinHash signatures of many texts at once, shingling included, in compiled code.

A text is normalised exactly as `answers.normalize_text` does (lowercase, ASCII
punctuation deleted, the words "a", "an" and "the" removed, whitespace collapsed), cut
into word or character n-grams, and sketched with `num_perm` permutations. Python only
joins a batch into one string, lowercases it when it holds non-ASCII text (`str.lower`
knows Unicode case and the final sigma; ASCII is lowercased in compiled code) and
encodes it as UTF-8; everything after that runs in numba over that flat buffer, so the
cost per document is a few microseconds, and no string or set is made per shingle.

- Characters are classified by a table built from the regex classes `\\s` and `\\w`
  (that is `str.isspace`, and `str.isalnum` or "_") and `string.punctuation` for the
  Basic Multilingual Plane, so the compiled tokenizer splits, deletes and finds word
  boundaries as `str.split` and the regex `\\b(a|an|the)\\b` do. A character beyond
  the BMP that touches a would-be article (the only place where its word-ness
  matters) sends that one document through `normalize_text` itself, so the result is
  the same for every input (tests check it bit for bit on adversarial text).
- Text of ASCII letters, digits, spaces and punctuation (most of it) takes a short
  branch-light path; anything else takes the general single-pass scanner. Both give
  the same words.
- A word hashes to 64 bits (its UTF-8 bytes in 8-byte blocks through the MurmurHash3
  finalizer); an n-gram is a rolling polynomial of its words' (or code points') hashes
  mod 2^64, salted by its width, finalized, top 32 bits kept. A text with no more than
  n words (characters) is one shingle, as in `dedup.shingles`; an empty text is one
  constant shingle.
- The permutations are datasketch's default scheme ("affine32"): h -> a * h + b mod
  2^32 with `a` odd, on pre-mixed 32-bit shingle hashes; a and b come from a fixed
  splitmix64 stream, so signatures are the same on every machine and numpy version.
  Four shingles per pass and a branch-free minimum over uint32 lanes let the loop run
  in SIMD (AVX2: eight permutations per instruction).

Signatures are an (n, num_perm) uint32 matrix; the texts are not kept. Batches are cut
into chunks of about `CHUNK_CHARS` characters, so the transient memory is bounded
whatever the number of texts. numba compiles on first use and caches the machine code
on disk (`cache=True`), so later processes only load it.
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Literal, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

from taskseed.runtime.answers import normalize_text

Signatures = npt.NDArray[np.uint32]

CHUNK_CHARS = 1 << 21  # characters of text sketched per compiled call
SEED = 1

# Character classes of the table (code points below 0x10000) and of the tokenizer.
PUNCT, SPACE, WORD, OTHER, UNKNOWN = 0, 1, 2, 3, 4

_MASK64 = (1 << 64) - 1
_WORD_SEED = 0xCBF29CE484222325  # first state of a word's hash
_LENGTH_MUL = 0x100000001B3  # the word's length, times this, goes into that state
_POLY = 0x9E3779B97F4A7C15  # odd base of the rolling n-gram polynomial
_WIDTH_SEED = 0xD6E8FEB86659FD93  # salts an n-gram key by its width
_EMPTY_SEED = 0x8CB92BA72F3D8DD7  # the one shingle of an empty text
_CHAR_SEED = 0x27BB2EE687B0B0FD  # added to a code point before it is mixed
_ART_MASK = (1 << 63) - 1
_ART_A = ord("a")
_ART_AN = (ord("a") << 21) | ord("n")
_ART_THE = (ord("t") << 42) | (ord("h") << 21) | ord("e")
_ART_AN_LE = int.from_bytes(b"an", "little")  # as the first block of a word's bytes
_ART_THE_LE = int.from_bytes(b"the", "little")

F = TypeVar("F", bound=Callable[..., Any])

if sys.byteorder != "little":  # words are read as little-endian 8-byte blocks
    raise ImportError("taskseed.runtime.minhash needs a little-endian machine")


def compiled(fn: F) -> F:
    """numba's nopython JIT, cached on disk (compiled once per machine, then loaded)."""
    return cast(F, numba.njit(cache=True, nogil=True)(fn))


def inlined(fn: F) -> F:
    """Compiled into its callers (numba's inline="always"): the caller's own arrays
    are then known not to alias, which lets LLVM keep the loops tight."""
    return cast(F, numba.njit(cache=True, nogil=True, inline="always")(fn))


@cache
def char_classes() -> npt.NDArray[np.uint8]:
    """The class of every BMP code point, by the regex classes `\\s` and `\\w` that
    `str.split` and `\\b` use (Py_UNICODE_ISSPACE, Py_UNICODE_ISALNUM or "_")."""
    everything = "".join(map(chr, range(0x10000)))

    def member(pattern: str) -> npt.NDArray[np.bool_]:
        kept = re.sub(pattern, "\0", everything).encode("utf-32-le", "surrogatepass")
        mask: npt.NDArray[np.bool_] = np.frombuffer(kept, dtype=np.uint32) != 0
        return mask

    table = np.full(0x10000, OTHER, dtype=np.uint8)
    table[member(r"\W")] = WORD
    table[member(r"\S")] = SPACE
    for c in string.punctuation:
        table[ord(c)] = PUNCT
    return table


def permutations(num_perm: int, seed: int = SEED) -> tuple[npt.NDArray[np.uint32], ...]:
    """The (a, b) parameters of the permutations: a fixed splitmix64 stream."""
    a = np.empty(num_perm, dtype=np.uint32)
    b = np.empty(num_perm, dtype=np.uint32)
    state = seed & _MASK64
    for i in range(num_perm):
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
        a[i] = (z & 0xFFFFFFFF) | 1
        b[i] = z >> 32
    return a, b


# ---------------------------------------------------------------- compiled core


@compiled
def mix64(x: np.uint64) -> np.uint64:
    """MurmurHash3's 64-bit finalizer: an avalanching bijection."""
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


@compiled
def _block(data: npt.NDArray[np.uint64], at: int, remaining: int) -> np.uint64:
    """Bytes at..at+min(8, remaining) of the array's little-endian bytes as one word,
    zero-padded: two aligned loads and shifts."""
    shift = np.uint64(8 * (at & 7))
    word = at >> 3
    # (x << (63 - s)) << 1: a shift by 64 - s that is 0 when s == 0
    block: np.uint64 = (data[word] >> shift) | (
        (data[word + 1] << (np.uint64(63) - shift)) << np.uint64(1)
    )
    block &= np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(64 - 8 * min(remaining, 8))
    return block


@compiled
def _hash_rest(h: np.uint64, data: npt.NDArray[np.uint64], start: int, length: int) -> np.uint64:
    for i in range(8, length, 8):
        h = mix64(h ^ _block(data, start + i, length - i))
    return h


@compiled
def _hash_bytes(data: npt.NDArray[np.uint64], start: int, length: int) -> np.uint64:
    """A word's hash: its bytes in 8-byte little-endian blocks, the last one
    zero-padded, each folded in by the finalizer, from a state seeded by the length."""
    h = np.uint64(length) * np.uint64(_LENGTH_MUL) ^ np.uint64(_WORD_SEED)
    h = mix64(h ^ _block(data, start, length))
    return _hash_rest(h, data, start, length)


@compiled
def _scan(
    buf: npt.NDArray[np.uint8],
    lo: int,
    hi: int,
    table: npt.NDArray[np.uint8],
    char_mode: bool,
    articles: bool,
    tok64: npt.NDArray[np.uint64],
    words: npt.NDArray[np.uint64],
    cps: npt.NDArray[np.int32],
) -> tuple[int, bool]:
    """Normalise one UTF-8 document in a single pass, as `normalize_text` does.

    Word mode writes the hash of each word to `words` (its bytes are gathered in
    `tok64`) and returns the word count; character mode writes the normalised text (words
    joined by one space) as code points to `cps` and returns its length. The flag is
    True when an article touches a character beyond the BMP, whose word-ness the table
    does not know.

    ASCII letters are lowercased and ASCII punctuation is skipped as if absent. A word
    run (maximal run of word characters) that reads "a", "an" or "the" is a separator,
    as `\\b(a|an|the)\\b` replaced by a space: the token before it is a word of its
    own, and the token goes on after it. `articles=False` reads normalised text.
    """
    tok = tok64.view(np.uint8)
    count = 0  # words written, or code points of the normalised text so far
    nc = 0  # character mode: write position of the current token
    tb = 0  # word mode: bytes gathered in `tok`; the token is tok[tok_start:tb]
    tok_start = 0
    tok_len = 0  # characters in the token
    prev = SPACE  # class of the character before this one in the token
    run_len = 0
    art = 0  # the run's last three code points, 21 bits each
    run_tok = 0  # the token's characters, bytes and write position when the run began
    run_tb = 0
    run_nc = 0
    run_left = SPACE
    ambiguous = False
    pos = lo
    while True:
        first = pos
        if pos < hi:
            c0 = int(buf[pos])
            if c0 < 0x80:
                cp = c0 + 32 if 65 <= c0 <= 90 else c0  # what `str.lower` does to ASCII
                pos += 1
            elif c0 < 0xE0:
                cp = ((c0 & 0x1F) << 6) | (int(buf[pos + 1]) & 0x3F)
                pos += 2
            elif c0 < 0xF0:
                cp = (
                    ((c0 & 0x0F) << 12)
                    | ((int(buf[pos + 1]) & 0x3F) << 6)
                    | (int(buf[pos + 2]) & 0x3F)
                )
                pos += 3
            else:
                cp = (
                    ((c0 & 0x07) << 18)
                    | ((int(buf[pos + 1]) & 0x3F) << 12)
                    | ((int(buf[pos + 2]) & 0x3F) << 6)
                    | (int(buf[pos + 3]) & 0x3F)
                )
                pos += 4
            kind = int(table[cp]) if cp < 0x10000 else UNKNOWN
            if kind == PUNCT:
                continue
        else:
            cp = 32
            kind = SPACE  # the end closes the last run and token
        if kind == WORD:
            if run_len == 0:
                run_tok, run_tb, run_nc, run_left = tok_len, tb, nc, prev
                art = 0
            art = ((art << 21) | cp) & _ART_MASK
            run_len += 1
        else:
            if (
                articles
                and 0 < run_len <= 3
                and (
                    (run_len == 1 and art == _ART_A)
                    or (run_len == 2 and art == _ART_AN)
                    or (run_len == 3 and art == _ART_THE)
                )
            ):
                if run_left == UNKNOWN or kind == UNKNOWN:
                    ambiguous = True
                if run_tok > 0:  # the token before the article is a word
                    if char_mode:
                        count = run_nc
                    else:
                        words[count] = _hash_bytes(tok64, tok_start, run_tb - tok_start)
                        count += 1
                tok_len = 0
                tb = run_tb
            run_len = 0
            if kind == SPACE:
                if tok_len > 0:
                    if char_mode:
                        count = nc
                    else:
                        words[count] = _hash_bytes(tok64, tok_start, tb - tok_start)
                        count += 1
                    tok_len = 0
                prev = SPACE
                if pos >= hi:
                    break
                continue
        # append the character to the token
        if char_mode:
            if tok_len == 0:
                nc = count
                if count > 0:
                    cps[nc] = 32
                    nc += 1
            cps[nc] = cp
            nc += 1
        else:
            if tok_len == 0:
                tok_start = tb
            if pos - first == 1:
                tok[tb] = np.uint8(cp)
                tb += 1
            else:
                for i in range(first, pos):
                    tok[tb] = buf[i]
                    tb += 1
        tok_len += 1
        prev = kind
    return count, ambiguous


@inlined
def _scan_ascii(
    buf: npt.NDArray[np.uint8],
    lo: int,
    hi: int,
    table: npt.NDArray[np.uint8],
    tok64: npt.NDArray[np.uint64],
    bounds: npt.NDArray[np.int64],
    words: npt.NDArray[np.uint64],
) -> tuple[int, bool]:
    """Word mode for text of ASCII letters, digits, spaces and punctuation only (False
    otherwise): the same words as `_scan`, in three branch-free passes. Each token is
    then one word run, so an article is a token that reads "a", "an" or "the"."""
    tok = tok64.view(np.uint8)
    j = 0
    bad = False
    for p in range(lo, hi):  # lowercase, spaces to " ", punctuation dropped
        c = np.int64(buf[p])
        kind = np.int64(table[c])
        bad |= (c >= 0x80) | (kind == OTHER)
        c = c + 32 if 65 <= c <= 90 else c
        tok[j] = 32 if kind == SPACE else c
        j += kind != PUNCT
    if bad:
        return 0, False
    n = 0  # token boundaries: bounds[2w] <= word w < bounds[2w + 1]
    space = True
    for i in range(j):
        here = tok[i] == 32
        bounds[n] = i
        n += here != space
        space = here
    if not space:
        bounds[n] = j
        n += 1
    count = 0
    for w in range(0, n, 2):  # no branch but for words longer than 8 bytes
        start = bounds[w]
        length = bounds[w + 1] - start
        first = _block(tok64, start, length)
        article = (
            ((length == 1) & (first == _ART_A))
            | ((length == 2) & (first == _ART_AN_LE))
            | ((length == 3) & (first == _ART_THE_LE))
        )
        h = mix64(np.uint64(length) * np.uint64(_LENGTH_MUL) ^ np.uint64(_WORD_SEED) ^ first)
        second = mix64(h ^ _block(tok64, start + 8, max(1, length - 8)))  # used if > 8 bytes
        h = second if length > 8 else h
        words[count] = _hash_rest(h, tok64, start + 8, length - 8) if length > 16 else h
        count += not article
    return count, True


@compiled
def _nul_offsets(buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> None:
    """offsets[d + 1]: just past the d-th NUL byte."""
    d = 1
    for i in range(buf.shape[0]):
        if buf[i] == 0:
            offsets[d] = i + 1
            d += 1


@compiled
def _ngram_keys(
    values: npt.NDArray[np.uint64], count: int, ngram: int, keys: npt.NDArray[np.uint32]
) -> int:
    """32-bit keys of the n-grams of `values` (all of them when there are fewer than
    n, one constant key when there are none): a rolling polynomial mod 2^64, salted
    by the width and avalanched by the finalizer. Returns the number of keys."""
    if count == 0:
        keys[0] = np.uint32(mix64(np.uint64(_EMPTY_SEED)) >> np.uint64(32))
        return 1
    width = min(ngram, count)
    salt = mix64(np.uint64(_WIDTH_SEED) ^ np.uint64(width))
    base = np.uint64(_POLY)
    top = np.uint64(1)  # base ** (width - 1)
    rolling = np.uint64(0)
    for t in range(width):
        rolling = rolling * base + values[t]
        if t > 0:
            top *= base
    keys[0] = np.uint32(mix64(rolling + salt) >> np.uint64(32))
    for i in range(1, count - width + 1):
        rolling = (rolling - values[i - 1] * top) * base + values[i + width - 1]
        keys[i] = np.uint32(mix64(rolling + salt) >> np.uint64(32))
    return count - width + 1


@compiled
def _min_permuted(
    keys: npt.NDArray[np.uint32],
    count: int,
    a: npt.NDArray[np.uint32],
    b: npt.NDArray[np.uint32],
    sig: npt.NDArray[np.uint32],
) -> None:
    """sig[i] = min(sig[i], a[i] * key + b[i] mod 2^32) over the keys: four keys per pass
    over the permutations, a branch-free minimum, so the loop runs in SIMD lanes."""
    k = 0
    while k + 4 <= count:
        x0, x1, x2, x3 = keys[k], keys[k + 1], keys[k + 2], keys[k + 3]
        for i in range(a.shape[0]):
            ai, bi, t = a[i], b[i], sig[i]
            v = np.uint32(ai * x0 + bi)
            t = v if v < t else t
            v = np.uint32(ai * x1 + bi)
            t = v if v < t else t
            v = np.uint32(ai * x2 + bi)
            t = v if v < t else t
            v = np.uint32(ai * x3 + bi)
            sig[i] = v if v < t else t
        k += 4
    while k < count:
        x = keys[k]
        for i in range(a.shape[0]):
            v = np.uint32(a[i] * x + b[i])
            t = sig[i]
            sig[i] = v if v < t else t
        k += 1


@compiled
def _sketch_chunk(
    buf: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    table: npt.NDArray[np.uint8],
    a: npt.NDArray[np.uint32],
    b: npt.NDArray[np.uint32],
    ngram: int,
    char_mode: bool,
    articles: bool,
    out: npt.NDArray[np.uint32],
    ambiguous: npt.NDArray[np.bool_],
) -> None:
    """Signatures of the documents buf[offsets[d]:offsets[d + 1] - 1] into out[d] (each
    document is followed by one separator byte)."""
    longest = 1
    for d in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[d + 1] - offsets[d])
    tok64 = np.zeros(longest // 8 + 2, dtype=np.uint64)  # read a word past the end
    bounds = np.empty(longest + 1, dtype=np.int64)
    words = np.empty(longest, dtype=np.uint64)
    cps = np.empty(longest, dtype=np.int32)
    keys = np.empty(longest, dtype=np.uint32)
    sig = np.empty(a.shape[0], dtype=np.uint32)
    for d in range(offsets.shape[0] - 1):
        lo, hi = offsets[d], offsets[d + 1] - 1
        plain = False
        if articles and not char_mode:
            n, plain = _scan_ascii(buf, lo, hi, table, tok64, bounds, words)
        if not plain:
            n, unsure = _scan(buf, lo, hi, table, char_mode, articles, tok64, words, cps)
            if unsure:
                ambiguous[d] = True
                out[d, :] = np.uint32(0xFFFFFFFF)
                continue
        if char_mode:
            for i in range(n):
                words[i] = mix64(np.uint64(cps[i]) + np.uint64(_CHAR_SEED))
        count = _ngram_keys(words, n, ngram, keys)
        sig[:] = np.uint32(0xFFFFFFFF)
        _min_permuted(keys, count, a, b, sig)
        out[d, :] = sig


# ---------------------------------------------------------------- Python side


class MinHasher:
    """Sketches texts for one (num_perm, shingle, ngram) setting."""

    def __init__(self, num_perm: int, shingle: Literal["word", "char"], ngram: int) -> None:
        if num_perm < 1 or ngram < 1:
            raise ValueError("num_perm and ngram must be positive")
        if shingle not in ("word", "char"):
            raise ValueError(f"unknown shingle kind {shingle!r}")
        self.num_perm = num_perm
        self.shingle = shingle
        self.ngram = ngram
        self._a, self._b = permutations(num_perm)

    def sketch(self, text: str) -> npt.NDArray[np.uint32]:
        """The signature of one text: a (num_perm,) uint32 vector."""
        sig: npt.NDArray[np.uint32] = self.sketch_many([text])[0]
        return sig

    def sketch_many(self, texts: Sequence[str]) -> Signatures:
        """Signatures of many texts, one row each: an (n, num_perm) uint32 matrix."""
        texts = texts if isinstance(texts, list) else list(texts)
        out = np.empty((len(texts), self.num_perm), dtype=np.uint32)
        ends = np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)))
        start = 0
        while start < len(texts):
            before = int(ends[start - 1]) if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, before + CHUNK_CHARS, "right")))
            chunk = texts[start:stop]
            ambiguous = self._run(chunk, out[start:stop], normalized=False)
            if ambiguous.any():  # rare: let `normalize_text` itself decide those
                redo = np.flatnonzero(ambiguous)
                rows = np.empty((len(redo), self.num_perm), dtype=np.uint32)
                self._run([normalize_text(chunk[i]) for i in redo.tolist()], rows, normalized=True)
                out[start + redo] = rows
            start = stop
        return out

    def _run(self, texts: list[str], out: Signatures, *, normalized: bool) -> npt.NDArray[np.bool_]:
        buf, offsets = _encode(texts, lower=not normalized)
        ambiguous = np.zeros(len(texts), dtype=np.bool_)
        _sketch_chunk(
            buf,
            offsets,
            char_classes(),
            self._a,
            self._b,
            self.ngram,
            self.shingle == "char",
            not normalized,
            out,
            ambiguous,
        )
        return ambiguous


def _encode(
    texts: list[str], *, lower: bool
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """UTF-8 of the texts, each followed by a NUL byte, and where each one starts.

    The batch is joined, lowercased and encoded in three C-speed calls; lowercasing the
    joined text equals lowercasing each text, as NUL is neither cased nor
    case-ignorable (the only context `str.lower` reads, for the final sigma)."""
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    joined = "\0".join([*texts, ""])
    if joined.count("\0") == len(texts):
        if lower and not joined.isascii():  # ASCII is lowercased in compiled code
            joined = joined.lower()
        buf = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        if len(buf) == len(joined):  # ASCII: a byte per character
            lengths = np.fromiter(map(len, texts), np.int64, len(texts))
            np.cumsum(lengths + 1, out=offsets[1:])
        else:
            _nul_offsets(buf, offsets)  # UTF-8 has no other zero byte
    else:  # a text holds NUL itself: encode the texts one by one
        parts = [(t.lower() if lower else t).encode("utf-8", "surrogatepass") for t in texts]
        np.cumsum(np.fromiter((len(p) + 1 for p in parts), np.int64, len(parts)), out=offsets[1:])
        buf = np.frombuffer(b"\0".join(parts) + b"\0", dtype=np.uint8)
    return buf, offsets


@cache
def hasher(num_perm: int, shingle: Literal["word", "char"], ngram: int) -> MinHasher:
    """A shared MinHasher per setting (they hold nothing but the permutations)."""
    return MinHasher(num_perm, shingle, ngram)


def jaccard(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> float:
    """Estimated Jaccard similarity: the share of equal minima (as datasketch)."""
    return float(np.count_nonzero(a == b)) / float(a.shape[-1])

"""Bands and rows for MinHash LSH at a Jaccard threshold.

With b bands of r rows, two sets of Jaccard similarity s become candidates with
probability 1 - (1 - s^r)^b. The pair (b, r) chosen minimises the weighted area of
false positives below the threshold plus false negatives above it, with b * r no more
than the number of permutations. The plan stores the result, so runtimes agree.

The search needs NumPy, whose import alone costs a fresh `taskseed compile` a tenth of a
second; the answers for common settings are kept in `KNOWN`, which a test recomputes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    return float(1.0 - (1.0 - similarity**rows) ** bands)


# Candidates are confirmed by their signatures' estimated similarity, so a false
# positive costs one comparison while a false negative lets a near duplicate through:
# false negatives weigh nine times as much. At 0.8 and 128 permutations this gives 14
# bands of 9 rows, which makes 87% of pairs at J = 0.8 candidates (9 x 13, the equal
# weighting, makes 40%).
FP_WEIGHT = 0.1
FN_WEIGHT = 0.9

# (threshold, num_perm) -> (bands, rows) at the default weights; see the module's note.
KNOWN: dict[tuple[float, int], tuple[int, int]] = {
    (0.5, 64): (21, 3), (0.6, 64): (16, 4), (0.7, 64): (12, 5), (0.75, 64): (10, 6),
    (0.8, 64): (9, 7), (0.85, 64): (7, 9), (0.9, 64): (5, 12), (0.95, 64): (3, 19),
    (0.5, 128): (32, 4), (0.6, 128): (25, 5), (0.7, 128): (20, 6), (0.75, 128): (16, 8),
    (0.8, 128): (14, 9), (0.85, 128): (11, 11), (0.9, 128): (8, 16), (0.95, 128): (5, 25),
    (0.5, 256): (42, 4), (0.6, 256): (42, 6), (0.7, 256): (32, 8), (0.75, 256): (28, 9),
    (0.8, 256): (23, 11), (0.85, 256): (18, 14), (0.9, 256): (13, 19), (0.95, 256): (8, 32),
}  # fmt: skip


def optimal_bands_rows(
    threshold: float, num_perm: int, fp_weight: float = FP_WEIGHT, fn_weight: float = FN_WEIGHT
) -> tuple[int, int]:
    if (fp_weight, fn_weight) == (FP_WEIGHT, FN_WEIGHT) and (threshold, num_perm) in KNOWN:
        return KNOWN[(threshold, num_perm)]
    return search_bands_rows(threshold, num_perm, fp_weight, fn_weight)


@lru_cache(maxsize=256)
def search_bands_rows(
    threshold: float, num_perm: int, fp_weight: float = FP_WEIGHT, fn_weight: float = FN_WEIGHT
) -> tuple[int, int]:
    """The (bands, rows) with the least weighted error, by a search over every pair."""
    import numpy as np  # imported here: validating specs does not need it

    grid = 257
    below = np.linspace(0.0, threshold, grid)
    above = np.linspace(threshold, 1.0, grid)
    best: tuple[float, int, int] | None = None
    for bands in range(1, num_perm + 1):
        max_rows = num_perm // bands
        rows = np.arange(1, max_rows + 1)[:, None]
        fp = _area(1.0 - (1.0 - below[None, :] ** rows) ** bands, below)
        fn = _area((1.0 - above[None, :] ** rows) ** bands, above)
        error = np.asarray(fp_weight * fp + fn_weight * fn, dtype=float)
        index = int(np.argmin(error))
        if best is None or float(error[index]) < best[0] - 1e-12:
            best = (float(error[index]), bands, index + 1)
    assert best is not None
    return best[1], best[2]


def _area(y: Any, x: Any) -> Any:
    """The trapezoidal area under each row of `y` over the grid `x` (numpy 2 calls it
    `trapezoid`, numpy 1 `trapz`; written out, it is the same on both)."""
    return ((y[:, 1:] + y[:, :-1]) * (x[1:] - x[:-1])).sum(axis=1) / 2.0

"""Bands and rows for MinHash LSH at a Jaccard threshold.

With b bands of r rows, two sets of Jaccard similarity s become candidates with
probability 1 - (1 - s^r)^b. The pair (b, r) chosen minimises the weighted area of
false positives below the threshold plus false negatives above it, with b * r no more
than the number of permutations. The plan stores the result, so runtimes agree.
"""

from __future__ import annotations

from functools import lru_cache


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    return float(1.0 - (1.0 - similarity**rows) ** bands)


@lru_cache(maxsize=256)
def optimal_bands_rows(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    import numpy as np  # imported here: validating specs does not need it

    grid = 257
    below = np.linspace(0.0, threshold, grid)
    above = np.linspace(threshold, 1.0, grid)
    best: tuple[float, int, int] | None = None
    for bands in range(1, num_perm + 1):
        max_rows = num_perm // bands
        rows = np.arange(1, max_rows + 1)[:, None]
        fp = np.trapezoid(1.0 - (1.0 - below[None, :] ** rows) ** bands, below, axis=1)
        fn = np.trapezoid((1.0 - above[None, :] ** rows) ** bands, above, axis=1)
        error = np.asarray(fp_weight * fp + fn_weight * fn, dtype=float)
        index = int(np.argmin(error))
        if best is None or float(error[index]) < best[0] - 1e-12:
            best = (float(error[index]), bands, index + 1)
    assert best is not None
    return best[1], best[2]

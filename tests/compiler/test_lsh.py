"""LSH parameters: b * r fits the permutations, the S-curve crosses near the threshold, and
the chosen (bands, rows) is the least weighted error by an independent integration."""

from __future__ import annotations

import numpy as np
import pytest

from taskseed.compiler.lsh_bands import (
    FN_WEIGHT,
    FP_WEIGHT,
    KNOWN,
    candidate_probability,
    optimal_bands_rows,
    search_bands_rows,
)


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.5, 128), (0.8, 128), (0.9, 256)])
def test_parameters_fit_and_separate(threshold: float, num_perm: int) -> None:
    bands, rows = optimal_bands_rows(threshold, num_perm)
    assert bands * rows <= num_perm
    assert candidate_probability(threshold - 0.25, bands, rows) < 0.25
    assert candidate_probability(min(threshold + 0.15, 1.0), bands, rows) > 0.85


def test_higher_threshold_means_more_rows_per_band() -> None:
    _, rows_low = optimal_bands_rows(0.5, 128)
    _, rows_high = optimal_bands_rows(0.9, 128)
    assert rows_high > rows_low


@pytest.mark.parametrize(("threshold", "num_perm"), sorted(KNOWN))
def test_known_answers_are_what_the_search_finds(threshold: float, num_perm: int) -> None:
    assert KNOWN[(threshold, num_perm)] == search_bands_rows(threshold, num_perm)


def weighted_errors(threshold: float, num_perm: int) -> dict[tuple[int, int], float]:
    """The weighted false-positive plus false-negative area of every (bands, rows) with
    bands * rows <= num_perm, integrated by Gauss-Legendre quadrature (not the search's
    trapezoids). The candidate probability 1 - (1 - s^r)^b is a polynomial of degree
    b * r <= num_perm, so a rule of num_perm // 2 + 1 nodes integrates it exactly."""
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def on(lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        return (hi - lo) / 2 * nodes + (hi + lo) / 2, (hi - lo) / 2 * weights

    below, w_below = on(0.0, threshold)
    above, w_above = on(threshold, 1.0)
    errors = {}
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_pos = float(w_below @ (1.0 - (1.0 - below**rows) ** bands))
            false_neg = float(w_above @ ((1.0 - above**rows) ** bands))
            errors[(bands, rows)] = FP_WEIGHT * false_pos + FN_WEIGHT * false_neg
    return errors


# Settings from the table of known answers and settings the search answers.
ORACLE_CASES = [(0.83, 100), (0.8, 128), (0.5, 64), (0.95, 256), (0.7, 200), (0.62, 48)]


@pytest.mark.parametrize(("threshold", "num_perm"), ORACLE_CASES)
def test_the_chosen_pair_has_the_least_weighted_error(threshold: float, num_perm: int) -> None:
    """Within a tolerance for the search's 257-point trapezoids: the pair chosen (from the
    table or by the search) is within 0.1% of the least error of all pairs."""
    errors = weighted_errors(threshold, num_perm)
    least = min(errors.values())
    chosen = optimal_bands_rows(threshold, num_perm)
    assert chosen in errors, f"{chosen} does not fit {num_perm} permutations"
    assert errors[chosen] <= least * 1.001 + 1e-9, (
        f"{chosen} has error {errors[chosen]:.6g}; "
        f"{min(errors, key=errors.__getitem__)} has {least:.6g}"
    )


def test_the_oracle_checks_the_search_too() -> None:
    searched = [case for case in ORACLE_CASES if case not in KNOWN]
    assert len(searched) >= 3 and any(case in KNOWN for case in ORACLE_CASES)

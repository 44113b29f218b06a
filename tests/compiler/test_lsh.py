"""LSH parameters: b * r fits the permutations and the S-curve crosses near the threshold."""

from __future__ import annotations

import pytest

from taskseed.compiler.lsh_bands import (
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


def test_other_settings_are_searched() -> None:
    assert (0.83, 100) not in KNOWN
    bands, rows = optimal_bands_rows(0.83, 100)
    assert (bands, rows) == search_bands_rows(0.83, 100) and bands * rows <= 100

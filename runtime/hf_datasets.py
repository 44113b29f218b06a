"""Hugging Face datasets: one split of a unit's dataset, streamed with `datasets`.

The one place that calls `datasets.load_dataset`. Callers check the split first: the
seeds stage refuses held-out splits (`seeds.iter_rows`), decontamination asks only for
them (`seeds.held_out_rows`). `datasets` is the optional extra `[hf]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from taskseed.contract.plan import Unit
from taskseed.runtime.errors import SeedError

Row = dict[str, Any]


def load_split(unit: Unit, split: str) -> Iterator[Row]:
    """One split of the unit's Hugging Face dataset, streamed. Callers check the split:
    `iter_rows` (seeds) refuses held-out splits, `held_out_rows` allows only those."""
    try:
        import datasets
    except ModuleNotFoundError:
        raise SeedError(
            "reading Hugging Face datasets needs the optional extra: pip install 'taskseed[hf]'"
        ) from None
    seeds = unit.seeds
    if seeds.dataset is None:
        raise SeedError(f"{unit.id}: the plan names no Hugging Face dataset")
    try:
        stream = datasets.load_dataset(
            seeds.dataset,
            seeds.config,
            split=split,
            revision=seeds.revision,
            streaming=True,
        )
    except Exception as exc:  # network, missing config, missing split, ...
        raise SeedError(f"{unit.id}: cannot load {seeds.dataset} ({split}): {exc}") from None
    for row in stream:
        yield dict(row)

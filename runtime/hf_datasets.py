"""Hugging Face datasets: one split of a dataset, streamed with `datasets`.

The one place that calls `datasets.load_dataset`. Callers check the split first: the
seeds stage refuses held-out splits (`seeds.iter_rows`), decontamination asks only for
them (`seeds.held_out_rows`) and for the splits of benchmarks in other datasets
(`decontaminate.sources`). `datasets` is the optional extra `[hf]`.

How a dataset loads is the plan's: `config`, `revision`, `data_files` and `data_dir`
go to `load_dataset` as they are, as lm-eval's `dataset_kwargs` do. A repository that
only ships a loading script (which `datasets` 4 and later refuse) is read from the Hub's
Parquet export: `revision: refs/convert/parquet` with `data_files` naming
`<config>/<split>/*.parquet`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from taskseed.contract.plan import PlanDataFiles, Unit
from taskseed.runtime.errors import SeedError

Row = dict[str, Any]


class DatasetRef(Protocol):
    """What names a dataset and how it loads: the plan's seeds, or a benchmark source."""

    @property
    def dataset(self) -> str | None: ...
    @property
    def config(self) -> str | None: ...
    @property
    def revision(self) -> str | None: ...
    @property
    def data_files(self) -> PlanDataFiles | None: ...
    @property
    def data_dir(self) -> str | None: ...


def load_split(unit: Unit, split: str) -> Iterator[Row]:
    """One split of the unit's Hugging Face dataset, streamed. Callers check the split:
    `iter_rows` (seeds) refuses held-out splits, `held_out_rows` allows only those."""
    return load_rows(unit.seeds, split, owner=unit.id)


def load_kwargs(ref: DatasetRef, split: str) -> dict[str, Any]:
    """The keyword arguments of `datasets.load_dataset` for one split of `ref`."""
    kwargs: dict[str, Any] = {"split": split, "streaming": True}
    if ref.revision is not None:
        kwargs["revision"] = ref.revision
    if ref.data_files is not None:
        kwargs["data_files"] = ref.data_files
    if ref.data_dir is not None:
        kwargs["data_dir"] = ref.data_dir
    return kwargs


def load_rows(ref: DatasetRef, split: str, *, owner: str) -> Iterator[Row]:
    """One split of a Hugging Face dataset, streamed (`owner` names the unit in errors)."""
    try:
        import datasets
    except ModuleNotFoundError:
        raise SeedError(
            "reading Hugging Face datasets needs the optional extra: pip install 'taskseed[hf]'"
        ) from None
    if ref.dataset is None:
        raise SeedError(f"{owner}: the plan names no Hugging Face dataset")
    try:
        stream = datasets.load_dataset(ref.dataset, ref.config, **load_kwargs(ref, split))
    except Exception as exc:  # network, missing config, missing split, a loading script
        raise SeedError(f"{owner}: cannot load {ref.dataset} ({split}): {exc}") from None
    rows = iter(stream)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # a connection lost or a file unreadable mid-stream
            raise SeedError(f"{owner}: reading {ref.dataset} ({split}) failed: {exc}") from None
        yield dict(row)

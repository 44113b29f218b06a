"""The write stage: the dataset is every unit's kept records in ID order, one folder per
family, sharded; the rejects are ordered by unit, stage and ID with dedup's among them;
only one shard and a batch per slice are held."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import msgspec
import polars as pl

from taskseed.contract.records import OutputRecord
from taskseed.runtime.results import Reject
from taskseed.runtime.stages.write import write_dataset
from taskseed.runtime.staging import SliceMeta, Staging
from tests.runtime.test_staging import records


def stage(out: Path) -> tuple[dict[str, list[Path]], list[OutputRecord], list[Reject]]:
    staging = Staging(out)
    folders: dict[str, list[Path]] = {}
    every: list[OutputRecord] = []
    rejects: list[Reject] = []
    rng = random.Random(3)
    for number, unit in enumerate(("t/b", "t/a")):
        task, subtask = unit.split("/")
        mine = [
            msgspec.structs.replace(r, task=task, subtask=subtask)
            for r in records(700, seed=number + 10)
        ]
        every.extend(mine)
        folders[unit] = []
        for index in range(3):
            part = sorted(mine[index::3], key=lambda r: r.id)
            dropped = [
                Reject(id=f"{rng.randrange(10**6):06d}", unit=unit, stage=stage, reason="x")
                for stage in ("verify", "filter", "parse")
                for _ in range(5)
            ]
            rejects.extend(dropped)
            meta = SliceMeta(
                run_key="k",
                index=index,
                rows=0,
                taken=0,
                last=index == 2,
                counts={},
                kinds={},
                families={},
                rejects=len(dropped),
            )
            staging.commit(unit, meta, part, dropped, [])
            folders[unit].append(staging.slice_folder(unit, index))
    return folders, every, rejects


def test_records_and_rejects_in_order_shard_by_shard(tmp_path: Path) -> None:
    folders, every, rejects = stage(tmp_path / "out")
    rng = random.Random(5)
    dropped = {
        r.id: (f"seed:{r.task}/{r.subtask}:s1" if rng.random() < 0.5 else "other", 0.875)
        for r in rng.sample(every, 100)
    }
    out = tmp_path / "out"
    (out / "data/generative").mkdir(parents=True)
    (out / "data/generative/part-00009.jsonl").write_text("a stale part\n")
    written = write_dataset(folders, dropped, out, fmt="jsonl", shard_size=250, scratch=out / "s")

    kept = sorted((r for r in every if r.id not in dropped), key=lambda r: r.id)
    for family in ("multiple_choice", "generative"):
        lines = b"".join(
            p.read_bytes() for p in sorted((out / "data" / family).glob("part-*.jsonl"))
        )
        expected = b"".join(msgspec.json.encode(r) + b"\n" for r in kept if r.family == family)
        assert lines == expected
    assert not (out / "data/generative/part-00009.jsonl").exists()
    assert all(f["records"] <= 250 for f in written.files)
    for f in written.files:
        data = (out / f["path"]).read_bytes()  # type: ignore[operator]
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]

    lines = [
        json.loads(line)
        for p in sorted((out / "rejects").glob("part-*.jsonl"))
        for line in p.read_text().split("\n")  # not splitlines: U+2028 is in a text
        if line
    ]
    assert len(lines) == len(rejects) + len(dropped)
    keys = [(r["unit"], r["stage"], r["id"]) for r in lines]
    assert keys == sorted(keys)
    dedup = [r for r in lines if r["stage"] == "dedup"]
    assert len(dedup) == 100 and written.deduplicated == {
        u: sum(1 for r in dedup if r["unit"] == u) for u in ("t/a", "t/b")
    }
    for reject in dedup:
        other = dropped[reject["id"]][0]
        what = "seed s1" if other.startswith("seed:") else "other"
        assert reject["reason"] == f"near-duplicate of {what} (estimated Jaccard 0.88)"
        assert reject["item"]["id"] == reject["id"] and "context" in reject["item"]
    assert sum(written.written.values()) == len(kept)
    assert written.rejects_by_stage["dedup"] == 100


def test_parquet_shards(tmp_path: Path) -> None:
    folders, every, _ = stage(tmp_path / "out")
    out = tmp_path / "out"
    written = write_dataset(folders, {}, out, fmt="parquet", shard_size=500, scratch=out / "s")
    frames = [pl.read_parquet(out / f["path"]) for f in written.files]  # type: ignore[operator]
    assert sum(f.height for f in frames) == len(every)
    ids = [i for f in frames for i in f["id"].to_list()]
    by_family = {
        fam: sorted(r.id for r in every if r.family == fam)
        for fam in ("multiple_choice", "generative")
    }
    assert ids == by_family["multiple_choice"] + by_family["generative"]

"""Staged slices: committed whole or not at all, read back as the same records."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec

from taskseed.contract.records import OutputRecord, Verification
from taskseed.runtime.results import Reject
from taskseed.runtime.staging import SliceMeta, Staging, iter_records, iter_rejects, read_seeds


def meta(index: int, key: str = "k", **extra: object) -> SliceMeta:
    fields: dict[str, object] = dict(
        run_key=key,
        index=index,
        rows=2,
        taken=2,
        last=False,
        counts={"seeds": 2},
        kinds={},
        families={},
        rejects=0,
    )
    fields.update(extra)
    return SliceMeta(**fields)  # type: ignore[arg-type]


def records(count: int, seed: int = 1) -> list[OutputRecord]:
    """Records with every kind of field value: missing, empty lists, votes, zero."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        roll = i % 4
        out.append(
            OutputRecord(
                id=f"{rng.randrange(16**20):020x}",
                task="t",
                subtask="s",
                domain="knowledge",
                kind=("similar_question", "answer_enriched", "context_enriched")[i % 3],  # type: ignore[arg-type]
                family="multiple_choice" if roll else "generative",
                seed_id=f"q{i}",
                parent_id=None if roll else f"p{i}",
                question=f'Question {i} with \u00e9 and \u2028 and "quotes"?',
                context=None if roll == 1 else "",
                choices=None if roll == 2 else ([] if roll == 3 else ["a", "b"]),
                answer="a",
                answer_index=0 if roll == 0 else None,
                answer_label="A" if roll == 0 else None,
                rationale=None,
                tests=["assert f() == 1"] if roll == 3 else None,
                verification=None
                if roll == 1
                else Verification(
                    status="verified",
                    k=4,
                    votes={"b": 1, "a": 3},
                    majority="a",
                    agreement=0.1 + 0.2,
                    method="option",
                ),
                unit_fingerprint="f" * 16,
                model="m",
                license="CC0-1.0",
            )
        )
    return sorted(out, key=lambda r: r.id)


def test_a_slice_reads_back_as_the_same_records(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    kept = records(2500)
    rejects = [
        Reject(id="z", unit="t/s", stage="verify", reason="no", item={"b": 1, "a": [None]}),
        Reject(id="a", unit="t/s", stage="verify", reason="no", source="x.jsonl:3"),
        Reject(id="m", unit="t/s", stage="filter", reason="short", kind="similar_question"),
    ]
    staging.commit("t/s", meta(0), kept, rejects, [("q1", "text"), ("q2", None)])
    folder = staging.slice_folder("t/s", 0)
    back = list(iter_records(folder))
    assert [i for i, _ in back] == [r.id for r in kept]
    assert [msgspec.json.encode(r) for _, r in back] == [msgspec.json.encode(r) for r in kept]
    assert [k for k, _ in iter_rejects(folder)] == [
        ("filter", "m"),
        ("verify", "a"),
        ("verify", "z"),
    ]
    assert [line for _, line in iter_rejects(folder)][2] == msgspec.json.encode(rejects[0])
    assert read_seeds(folder).rows() == [("q1", "text"), ("q2", None)]


def test_only_slices_of_this_run_key_count(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    staging.commit("t/s", meta(0), [], [], [])
    staging.commit("t/s", meta(1, key="other"), [], [], [])
    folder = staging.unit_folder("t/s")
    (folder / ".tmp-slice-000002-123").mkdir()  # a commit that was killed
    (folder / "slice-000003").mkdir()  # a folder without its meta
    assert sorted(staging.committed("t/s", "k")) == [0]
    assert sorted(p.name for p in folder.iterdir()) == [
        ".tmp-slice-000002-123",
        "slice-000000",
        "slice-000001",
        "slice-000003",
    ]
    assert sorted(staging.committed("t/s", "k", clean=True)) == [0]
    assert sorted(p.name for p in folder.iterdir()) == ["slice-000000"]
    staging.commit("t/s", meta(0, counts={"seeds": 5}), [], [], [])  # a slice is redone whole
    assert staging.committed("t/s", "k")[0].counts == {"seeds": 5}

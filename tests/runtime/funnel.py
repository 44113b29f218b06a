"""The funnel adds up: every item that entered a stage is kept or rejected there."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any


def read_jsonl(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("part-*.jsonl")):
        rows.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return rows


def check_funnel(out: Path) -> dict[str, Any]:
    manifest = json.loads((out / "manifest.json").read_text())
    plan = json.loads((out / "plan.json").read_text())
    judged_units = {u["id"] for u in plan["units"] if u.get("judge", {}).get("enabled")}
    records = read_jsonl(out / "data")
    rejects = read_jsonl(out / "rejects")
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "duplicate record IDs"
    assert not set(ids) & {r["id"] for r in rejects}, "a record is also a reject"
    for unit, info in manifest["units"].items():
        counts = Counter(info["counts"])
        mine = [r for r in rejects if r["unit"] == unit]
        by_stage = Counter(r["stage"] for r in mine)
        similar = Counter(r["stage"] for r in mine if r.get("kind") in (None, "similar_question"))
        read = counts["normalized"] + by_stage["normalize"] + by_stage["seeds"]
        assert counts["seeds"] == read, unit
        assert counts["generated"] == counts["parsed"] + similar["parse"], unit
        assert counts["parsed"] == counts["filtered"] + similar["filter"], unit
        assert counts["filtered"] == counts["decontaminated"] + similar["decontaminate"], unit
        assert counts["decontaminated"] == counts["verified"] + similar["verify"], unit
        # With a judge, the verified items it keeps are the unit's similar questions.
        kept_similar = counts["verified"]
        if unit in judged_units:
            assert counts["verified"] == counts["judged"] + similar["judge"], unit
            kept_similar = counts["judged"]
        else:
            assert "judged" not in counts and not by_stage["judge"], unit
        written = sum(1 for r in records if f"{r['task']}/{r['subtask']}" == unit)
        assert counts["written"] == written, unit
        kept_before_dedup = kept_similar + counts["enriched"]
        assert kept_before_dedup == written + by_stage["dedup"], unit
    return manifest

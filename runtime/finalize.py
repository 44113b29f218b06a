"""After every unit is committed: dedup across units and against seeds, then write.

Finalize reads only what is on disk (the units' committed slices), so a resumed run
reports the same counts as one that was never interrupted, and running it twice writes
the same files. Its own scratch files live under `.work/finalize/` while it runs. The
run's plan (staged at `.work/plan.json` when the run started) replaces `plan.json` just
before the manifest does, so the two describe the same run.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from taskseed.contract.plan import Plan, Unit
from taskseed.runtime.atomic import write_atomic
from taskseed.runtime.dataset_card import write_card
from taskseed.runtime.options import DEDUP_MEMORY_MB
from taskseed.runtime.report import write_report
from taskseed.runtime.results import STAGES, UnitSummary, add_stage_use
from taskseed.runtime.stages.dedup import deduplicate
from taskseed.runtime.stages.write import write_dataset
from taskseed.runtime.staging import WORK_DIR, Staging, result_slices
from taskseed.runtime.writer import Format

PLAN = "plan.json"
STAGED_PLAN = f"{WORK_DIR}/plan.json"


def stage_plan(out: Path, plan_bytes: bytes) -> None:
    """Keep the run's plan beside its staged slices until finalize publishes it."""
    write_atomic(out / STAGED_PLAN, plan_bytes)


def finalize(
    plan: Plan,
    units: Sequence[Unit],
    summaries: Sequence[UnitSummary],
    out: Path,
    *,
    fmt: Format,
    shard_size: int,
    run_info: dict[str, Any],
    dedup_memory_mb: int = DEDUP_MEMORY_MB,
) -> dict[str, Any]:
    """Write the dataset, the rejects, manifest.json, the dataset card (README.md) and
    report.html; return the manifest."""
    staging = Staging(out)
    scratch = out / WORK_DIR / "finalize"
    shutil.rmtree(scratch, ignore_errors=True)
    slices: dict[str, list[Path]] = {}
    documents: dict[str, int] = {}
    for summary in summaries:
        committed, _ = result_slices(
            staging.committed(summary.unit, summary.run_key), summary.target_records
        )
        slices[summary.unit] = [
            staging.slice_folder(summary.unit, index) for index in sorted(committed)
        ]
        documents[summary.unit] = sum(
            m.counts.get("normalized", 0) + sum(m.kinds.values()) for m in committed.values()
        )
    by_id = {unit.id: unit for unit in units}
    dropped = deduplicate(
        [by_id[s.unit] for s in summaries],
        slices,
        documents,
        memory_bytes=dedup_memory_mb << 20,
        scratch=scratch,
    )
    written = write_dataset(slices, dropped, out, fmt=fmt, shard_size=shard_size, scratch=scratch)
    shutil.rmtree(scratch, ignore_errors=True)

    unit_counts = {}
    for summary in summaries:
        counts = dict(summary.counts)
        counts["deduplicated"] = written.deduplicated.get(summary.unit, 0)
        counts["written"] = written.written.get(summary.unit, 0)
        unit_counts[summary.unit] = counts
    totals: dict[str, int] = {}
    for counts in unit_counts.values():
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    order = {name: index for index, name in enumerate((*STAGES[:-1], "deduplicated"))}
    totals = {k: totals[k] for k in sorted(totals, key=lambda k: (order.get(k, len(order)), k))}
    manifest = {
        "taskseed": plan.generator,
        "plan": {"fingerprint": plan.fingerprint, "version": plan.version},
        **run_info,
        "units": {
            s.unit: {
                "fingerprint": by_id[s.unit].fingerprint,
                "counts": unit_counts[s.unit],
                "slices": s.slices,
                "requests_sent": s.requests_sent,
                "requests_replayed": s.requests_replayed,
                "prompt_tokens": s.prompt_tokens,
                "completion_tokens": s.completion_tokens,
                "seconds": s.seconds,
                "stages": s.stages,
                **({} if s.target_records is None else {"target": target(s)}),
            }
            for s in sorted(summaries, key=lambda s: s.unit)
        },
        "counts": totals,
        "stages": add_stage_use(s.stages for s in summaries),
        "rejects": {
            "files": written.reject_files,
            "by_stage": dict(sorted(written.rejects_by_stage.items())),
        },
        "files": written.files,
    }
    staged_plan = out / STAGED_PLAN
    if staged_plan.is_file():
        os.replace(staged_plan, out / PLAN)
    write_atomic(out / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    write_card(plan, manifest, out)
    write_report(plan, manifest, out)
    return manifest


def target(summary: UnitSummary) -> dict[str, Any]:
    """A unit's `--target-records` outcome: the target, the records its slices kept
    (before dedup), the seeds they read, and whether the target was reached (if not,
    the seeds ran out first)."""
    records = summary.target_records or 0
    return {
        "records": records,
        "kept": summary.records,
        "seeds": summary.counts.get("seeds", 0),
        "slices": summary.slices,
        "reached": summary.records >= records,
    }

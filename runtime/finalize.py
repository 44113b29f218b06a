"""After every unit is staged: dedup across units and against seeds, then write.

Finalize reads only what is on disk (the staged unit results), so a resumed run reports
the same counts as one that was never interrupted, and running it twice writes the
same files. Items are visited in record-ID order; the first of a group of near
duplicates is kept.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from taskseed.contract.plan import Plan, Unit
from taskseed.contract.records import OutputRecord
from taskseed.runtime.atomic import write_atomic
from taskseed.runtime.dataset_card import write_card
from taskseed.runtime.dedup import NearDuplicates, item_text
from taskseed.runtime.report import write_report
from taskseed.runtime.results import Reject, UnitOutput
from taskseed.runtime.writer import Format, write_shards


def _scope_key(unit: Unit) -> str:
    scope = unit.dedup.scope
    if scope == "subtask":
        return unit.id
    if scope == "task":
        return unit.task
    return "*"


def dedup(
    units: Sequence[Unit], outputs: Sequence[UnitOutput]
) -> tuple[list[OutputRecord], list[Reject]]:
    """Records that survive near-duplicate removal, and the rejects for the others."""
    by_unit = {unit.id: unit for unit in units}
    groups: dict[tuple[str, bytes], list[tuple[Unit, UnitOutput]]] = defaultdict(list)
    kept: list[OutputRecord] = []
    for output in outputs:
        unit = by_unit[output.unit]
        if not unit.dedup.enabled:
            kept.extend(output.records)
            continue
        config = msgspec.json.encode(unit.dedup, order="deterministic")
        groups[(_scope_key(unit), config)].append((unit, output))
    rejects: list[Reject] = []
    for _group, members in sorted(groups.items()):
        settings = members[0][0].dedup
        records = sorted(
            (record for _, output in members for record in output.records), key=lambda r: r.id
        )
        # Every text of the group is sketched once, in one batch; the texts are not kept.
        sketcher = NearDuplicates(settings)
        seed_keys: list[str] = []
        seed_texts: list[str] = []
        if settings.against_seeds:
            for unit, output in members:
                for seed_id, text in sorted(output.seed_texts.items()):
                    seed_keys.append(f"seed:{unit.id}:{seed_id}")
                    seed_texts.append(text)
        seed_sigs = sketcher.sketch_many(seed_texts)
        record_sigs = sketcher.sketch_many(
            [item_text(msgspec.structs.asdict(r), settings.fields) for r in records]
        )
        # Items are compared within one data kind: an enriched item shares its parent's
        # question on purpose. Seeds are compared against every kind.
        for kind in sorted({r.kind for r in records}):
            index = NearDuplicates(settings)
            index.add_signatures(seed_keys, seed_sigs)
            rows = [i for i, r in enumerate(records) if r.kind == kind]
            matches = index.deduplicate_signatures([records[i].id for i in rows], record_sigs[rows])
            for i, match in zip(rows, matches, strict=True):
                record = records[i]
                if match is None:
                    kept.append(record)
                    continue
                other, similarity = match
                what = f"seed {other.rsplit(':', 1)[1]}" if other.startswith("seed:") else other
                rejects.append(
                    Reject(
                        id=record.id,
                        unit=f"{record.task}/{record.subtask}",
                        stage="dedup",
                        reason=f"near-duplicate of {what} (estimated Jaccard {similarity:.2f})",
                        kind=record.kind,
                        seed_id=record.seed_id,
                        item=msgspec.structs.asdict(record),
                    )
                )
    return sorted(kept, key=lambda r: r.id), rejects


def finalize(
    plan: Plan,
    units: Sequence[Unit],
    outputs: Sequence[UnitOutput],
    out: Path,
    *,
    fmt: Format,
    shard_size: int,
    run_info: dict[str, Any],
) -> dict[str, Any]:
    """Write the dataset, the rejects, manifest.json, the dataset card (README.md) and
    report.html; return the manifest."""
    kept, dedup_rejects = dedup(units, outputs)
    families: dict[str, list[OutputRecord]] = defaultdict(list)
    for record in kept:
        families[record.family].append(record)
    files = []
    for family in ("multiple_choice", "generative"):
        files.extend(
            write_shards(families.get(family, []), out / "data" / family, fmt, shard_size, out)
        )
    rejects = sorted(
        [r for output in outputs for r in output.rejects] + dedup_rejects,
        key=lambda r: (r.unit, r.stage, r.id),
    )
    reject_files = write_shards(rejects, out / "rejects", "jsonl", shard_size, out)

    written = Counter(f"{r.task}/{r.subtask}" for r in kept)
    deduped = Counter(r.unit for r in dedup_rejects)
    unit_counts = {}
    for output in outputs:
        counts = dict(output.counts)
        counts["deduplicated"] = deduped.get(output.unit, 0)
        counts["written"] = written.get(output.unit, 0)
        unit_counts[output.unit] = counts
    manifest = {
        "taskseed": plan.generator,
        "plan": {"fingerprint": plan.fingerprint, "version": plan.version},
        **run_info,
        "units": {
            output.unit: {
                "fingerprint": next(u.fingerprint for u in units if u.id == output.unit),
                "counts": unit_counts[output.unit],
                "requests_sent": output.requests_sent,
                "requests_replayed": output.requests_replayed,
                "prompt_tokens": output.prompt_tokens,
                "completion_tokens": output.completion_tokens,
                "seconds": output.seconds,
            }
            for output in sorted(outputs, key=lambda o: o.unit)
        },
        "counts": dict(sum((Counter(c) for c in unit_counts.values()), Counter())),
        "rejects": {
            "files": reject_files,
            "by_stage": dict(sorted(Counter(r.stage for r in rejects).items())),
        },
        "files": files,
    }
    write_atomic(out / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    write_card(plan, manifest, out)
    write_report(plan, manifest, out)
    return manifest

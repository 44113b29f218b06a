"""What `taskseed preview` shows: a unit's first seeds, their rendered prompts, what a
run made of them (grouped by seed), and an estimate of the full run.

The seeds are read by the pipeline's own seeds and normalize stages, so they are the
seeds a run with `--limit-seeds N` takes. The run itself is a real `run_plan` into a
temporary folder (the caller's), so a preview never touches a real run's ledger or
output; this module reads back what it wrote.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import msgspec

from taskseed.contract.plan import Plan, PlanPrompt, Unit
from taskseed.contract.records import SeedRecord
from taskseed.runtime.calls import EngineCalls
from taskseed.runtime.engines.base import Message
from taskseed.runtime.options import RunOptions
from taskseed.runtime.prompts import item_dict, render
from taskseed.runtime.results import Reject
from taskseed.runtime.seeds import SourceRow, source_rows
from taskseed.runtime.stages.base import Funnel, UnitContext
from taskseed.runtime.stages.normalize import Normalize
from taskseed.runtime.stages.seeds import RawSlice, Seeds


@dataclass
class Prompt:
    """One prompt of a unit, rendered for a seed (or why it could not be)."""

    stage: str  # generate, verify, judge, enrich
    step: str  # similar_question, verify, judge, answer_enriched, context_enriched
    messages: tuple[Message, ...] = ()
    error: str | None = None
    note: str = ""


@dataclass
class SeedView:
    """A seed and what became of it: its prompts, or its items with their verdicts."""

    seed: dict[str, Any]
    prompts: list[Prompt] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)


def first_seeds(
    plan: Plan, unit: Unit, options: RunOptions, n: int
) -> tuple[list[SeedRecord], list[Reject]]:
    """The unit's first `n` seeds, as a run with `--limit-seeds n` takes them, and the
    rows among them that did not become seeds (unreadable, unmappable)."""
    # The seeds and normalize stages read rows and map them; neither calls the engine.
    context = UnitContext(plan, unit, options, cast(EngineCalls, None), "")
    stage = Seeds(context)
    rows = source_rows(plan, unit, use_fixtures=options.use_fixtures, root=options.root)
    funnel = Funnel(unit.id)
    selected: list[SourceRow] = []
    while len(selected) < n:
        chunk = list(itertools.islice(rows, n))  # more if `seeds.where` drops some
        if not chunk:
            break
        more, _ = stage.select(RawSlice(0, chunk, last=False), funnel, n - len(selected))
        selected.extend(more)
    seeds = Normalize(context).run(selected, funnel, set())
    return seeds, funnel.rejects


def render_prompts(plan: Plan, unit: Unit, seed: SeedRecord) -> list[Prompt]:
    """Every prompt of the unit for this seed. Verification and enrichments of generated
    items take an item: they are rendered with the seed in its place and say so."""
    context = UnitContext(plan, unit, RunOptions(), cast(EngineCalls, None), "")
    as_item = item_dict(context.seed_item(seed))
    prompts: list[Prompt] = []

    def add(
        stage: str,
        step: str,
        prompt: PlanPrompt,
        item: Any,
        n: int,
        note: str,
        scores: dict[str, Any] | None = None,
    ) -> None:
        try:
            messages = render(plan, unit, prompt, seed=seed, item=item, n=n, scores=scores)
        except Exception as exc:  # the template's own failure, as a run would reject it
            prompts.append(Prompt(stage, step, error=f"{type(exc).__name__}: {exc}", note=note))
            return
        prompts.append(Prompt(stage, step, messages, note=note))

    steps = {step.kind: step for step in unit.steps}
    similar = steps.get("similar_question")
    if similar is not None:
        add("generate", "similar_question", similar.prompt, None, similar.per_seed, "")
    stand_in = "rendered with the seed in place of a generated item"
    verify, fmt = unit.verify, unit.format
    if not verify.enabled:
        prompts.append(Prompt("verify", "verify", note="verification is disabled"))
    elif fmt.type == "code":
        prompts.append(Prompt("verify", "verify", note="code: its tests run in the sandbox"))
    elif verify.prompt is None or fmt.type == "free_form":
        prompts.append(Prompt("verify", "verify", note=f"no vote for {fmt.type} items"))
    else:
        add("verify", "verify", verify.prompt, as_item, verify.k, stand_in)
    judge = unit.judge
    if judge.enabled and judge.prompt is not None:
        scores = {"criteria": judge.criteria, "min": judge.min, "max": judge.max}
        add("judge", "judge", judge.prompt, as_item, judge.k, stand_in, scores)
    for kind in ("answer_enriched", "context_enriched"):
        step = steps.get(kind)
        if step is None:
            continue
        from_seed = step.inputs != "similar_question"
        note = "the seed is its input" if from_seed else stand_in
        add("enrich", kind, step.prompt, as_item, step.per_seed, note)
    return prompts


def read_jsonl(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("part-*.jsonl")):
        rows.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return rows


def verdicts(
    out: Path,
) -> tuple[dict[tuple[str, str], list[dict[str, Any]]], list[dict[str, Any]]]:
    """What a run into `out` made, by (unit, seed ID): every record (kept) and every
    reject (the stage and reason), each as `{id, unit, kind, verdict, stage, reason,
    item}`; and the rejects that belong to no seed (rows not read or not mapped)."""
    by_seed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    unseeded: list[dict[str, Any]] = []
    for record in read_jsonl(out / "data"):
        unit = f"{record['task']}/{record['subtask']}"
        by_seed.setdefault((unit, record["seed_id"]), []).append(
            {
                "id": record["id"],
                "unit": unit,
                "kind": record["kind"],
                "verdict": "kept",
                "stage": None,
                "reason": verification_note(record.get("verification")),
                "item": record,
            }
        )
    for reject in read_jsonl(out / "rejects"):
        view = {
            "id": reject["id"],
            "unit": reject["unit"],
            "kind": reject.get("kind"),
            "verdict": "rejected",
            "stage": reject["stage"],
            "reason": reject["reason"],
            "item": reject.get("item"),
            "source": reject.get("source"),
        }
        seed_id = reject.get("seed_id")
        if seed_id is None or reject["stage"] in ("seeds", "normalize"):
            unseeded.append(view)
        else:
            by_seed.setdefault((reject["unit"], seed_id), []).append(view)
    order = {"similar_question": 0, "answer_enriched": 1, "context_enriched": 2}
    for items in by_seed.values():
        items.sort(key=lambda v: (order.get(v["kind"] or "", 3), v["id"]))
    return by_seed, unseeded


def verification_note(verification: dict[str, Any] | None) -> str:
    """How a kept item was verified: the votes, or why it was not voted on."""
    if not verification:
        return ""
    if verification.get("status") != "verified":
        return f"unverified ({verification.get('method') or 'no check'})"
    votes = verification.get("votes") or {}
    if not votes:
        return f"verified ({verification.get('method') or 'check'})"
    shown = ", ".join(f"{key}: {count}" for key, count in sorted(votes.items(), key=_by_votes))
    agreement = verification.get("agreement", 0.0)
    return f"verified: {agreement:.0%} of {verification.get('k')} votes ({shown})"


def _by_votes(entry: tuple[str, int]) -> tuple[int, str]:
    return -entry[1], entry[0]


def seed_dict(seed: SeedRecord) -> dict[str, Any]:
    return cast(dict[str, Any], msgspec.to_builtins(seed))


# ------------------------------------------------------------------ the estimate


@dataclass
class FullSize:
    """The seed count of a unit's full run, and where it comes from."""

    seeds: int | None
    source: str


def full_size(plan: Plan, unit: Unit, options: RunOptions) -> FullSize:
    """Rows a full run of the unit reads: the fixture's with `--fixtures`, the local seed
    files' (counted), or, for a Hugging Face dataset, whose row count neither the plan
    nor the spec carries, the fixture's as a stand-in."""
    fixture = plan.fixtures.get(unit.seeds.fixture) if unit.seeds.fixture else None
    where = " (before seeds.where)" if unit.seeds.where else ""
    if options.use_fixtures:
        rows = len(fixture.rows) if fixture is not None else 0
        return FullSize(rows, f"fixture rows{where}")
    if unit.seeds.files:
        count = sum(1 for _ in source_rows(plan, unit, use_fixtures=False, root=options.root))
        return FullSize(count, f"rows of the seed files{where}")
    if fixture is not None:
        return FullSize(
            len(fixture.rows),
            f"fixture rows: the plan does not carry {unit.seeds.dataset}'s row count{where}",
        )
    return FullSize(None, "unknown: no fixture, and the plan carries no row count")


def estimate(
    units: Sequence[Unit],
    manifest: dict[str, Any],
    sizes: dict[str, FullSize],
) -> dict[str, Any]:
    """The full run's requests and tokens per unit and stage: the preview's counts per
    seed (`manifest["units"][id]["stages"]` over the seeds it read) times the full seed
    count; and its wall time at the preview's measured rate (requests per second)."""
    per_unit: dict[str, Any] = {}
    requests = 0
    preview_requests = 0
    for unit in units:
        info = manifest["units"].get(unit.id, {})
        read = info.get("counts", {}).get("seeds", 0)
        size = sizes[unit.id]
        scale = None if size.seeds is None or read == 0 else size.seeds / read
        stages = {}
        for stage, use in info.get("stages", {}).items():
            preview_requests += use.get("requests", 0)
            stages[stage] = {
                "preview": dict(use),
                "full": None if scale is None else {k: round(v * scale) for k, v in use.items()},
            }
            if scale is not None:
                requests += round(use.get("requests", 0) * scale)
        per_unit[unit.id] = {
            "unreached": [s for s in engine_stages(unit) if s not in stages],
            "preview_seeds": read,
            "full_seeds": size.seeds,
            "full_seeds_source": size.source,
            "scale": scale,
            "stages": stages,
        }
    seconds = float(manifest.get("timings", {}).get("seconds", 0.0))
    rate = preview_requests / seconds if seconds > 0 else None
    return {
        "units": per_unit,
        "preview_seconds": round(seconds, 3),
        "requests_per_second": None if rate is None else round(rate, 3),
        "full_requests": requests,
        "full_seconds": None if not rate else round(requests / rate, 1),
    }


def engine_stages(unit: Unit) -> list[str]:
    """The stages of the unit that ask the engine, in pipeline order."""
    kinds = {step.kind for step in unit.steps}
    votes = unit.verify.enabled and unit.verify.prompt is not None
    votes = votes and unit.format.type not in ("code", "free_form")
    wanted = {
        "generate": "similar_question" in kinds,
        "verify": votes and "similar_question" in kinds,
        "enrich": bool(kinds & {"answer_enriched", "context_enriched"}),
    }
    return [stage for stage, used in wanted.items() if used]

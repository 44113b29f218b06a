"""A prompt that fails to render at run time (the sandbox refuses, the data breaks it,
a name is undefined) is a reject with the reason, never an aborted run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
from rich.console import Console

from taskseed.contract.plan import Plan, PlanTemplate
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.options import RunOptions
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan
from tests.runtime import scripted
from tests.runtime.catalog import compile_catalog
from tests.runtime.funnel import check_funnel, read_jsonl


def breaking(plan: Plan, kind: str, trap: str) -> Plan:
    """The plan with the user template of `kind` ("verify" or a data kind) prefixed by
    `trap`."""
    unit = plan.units[0]
    prompt = (
        unit.verify.prompt
        if kind == "verify"
        else next(s.prompt for s in unit.steps if s.kind == kind)
    )
    assert prompt is not None
    template = plan.templates[prompt.user]
    templates = dict(plan.templates)
    templates[prompt.user] = PlanTemplate(text=trap + template.text, origin=template.origin)
    return msgspec.structs.replace(plan, templates=templates)


def test_render_failures_are_rejects(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    plan = breaking(
        plan,
        "similar_question",
        '{% if seed.id == "q1" %}{{ "".__class__.__mro__ }}{% endif %}',  # the sandbox says no
    )
    plan = breaking(plan, "verify", '{% if item.seed_id == "q2" %}{{ 1 // 0 }}{% endif %}')
    plan = breaking(
        plan, "context_enriched", '{% if item.seed_id == "q3" %}{{ item.nope }}{% endif %}'
    )
    out = tmp_path / "out"
    config = RunConfig(out=out, options=RunOptions(use_fixtures=True, backoff_s=0.0))
    progress = StageProgress(Console(quiet=True), enabled=False, units=1)
    asyncio.run(run_plan(plan, plan.units, ScriptedEngine(scripted.script), config, progress))
    check_funnel(out)
    failed = [r for r in read_jsonl(out / "rejects") if "prompt template failed" in r["reason"]]
    by_seed = {(r["seed_id"], r["stage"]): r["reason"] for r in failed}
    assert by_seed[("q1", "generate")].startswith("the prompt template failed: SecurityError")
    assert by_seed[("q2", "verify")] == (
        "the prompt template failed: ZeroDivisionError: integer division or modulo by zero"
    )
    assert by_seed[("q3", "enrich")].startswith("the prompt template failed: UndefinedError")
    assert len([r for r in failed if r["seed_id"] == "q1"]) == 2  # one per sample asked for
    written = {(r["seed_id"], r["kind"]) for r in read_jsonl(out / "data")}
    assert ("q0", "similar_question") in written and ("q4", "context_enriched") in written
    assert not any(seed == "q1" for seed, _ in written)
    assert ("q3", "context_enriched") not in written and ("q3", "similar_question") in written

"""`taskseed plan show --unit`: every resolved setting of one unit, under the stage that
uses it first (the stages `taskseed plan diff` names, `compiler/plan_diff.py`).

The settings are the unit's plan fields as dotted paths, all of them: sampling of each
request kind, caps, verification, filters, the language, dedup and decontamination with
their bands and rows. Templates and the fixture are shown by their origin, not by key.
"""

from __future__ import annotations

import json
from typing import Any

from taskseed.compiler.plan_diff import STAGES, stage_of, unit_views
from taskseed.contract.plan import Plan, Unit

RUN_CAPS = (
    "`taskseed run --max-tokens N` lowers every request's max_tokens to at most N "
    "(quick runs); nothing else changes these settings at run time"
)


def unit_settings(plan: Plan, unit: Unit) -> dict[str, dict[str, Any]]:
    """Stage -> {setting path: value}, in the stages' order; templates as
    `key (origin)`, the fixture as its origin and row count."""
    flat, templates, fixture = unit_views(plan, unit, empty=True)
    prompts = [f"steps.{step.kind}.prompt" for step in unit.steps] + ["verify.prompt"]
    if unit.judge.enabled:
        prompts.append("judge.prompt")
    for path in (f"{where}.{role}" for where in prompts for role in ("user", "system")):
        key = templates.get(path)
        template = plan.templates.get(key) if key is not None else None
        flat[path] = f"{key} ({template.origin})" if template is not None else key
    if fixture is not None:
        flat["fixture"] = f"{fixture.origin} ({len(fixture.rows)} rows)"
    by_stage: dict[str, dict[str, Any]] = {name: {} for name, _ in STAGES}
    for path in sorted(flat):
        by_stage[stage_of(path)][path] = flat[path]
    return {stage: settings for stage, settings in by_stage.items() if settings}


def format_unit_settings(plan: Plan, unit: Unit) -> str:
    stages = unit_settings(plan, unit)
    width = max(len(path) for settings in stages.values() for path in settings)
    lines = [f"unit {unit.id} ({unit.origin}), fingerprint {unit.fingerprint}"]
    for stage, settings in stages.items():
        lines.append("")
        lines.append(f"{stage}:")
        for path, value in settings.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines.append(f"  {path:<{width}}  {shown}")
    lines += ["", RUN_CAPS]
    return "\n".join(lines) + "\n"

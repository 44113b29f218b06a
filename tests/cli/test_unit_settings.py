"""`taskseed plan show --unit`: every resolved setting a stage uses, by stage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from taskseed.cli.unit_settings import unit_settings
from taskseed.compiler.driver import compile_paths
from taskseed.contract.plan import Plan

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests/golden/cases"


def _plan(case: str) -> Plan:
    result = compile_paths([GOLDEN / case / "taskspecs"], root=GOLDEN / case)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    return result.plan


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_leaves(inner, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: value}


@pytest.mark.parametrize("case", ["quality_filters", "judge"])
def test_every_field_of_the_unit_is_shown_under_a_stage(case: str) -> None:
    plan = _plan(case)
    for unit in plan.units:
        shown = {
            p: v for settings in unit_settings(plan, unit).values() for p, v in settings.items()
        }
        data = msgspec.to_builtins(unit)
        data.pop("fingerprint")
        steps = {step.pop("kind"): step for step in data.pop("steps")}
        expected = _leaves({**data, "steps": steps})
        fixture_key = expected.pop("seeds.fixture")
        assert shown.pop("fixture").startswith(plan.fixtures[fixture_key].origin)
        for path, value in expected.items():
            if path.endswith((".prompt.user", ".prompt.system")) and value is not None:
                assert shown[path] == f"{value} ({plan.templates[value].origin})"
            else:
                assert shown[path] == value, path
        assert shown.keys() == expected.keys()


def test_the_settings_a_stage_uses_are_under_it() -> None:
    plan = _plan("clean_minimal")
    unit = plan.units[0]
    stages = unit_settings(plan, unit)
    sq = unit.steps[0]
    assert sq.kind == "similar_question"
    assert stages["generate"]["steps.similar_question.sampling.temperature"] == 0.8
    assert stages["generate"]["steps.similar_question.sampling.max_tokens"] == 384
    assert stages["verify"]["verify.k"] == unit.verify.k
    assert stages["verify"]["verify.sampling.max_tokens"] == 48
    assert stages["dedup"]["dedup.bands"] * stages["dedup"]["dedup.rows"] <= 128
    assert (
        stages["decontaminate"]["decontaminate.minhash.bands"] == unit.decontaminate.minhash.bands
    )
    assert stages["decontaminate"]["decontaminate.minhash.rows"] == unit.decontaminate.minhash.rows
    assert "filters.language.code" in stages["filter"]


def test_plan_show_unit_prints_them(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    case = GOLDEN / "clean_minimal"
    compiled = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", "compile", "taskspecs", "-o", str(out)],
        cwd=case,
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    unit_id = json.loads(out.read_text())["units"][0]["id"]
    proc = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", "plan", "show", str(out), "--unit", unit_id],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    stages = [line[:-1] for line in lines if line.endswith(":") and not line.startswith(" ")]
    assert stages[:2] == ["seeds", "generate"] and "dedup" in stages
    setting = next(line.split() for line in lines if "dedup.rows" in line)
    assert setting[0] == "dedup.rows" and int(setting[1]) >= 1
    assert "--max-tokens" in lines[-1]


def test_the_judge_settings_are_under_the_judge() -> None:
    plan = _plan("judge")
    judged = unit_settings(plan, plan.unit("toy/judged"))["judge"]
    assert judged["judge.k"] == 2 and judged["judge.criteria"] == ["correctness", "clarity"]
    assert judged["judge.prompt.user"].endswith("(taskspecs/toy.yaml:37)")
    assert unit_settings(plan, plan.unit("toy/unjudged"))["judge"]["judge.enabled"] is False

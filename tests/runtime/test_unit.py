"""A unit in slices: what fails in a slice never loses the slice's other items or a
committed slice, and a resumed unit starts at its first slice not committed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from taskseed.contract.plan import Plan
from taskseed.runtime.engines.base import ChatRequest, RequestRefused
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.options import RunOptions
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan
from taskseed.runtime.stages.verify import Verify
from taskseed.runtime.staging import Staging
from tests.runtime import scripted
from tests.runtime.catalog import compile_catalog, quiz_rows
from tests.runtime.funnel import check_funnel, read_jsonl
from tests.runtime.test_resume import files


def run(plan: Plan, out: Path, engine: ScriptedEngine, **options: Any) -> dict[str, Any]:
    config = RunConfig(
        out=out, options=RunOptions(use_fixtures=True, backoff_s=0.0, retries=1, **options)
    )
    progress = StageProgress(Console(quiet=True), enabled=False, units=1)
    return asyncio.run(run_plan(plan, plan.units, engine, config, progress))


def test_a_refused_request_loses_nothing_else_of_its_slice(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path, rows=quiz_rows(6))

    def refusing(request: ChatRequest) -> list[str]:
        if "quantity number 3 " in request.messages[-1].content:
            raise RequestRefused("the prompt is too long for this engine")
        return scripted.script(request)

    manifest = run(plan, tmp_path / "out", ScriptedEngine(refusing), slice_size=2)
    check_funnel(tmp_path / "out")
    assert manifest["units"]["quiz/default"]["slices"] == 3
    refused = [r for r in read_jsonl(tmp_path / "out/rejects") if r["seed_id"] == "q3"]
    assert refused and all(r["reason"].startswith("engine refused") for r in refused)
    # q2 shares q3's slice: its records are all there, as are the other slices'
    seeds = {r["seed_id"] for r in read_jsonl(tmp_path / "out/data")}
    assert seeds == {"q0", "q1", "q2", "q4", "q5"}


def test_a_failed_slice_keeps_committed_slices_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = compile_catalog(tmp_path, rows=quiz_rows(8))
    clean = tmp_path / "clean"
    run(plan, clean, ScriptedEngine(scripted.script), slice_size=2)

    verify = Verify.run

    async def broken(self: Verify, item: Any, current: Any) -> Any:
        if item.seed_id == "q5":
            raise RuntimeError("a bug in a stage")
        return await verify(self, item, current)

    monkeypatch.setattr(Verify, "run", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="a bug in a stage"):
        run(plan, out, ScriptedEngine(scripted.script), slice_size=2, slices_in_flight=1)
    committed = Staging(out).committed("quiz/default", _key(out))
    assert sorted(committed) == [0, 1]  # q0-q3; slice 2 (q4, q5) failed, 3 never started

    monkeypatch.setattr(Verify, "run", verify)
    engine = ScriptedEngine(scripted.script)
    manifest = run(plan, out, engine, slice_size=2)
    assert manifest["run"]["resumed_slices"] == 2
    assert files(out) == files(clean)
    # the committed slices cost nothing; slice 2's answers come back from the ledger
    prompts = [c.messages[-1].content for c in engine.calls]
    assert not any(f"quantity number {i} " in p for p in prompts for i in range(5))
    assert manifest["tokens"]["replayed_this_run"] > 0


def _key(out: Path) -> str:
    """The run key the unit's first slice was committed under."""
    folder = Staging(out).unit_folder("quiz/default")
    return str(json.loads((folder / "slice-000000/meta.json").read_text())["run_key"])


def test_limit_seeds_across_slices(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path, rows=quiz_rows(9))
    manifest = run(
        plan, tmp_path / "out", ScriptedEngine(scripted.script), slice_size=2, limit_seeds=5
    )
    unit = manifest["units"]["quiz/default"]
    assert unit["counts"]["seeds"] == 5 and unit["slices"] == 3
    assert {r["seed_id"] for r in read_jsonl(tmp_path / "out/data")} <= {f"q{i}" for i in range(5)}

"""`--target-records N`: a unit draws seeds, slice by slice, until its slices (in order)
have kept N records or the seeds run out; the result does not depend on which slice
finished first, and a killed run resumes to the same files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from rich.console import Console

from taskseed.contract.plan import Plan
from taskseed.runtime.engines.base import ChatRequest, Completion
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.options import RunOptions, slice_size_for
from taskseed.runtime.progress import StageProgress, funnel_table
from taskseed.runtime.run import RunConfig, run_plan
from taskseed.runtime.staging import Staging
from tests.runtime import scripted
from tests.runtime.catalog import compile_catalog, quiz_rows, write_catalog
from tests.runtime.funnel import check_funnel, read_jsonl
from tests.runtime.test_resume import REPO, command, files, kill_and_resume, ledger_keys

UNIT = "quiz/default"


class SlowFirstSeeds(ScriptedEngine):
    """Requests about the first seeds answer last, the others after a delay that varies
    with the prompt, so slices finish out of order."""

    def __init__(self, slow: tuple[str, ...], delay_s: float) -> None:
        super().__init__(scripted.script, concurrency=16)
        self.slow = slow
        self.base_delay = delay_s

    async def generate(self, request: ChatRequest) -> Completion:
        prompt = request.messages[-1].content
        if any(marker in prompt for marker in self.slow):
            await asyncio.sleep(self.base_delay * 10)
        else:
            digest = hashlib.sha256(prompt.encode()).digest()
            await asyncio.sleep(self.base_delay * digest[0] / 255)
        return await super().generate(request)


def run(plan: Plan, out: Path, engine: ScriptedEngine, **options: Any) -> dict[str, Any]:
    config = RunConfig(
        out=out,
        options=RunOptions(use_fixtures=True, backoff_s=0.0, retries=1, **options),
        concurrency=32,
    )
    progress = StageProgress(Console(quiet=True), enabled=False, units=1)
    return asyncio.run(run_plan(plan, plan.units, engine, config, progress))


def used_slice_kept(out: Path, slices: int) -> list[int]:
    """Records kept by each slice the result is made of, from their meta files."""
    folder = Staging(out).unit_folder(UNIT)
    kept = []
    for index in range(slices):
        meta = json.loads((folder / f"slice-{index:06d}/meta.json").read_text())
        kept.append(sum(meta["kinds"].values()))
    return kept


def test_target_reached_stops_drawing_seeds(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path, rows=quiz_rows(40))
    out = tmp_path / "out"
    manifest = run(plan, out, ScriptedEngine(scripted.script), slice_size=2, target_records=15)
    check_funnel(out)
    unit = manifest["units"][UNIT]
    target = unit["target"]
    assert target["records"] == 15 and target["reached"]
    assert manifest["run"]["target_records"] == 15
    # The slices in the result are the shortest prefix that kept 15 records ...
    kept = used_slice_kept(out, unit["slices"])
    assert sum(kept) == target["kept"] >= 15 > sum(kept[:-1])
    # ... and only their seeds were read and counted: far fewer than the 40 there are.
    assert target["seeds"] == unit["counts"]["seeds"] == 2 * unit["slices"] < 40
    seeds = {r["seed_id"] for r in read_jsonl(out / "data")}
    assert seeds <= {f"q{i}" for i in range(2 * unit["slices"])}
    assert unit["counts"]["verified"] + unit["counts"]["enriched"] == target["kept"]
    # The funnel table says how many records of the target were kept.
    console = Console(width=200, record=True)
    console.print(funnel_table(manifest["units"]))
    assert f"{target['kept']}/15" in console.export_text()

    # Run again: the result is already committed, nothing is asked of the engine.
    again = ScriptedEngine(scripted.script)
    before = files(out)
    manifest = run(plan, out, again, slice_size=2, target_records=15)
    assert again.calls == [] and files(out) == before
    assert manifest["units"][UNIT]["target"] == target


def test_seeds_run_out_before_the_target(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path, rows=quiz_rows(3))
    out = tmp_path / "out"
    manifest = run(plan, out, ScriptedEngine(scripted.script), slice_size=2, target_records=1000)
    check_funnel(out)
    target = manifest["units"][UNIT]["target"]
    assert target["reached"] is False
    assert target["seeds"] == 3 and target["records"] == 1000
    assert 0 < target["kept"] < 1000
    console = Console(width=200, record=True)
    console.print(funnel_table(manifest["units"]))
    assert f"{target['kept']}/1000 (1 short)" in console.export_text()


def test_the_result_does_not_depend_on_which_slice_finishes_first(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path, rows=quiz_rows(24))
    # One slice at a time, in order.
    ordered = tmp_path / "ordered"
    first = run(
        plan,
        ordered,
        ScriptedEngine(scripted.script),
        slice_size=3,
        target_records=10,
        slices_in_flight=1,
    )
    # Two in flight, the first slice's seeds answered last: later slices commit first
    # (and are left out of the result), and the order of the others varies.
    racing = tmp_path / "racing"
    engine = SlowFirstSeeds(("number 0 ", "number 1 ", "number 2 "), 0.02)
    second = run(plan, racing, engine, slice_size=3, target_records=10, slices_in_flight=2)
    assert files(racing) == files(ordered)
    assert second["counts"] == first["counts"]
    assert second["units"][UNIT]["target"] == first["units"][UNIT]["target"]
    # The racing run did commit a slice after the result's last one, which finalize
    # left out.
    used = first["units"][UNIT]["slices"]
    staged = sorted(p.name for p in Staging(racing).unit_folder(UNIT).glob("slice-*"))
    assert len(staged) > used
    check_funnel(racing)


def test_default_slice_size_follows_the_target() -> None:
    assert slice_size_for(None) == 2_000
    assert slice_size_for(50) == 50
    assert slice_size_for(10**6) == 2_000


def test_kill_and_resume_with_a_target(tmp_path: Path) -> None:
    write_catalog(tmp_path, rows=quiz_rows(36))
    log = tmp_path / "sent.log"
    env = {
        **os.environ,
        "TASKSEED_INNER_ENGINE": "tests.runtime.scripted:make",
        "TASKSEED_TEST_DELAY": "0.03",
        "TASKSEED_SEND_LOG": str(log),
    }

    def cmd_for(out: Path) -> list[str]:
        catalog = str(tmp_path / "taskspecs")
        extra = ("--root", str(tmp_path), "--slice-size", "3", "--target-records", "40")
        return command(catalog, out, *extra)

    reference = tmp_path / "reference"
    clean = subprocess.run(
        cmd_for(reference),
        cwd=REPO,
        env={**env, "TASKSEED_RUN_TAG": "ref"},
        capture_output=True,
        timeout=300,
    )
    assert clean.returncode == 0, clean.stderr.decode()
    expected = json.loads((reference / "manifest.json").read_text())["units"][UNIT]
    assert expected["target"]["reached"] and expected["target"]["seeds"] < 36
    total = len(ledger_keys(reference))
    manifest = kill_and_resume(
        cmd_for, env, tmp_path / "killed", reference, [total // 3, 2 * total // 3], 300, log
    )
    units = manifest["units"]
    assert isinstance(units, dict)
    assert units[UNIT]["target"] == expected["target"]

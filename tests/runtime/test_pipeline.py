"""The runtime end to end on the scripted engine: funnel, rejects, retries, dedup, resume."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from taskseed.contract.plan import Plan
from taskseed.runtime.engines.base import ChatRequest, EngineError
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.options import RunOptions
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan
from tests.runtime import scripted
from tests.runtime.catalog import compile_catalog
from tests.runtime.funnel import check_funnel, read_jsonl


def run(
    plan: Plan,
    out: Path,
    script: Callable[[ChatRequest], list[str]] = scripted.script,
    **options: Any,
) -> tuple[dict[str, Any], ScriptedEngine]:
    engine = ScriptedEngine(script)
    config = RunConfig(out=out, options=RunOptions(use_fixtures=True, backoff_s=0.0, **options))
    progress = StageProgress(Console(quiet=True), enabled=False, units=len(plan.units))
    manifest = asyncio.run(run_plan(plan, plan.units, engine, config, progress))
    return manifest, engine


def test_full_run_writes_verified_enriched_records(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    manifest, _ = run(plan, tmp_path / "out")
    check_funnel(tmp_path / "out")
    records = read_jsonl(tmp_path / "out/data")
    kinds = {r["kind"] for r in records}
    assert kinds == {"similar_question", "answer_enriched", "context_enriched"}
    for record in records:
        assert record["answer"] in record["choices"]
        assert record["choices"][record["answer_index"]] == record["answer"]
        assert record["verification"]["status"] == "verified"
        assert record["verification"]["agreement"] >= 0.6
        if record["kind"] != "similar_question":
            assert record["parent_id"] in {r["id"] for r in records}
    assert manifest["counts"]["written"] == len(records) > 0
    assert (tmp_path / "out/plan.json").is_file() and (tmp_path / "out/ledger.sqlite").is_file()
    # every ledger connection is closed: SQLite removes its WAL files with the last one
    assert sorted(p.name for p in (tmp_path / "out").glob("ledger.sqlite*")) == ["ledger.sqlite"]
    # engine use per stage adds up to the requests and tokens of the whole run
    stages = manifest["stages"]
    assert set(stages) == {"generate", "verify", "enrich"}
    units = manifest["units"].values()
    sent = sum(u["requests_sent"] + u["requests_replayed"] for u in units)
    assert sum(s["requests"] for s in stages.values()) == sent > 0
    prompt = sum(u["prompt_tokens"] for u in units)
    assert sum(s["prompt_tokens"] for s in stages.values()) == prompt


BROKEN = [
    '{"question": "Which',  # truncated
    '{"question": 5, "choices": ["a", "b", "c"], "answer": "a"}',  # wrong type (a number is text)
    '{"choices": ["a", "b", "c"], "answer": "a"}',  # missing field
    '{"question": "", "choices": ["a", "b", "c"], "answer": "a"}',  # empty string
    json.dumps({"question": "Q" * 70_000, "choices": ["a", "b", "c"], "answer": "a"}),  # huge
    '{"question": "Which tool?", "choices": ["a", "b", "c"], "answer": "zzz"}',  # not an option
    '{"question": "Which tool?", "choices": ["a", "b", "c"], "answer": ["a"]}',  # wrong type
    "not json at all",
    "[]",
]


def broken_script() -> Callable[[ChatRequest], list[str]]:
    """Similar questions come back broken, each kind of breakage in turn."""
    served = iter(range(10**6))

    def script(request: ChatRequest) -> list[str]:
        if "choices" in (request.json_schema or {}).get("properties", {}):
            return [BROKEN[next(served) % len(BROKEN)] for _ in range(request.n)]
        return scripted.script(request)

    return script


def test_malformed_engine_output_becomes_rejects(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    manifest, _ = run(plan, tmp_path / "out", broken_script())
    check_funnel(tmp_path / "out")
    rejects = read_jsonl(tmp_path / "out/rejects")
    reasons = " | ".join(r["reason"] for r in rejects if r["stage"] == "parse")
    for fragment in (
        "Unterminated string",
        "missing field",
        "empty `question`",
        "characters long",
        "not among the options",
        "not text",
        "invalid JSON",
        "expected a JSON",
    ):
        assert fragment in reasons
    # 10 samples over the 9 kinds in turn: only the number-as-text one (served once) parses
    assert manifest["counts"]["generated"] == 10
    assert manifest["counts"]["parsed"] == 1


def test_failing_requests_are_retried_then_rejected(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    attempts: dict[str, int] = {}

    def flaky(request: ChatRequest) -> list[str]:
        key = request.messages[-1].content
        attempts[key] = attempts.get(key, 0) + 1
        if "q3" in key or "instrument measures quantity number 3" in key:
            raise EngineError("always down for this seed")
        if attempts[key] == 1:
            raise EngineError("transient")
        return scripted.script(request)

    run(plan, tmp_path / "out", flaky, retries=2)
    check_funnel(tmp_path / "out")
    rejects = read_jsonl(tmp_path / "out/rejects")
    failed = [r for r in rejects if r["stage"] == "generate"]
    assert len(failed) == 2 and all("after 3 attempts" in r["reason"] for r in failed)
    assert read_jsonl(tmp_path / "out/data")  # the others went through after one retry


def test_timeouts_are_retried(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    engine_calls = {"n": 0}

    class Slow(ScriptedEngine):
        async def generate(self, request: ChatRequest):  # type: ignore[no-untyped-def]
            engine_calls["n"] += 1
            if engine_calls["n"] == 1:
                await asyncio.sleep(5)
            return await super().generate(request)

    config = RunConfig(
        out=tmp_path / "out",
        options=RunOptions(use_fixtures=True, timeout_s=0.2, backoff_s=0.0, limit_seeds=1),
    )
    progress = StageProgress(Console(quiet=True), enabled=False, units=1)
    asyncio.run(run_plan(plan, plan.units, Slow(scripted.script), config, progress))
    assert not [r for r in read_jsonl(tmp_path / "out/rejects") if r["stage"] == "generate"]


def test_copies_of_seeds_are_dropped(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)

    def copycat(request: ChatRequest) -> list[str]:
        props = (request.json_schema or {}).get("properties", {})
        if "choices" in props:
            seed_question = request.messages[-1].content.split("Seed: ", 1)[1].split(" | ")[0]
            choices = ["x one", "y two", "z three"]
            return [
                json.dumps({"question": seed_question, "choices": choices, "answer": "x one"})
            ] * request.n
        return scripted.script(request)

    run(plan, tmp_path / "out", copycat)
    check_funnel(tmp_path / "out")
    dedup = [r for r in read_jsonl(tmp_path / "out/rejects") if r["stage"] == "dedup"]
    assert dedup and all(
        "near-duplicate of seed" in r["reason"] for r in dedup if r["kind"] == "similar_question"
    )
    assert not [r for r in read_jsonl(tmp_path / "out/data") if r["kind"] == "similar_question"]


def test_second_run_sends_nothing_and_writes_the_same(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    out = tmp_path / "out"
    first, engine = run(plan, out)
    data = {p.name: p.read_bytes() for p in (out / "data").rglob("part-*")}
    assert first["tokens"]["sent_this_run"] == len(engine.calls) > 0
    second, engine2 = run(plan, out)
    assert engine2.calls == [] and second["run"]["resumed_units"] == 1
    assert {p.name: p.read_bytes() for p in (out / "data").rglob("part-*")} == data
    # a unit whose staged slices are lost runs again, entirely from the ledger
    for staged in (out / ".work/units").iterdir():
        shutil.rmtree(staged)
    third, engine3 = run(plan, out)
    assert engine3.calls == [] and third["tokens"]["replayed_this_run"] > 0
    assert {p.name: p.read_bytes() for p in (out / "data").rglob("part-*")} == data


def test_parquet_output(tmp_path: Path) -> None:
    import polars as pl

    plan = compile_catalog(tmp_path)
    engine = ScriptedEngine(scripted.script)
    config = RunConfig(out=tmp_path / "out", options=RunOptions(use_fixtures=True), fmt="parquet")
    progress = StageProgress(Console(quiet=True), enabled=False, units=1)
    manifest = asyncio.run(run_plan(plan, plan.units, engine, config, progress))
    frames = [pl.read_parquet(tmp_path / "out" / f["path"]) for f in manifest["files"]]
    assert sum(f.height for f in frames) == manifest["counts"]["written"] > 0


@pytest.mark.parametrize("shard_size", [1, 3])
def test_shards(tmp_path: Path, shard_size: int) -> None:
    plan = compile_catalog(tmp_path)
    engine = ScriptedEngine(scripted.script)
    config = RunConfig(
        out=tmp_path / "out", options=RunOptions(use_fixtures=True), shard_size=shard_size
    )
    progress = StageProgress(Console(quiet=True), enabled=False, units=1)
    manifest = asyncio.run(run_plan(plan, plan.units, engine, config, progress))
    assert all(f["records"] <= shard_size for f in manifest["files"])
    assert len(manifest["files"]) >= manifest["counts"]["written"] // shard_size

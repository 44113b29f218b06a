"""A real output folder for tests of what a run leaves behind (card, report).

The repository's catalog, compiled; two starter tasks (ARC, multiple choice, and
GSM8K, numeric: the generative family) run from their fixture rows through the
current runtime on the scripted engine, whose numeric questions all answer 42 so
that the verifier (which answers 42) keeps some of them.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any

from rich.console import Console

from taskseed.compiler.driver import compile_paths
from taskseed.contract.plan import Plan
from taskseed.runtime.engines.base import ChatRequest
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan, select_units
from taskseed.runtime.unit import RunOptions
from taskseed.runtime.writer import Format
from tests.conftest import CATALOG, REPO
from tests.runtime import scripted

TASKS = ("arc/easy", "gsm8k")


@cache
def catalog_plan() -> Plan:
    result = compile_paths([CATALOG], root=REPO)
    assert result.plan is not None
    return result.plan


def script(request: ChatRequest) -> list[str]:
    answers = scripted.script(request)
    props = (request.json_schema or {}).get("properties", {})
    if "rationale" in props and "question" in props:  # a similar numeric question
        return [json.dumps({**json.loads(a), "answer": "42"}) for a in answers]
    return answers


def sample_run(out: Path, *, fmt: Format = "jsonl", shard_size: int = 10_000) -> dict[str, Any]:
    """Run the two tasks into `out`; the manifest."""
    plan = catalog_plan()
    units = select_units(plan, TASKS)
    config = RunConfig(
        out=out,
        options=RunOptions(use_fixtures=True, backoff_s=0.0, root=REPO, limit_seeds=4),
        fmt=fmt,
        shard_size=shard_size,
    )
    progress = StageProgress(Console(quiet=True), enabled=False, units=len(units))
    return asyncio.run(run_plan(plan, units, ScriptedEngine(script), config, progress))

"""Code items through the whole runtime: tests that pass, fail, or cannot be decided.

The catalog's own mbpp spec, compiled, run on a scripted engine whose code answers are
real Python that the sandboxed checker runs. A solution that returns an object equal to
everything cannot be judged without trusting it: the item stays, marked unverified with
the reason, while an explanation whose own solution cannot be judged is dropped.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from rich.console import Console

from taskseed.compiler.driver import compile_paths
from taskseed.runtime.engines.base import ChatRequest
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.options import RunOptions
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan, select_units
from tests.runtime.funnel import check_funnel, read_jsonl

CATALOG = Path(__file__).parents[3] / "taskspecs"
QUESTION = "Write a Python function add(a, b) that returns the sum of two whole numbers."
TESTS = ["assert add(1, 2) == 3", "assert add(-4, 4) == 0"]
GOOD = "def add(a, b):\n    return a + b\n"
FORGED = (
    "class Anything:\n"
    "    def __eq__(self, other):\n        return True\n"
    "    __hash__ = object.__hash__\n"
    "def add(a, b):\n    return Anything()\n"
)
WRONG = "def add(a, b):\n    return a - b\n"


def script(solution: str):  # type: ignore[no-untyped-def]
    def answer(request: ChatRequest) -> list[str]:
        props = (request.json_schema or {}).get("properties", {})
        if "tests" in props:  # a similar code question
            body = {"question": QUESTION, "answer": solution, "tests": TESTS}
        elif "rationale" in props:  # an explanation with its own solution
            body = {"rationale": "Add the two numbers and return the sum.", "answer": solution}
        elif "context" in props:
            body = {"context": "Python's + operator adds two integers."}
        else:
            body = {"answer": solution}
        return [json.dumps(body)] * request.n

    return answer


def run(tmp_path: Path, solution: str) -> tuple[dict, list[dict], list[dict]]:  # type: ignore[type-arg]
    result = compile_paths([CATALOG], root=CATALOG.parent)
    assert result.plan is not None
    plan = result.plan
    units = select_units(plan, ["mbpp"])
    out = tmp_path / "out"
    config = RunConfig(out=out, options=RunOptions(use_fixtures=True, backoff_s=0.0, limit_seeds=1))
    progress = StageProgress(Console(quiet=True), enabled=False, units=len(units))
    engine = ScriptedEngine(script(solution))
    manifest = asyncio.run(run_plan(plan, units, engine, config, progress))
    check_funnel(out)
    return manifest, read_jsonl(out / "data"), read_jsonl(out / "rejects")


def test_a_solution_that_cannot_be_judged_is_kept_unverified(tmp_path: Path, capfd) -> None:  # type: ignore[no-untyped-def]
    manifest, records, rejects = run(tmp_path, FORGED)
    questions = [r for r in records if r["kind"] == "similar_question"]
    assert questions, rejects
    method = questions[0]["verification"]["method"]
    assert questions[0]["verification"]["status"] == "unverified"
    assert method.startswith("tests unverifiable: "), method
    assert "compares an object of the solution (Anything)" in method
    assert manifest["counts"]["unverified"] >= 1
    assert not [r for r in records if r["kind"] == "answer_enriched"]
    assert any(r["stage"] == "enrich" and "could not be checked" in r["reason"] for r in rejects), [
        r["reason"] for r in rejects
    ]
    assert "code items are kept unverified" in capfd.readouterr().err


def test_passing_and_failing_solutions(tmp_path: Path) -> None:
    _, records, _ = run(tmp_path / "good", GOOD)
    verified = [r for r in records if r["kind"] == "similar_question"]
    assert verified and verified[0]["verification"]["status"] == "verified"
    assert verified[0]["verification"]["method"] == "tests"
    _, records, rejects = run(tmp_path / "wrong", WRONG)
    assert not [r for r in records if r["kind"] == "similar_question"]
    assert any("fails its tests" in r["reason"] for r in rejects), rejects

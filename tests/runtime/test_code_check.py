"""Code answers run against their tests in a confined subprocess: pass, fail, limits."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from taskseed.runtime.code_check import CodeResult, code_text, run_tests
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan
from taskseed.runtime.unit import RunOptions
from tests.runtime.catalog import compile_catalog
from tests.runtime.funnel import check_funnel, read_jsonl

ADD = "def add(a, b):\n    return a + b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]


def check(code: str, tests: list[str] = TESTS, timeout_s: float = 5.0) -> CodeResult:
    return asyncio.run(run_tests(code, tests, timeout_s=timeout_s))


def test_passing_code() -> None:
    result = check(ADD)
    assert result.passed and result.reason == "2 tests passed"
    assert result.passed_tests == result.tests == 2
    assert "socket guard" in result.network


def test_failing_assert_names_the_test() -> None:
    result = check(ADD, [*TESTS, "assert add(2, 2) == 5"])
    assert not result.passed
    assert result.reason == "test 3 failed: assert add(2, 2) == 5"
    assert result.passed_tests == 2


def test_a_test_that_raises() -> None:
    result = check(ADD, ["assert add(1, 2) == 3", "assert sub(1, 2) == -1"])
    assert not result.passed
    assert result.reason.startswith("test 2 raised NameError: name 'sub' is not defined")


def test_syntax_error() -> None:
    result = check("def add(a, b)\n    return a + b\n")
    assert not result.passed
    assert result.reason.startswith("the solution does not compile: SyntaxError")


def test_infinite_loop_times_out() -> None:
    result = check("def add(a, b):\n    while True:\n        pass\n", timeout_s=1.0)
    assert not result.passed and result.reason == "timed out after 1s"
    assert result.seconds < 5


def test_sleeping_past_the_wall_clock_limit() -> None:
    result = check("import time\ntime.sleep(30)\n" + ADD, timeout_s=1.0)
    assert not result.passed and result.reason == "timed out after 1s"


def test_memory_bomb_hits_the_limit() -> None:
    result = check("def add(a, b):\n    block = bytearray(8 * 1024**3)\n    return a + b\n")
    assert not result.passed
    assert result.reason.startswith("memory limit (1024 MiB) exceeded in test 1")


def test_network_is_blocked() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = (
            "import socket\n"
            "def fetch():\n"
            f"    with socket.create_connection(('127.0.0.1', {port}), timeout=2) as s:\n"
            "        s.sendall(b'hello')\n"
            "    return True\n"
        )
        result = check(code, ["assert fetch()"])
        raw = check(
            "import _socket\ndef fetch():\n    return _socket.socket() is not None\n",
            ["assert fetch()"],
        )
        # a connection that got through would wait in the backlog, accepted or not
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()
    assert not result.passed and "PermissionError: network access is disabled" in result.reason
    assert not raw.passed and "network access is disabled" in raw.reason


def test_no_new_processes_and_no_exit() -> None:
    forked = check("import os\ndef add(a, b):\n    os.fork()\n    return a + b\n")
    assert not forked.passed and forked.reason.startswith("test 1 raised")
    exited = check("import sys\nsys.exit(0)\n" + ADD)
    assert not exited.passed and exited.reason == "the solution called exit()"


def test_output_and_working_folder_are_the_childs_own() -> None:
    code = "import os\nprint('noise ' * 10000)\nopen('scratch.txt', 'w').write('x')\n" + ADD
    result = check(code, [*TESTS, "assert os.listdir('.') == ['scratch.txt']"])
    assert result.passed, result.reason
    leaked = check(ADD, ["assert not os.path.exists('scratch.txt')"])
    assert not leaked.passed  # `os` is not imported by this solution
    fresh = check("import os\n" + ADD, ["assert os.listdir('.') == []"])
    assert fresh.passed, fresh.reason


def test_entry_point_must_exist() -> None:
    result = asyncio.run(run_tests(ADD, TESTS, timeout_s=5, entry_point="subtract"))
    assert not result.passed and result.reason == "the solution defines no function `subtract`"


def test_checks_run_concurrently_off_the_event_loop() -> None:
    async def main() -> list[CodeResult]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            for _ in range(20):
                await asyncio.sleep(0.01)
                ticks += 1

        results = await asyncio.gather(
            *(run_tests(ADD, TESTS, timeout_s=5) for _ in range(4)), ticker()
        )
        assert ticks == 20
        return [r for r in results if isinstance(r, CodeResult)]

    assert all(r.passed for r in asyncio.run(main()))


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("```python\ndef f():\n    return 1\n```", "def f():\n    return 1\n"),
        ("Here:\n```\nx = 1\n```\nDone.", "x = 1\n"),
        ("def f():\n    return 1", "def f():\n    return 1"),
    ],
)
def test_code_text(answer: str, code: str) -> None:
    assert code_text(answer) == code


# ------------------------------------------------------------ a whole run

KATA_ROWS = [
    {
        "id": f"k{i}",
        "text": f"Write a function to add {i} to a number.",
        "code": f"def add_{i}(x):\n    return x + {i}",
        "test_list": [f"assert add_{i}(1) == {i + 1}"],
    }
    for i in range(3)
]

KATA = """
extends: ../_base.yaml
task: kata
title: Kata
domain: reasoning
source: {citation: "taskseed tests", license: CC0-1.0}
seeds:
  dataset: example/kata
  split: train
  eval_splits: [test]
  fixture: fixtures/quiz.jsonl
mapping:
  id: id
  question: text
  answer: {text: code}
  tests: test_list
answer_format: {type: code, timeout_s: 5}
"""

KATA_BASE = """
generate:
  similar_question:
    prompt: "Task {{ seed.id }}: {{ seed.question }}"
    per_seed: 2
    sampling: {temperature: 0.7, max_tokens: 256}
  answer_enriched:
    prompt: "Explain {{ item.question }}"
verify:
  prompt: "Solve {{ item.question }}"
  k: 1
  threshold: 1.0
filters:
  question_chars: {min: 5, max: 500}
dedup:
  enabled: false
"""


def kata_script(request: Any) -> list[str]:
    props = (request.json_schema or {}).get("properties", {})
    prompt = request.messages[-1].content
    if "tests" in props:  # a similar task: the first sample is right, the second wrong
        seed = prompt.split(":", 1)[0].removeprefix("Task ")
        right = {
            "question": f"Write a function to double a number ({seed}).",
            "answer": "```python\ndef twice(x):\n    return 2 * x\n```",
            "tests": ["assert twice(2) == 4", "assert twice(0) == 0"],
        }
        wrong = {
            "question": f"Write a function to triple a number ({seed}).",
            "answer": "def thrice(x):\n    return 3 * x + 1",
            "tests": ["assert thrice(0) == 0"],
        }
        return [json.dumps(right), json.dumps(wrong)][: request.n]
    if "rationale" in props:  # answer_enriched: its own solution, wrong for k0
        body = "return x" if "(k0)" in prompt else "return x + x"
        return [
            json.dumps({"rationale": "Add it to itself.", "answer": f"def twice(x):\n    {body}"})
        ]
    raise AssertionError(f"code items need no verification request: {prompt}")


def test_a_run_verifies_code_by_its_tests(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path, rows=KATA_ROWS, spec=KATA, base=KATA_BASE)
    engine = ScriptedEngine(kata_script)
    out = tmp_path / "out"
    config = RunConfig(out=out, options=RunOptions(use_fixtures=True, backoff_s=0.0))
    progress = StageProgress(Console(quiet=True), enabled=False, units=1)
    manifest = asyncio.run(run_plan(plan, plan.units, engine, config, progress))
    check_funnel(out)
    counts = manifest["units"]["kata/default"]["counts"]
    assert counts["decontaminated"] == 6 and counts["verified"] == 3
    rejects = read_jsonl(out / "rejects")
    failed = [r for r in rejects if r["stage"] == "verify"]
    assert len(failed) == 3
    assert {r["reason"] for r in failed} == {
        "the solution fails its tests: test 1 failed: assert thrice(0) == 0"
    }
    enrich = [r for r in rejects if r["stage"] == "enrich"]
    assert len(enrich) == 1 and enrich[0]["seed_id"] == "k0"
    assert enrich[0]["reason"].startswith(
        "the explanation's solution fails the item's tests: test 1 failed: assert twice(2) == 4"
    )
    records = read_jsonl(out / "data")
    similar = [r for r in records if r["kind"] == "similar_question"]
    enriched = [r for r in records if r["kind"] == "answer_enriched"]
    assert len(similar) == 3 and len(enriched) == 2
    for record in records:
        assert record["verification"]["status"] == "verified"
        assert record["verification"]["method"] == "tests"
    assert all(r["answer"] == "def twice(x):\n    return x + x" for r in enriched)
    assert len(engine.calls) == 3 + 3  # similar questions and enrichments, no votes

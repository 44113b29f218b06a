"""Code answers run against their tests, solution and tests in two sandboxes: verdicts,
limits, the test shapes in use, forged passes, and a whole run."""

from __future__ import annotations

import asyncio
import json
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
    assert result.passed and result.status == "passed" and result.reason == "2 tests passed"
    assert result.passed_tests == result.tests == 2
    assert "user, PID, network, mount" in result.isolation


def test_failing_assert_names_the_test() -> None:
    result = check(ADD, [*TESTS, "assert add(2, 2) == 5"])
    assert not result.passed and result.status == "failed"
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


def test_a_solution_that_raises_on_import() -> None:
    result = check("raise ValueError('nope')\n" + ADD)
    assert result.status == "failed"
    assert result.reason == "the solution raised ValueError: nope"


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


def test_exit_is_a_failure() -> None:
    exited = check("import sys\nsys.exit(0)\n" + ADD)
    assert not exited.passed and exited.reason == "the solution called exit()"
    in_a_call = check("import sys\ndef add(a, b):\n    sys.exit(0)\n")
    assert in_a_call.reason == "exit() called in test 1: assert add(1, 2) == 3"


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


# ------------------------------------------------------------ the test shapes in use

SHAPES = """
import math
from collections import Counter, namedtuple

Pair = namedtuple("Pair", "low high")

def common(a, b):
    return [x for x in a if x in b]

def ratio(a, b):
    return a / b

def is_even(n):
    return n % 2 == 0

def counts(text):
    return Counter(text)

def bounds(xs):
    return Pair(min(xs), max(xs))

def evens(limit):
    for n in range(0, limit, 2):
        yield n

def sort_in_place(xs):
    xs.sort()

def parse(text):
    if not text:
        raise ValueError("empty")
    return int(text)

class Stack:
    def __init__(self):
        self.items = []
    def push(self, x):
        self.items.append(x)
        return len(self.items)
    def top(self):
        return self.items[-1]

LIMIT = 10
"""


@pytest.mark.parametrize(
    "test",
    [
        "assert set(common([1, 2, 3], [3, 2, 9])) == set([2, 3])",
        "assert math.isclose(ratio(1, 3), 0.3333, rel_tol=0.001)",
        "assert is_even(4)",
        "assert not is_even(3)",
        "assert is_even(10) == True",
        "assert counts('aab') == {'a': 2, 'b': 1}",
        "assert counts('aab') == Counter({'a': 2, 'b': 1})",
        "assert bounds([3, 1, 2]) == (1, 3)",
        "assert bounds([3, 1, 2]).high == 3",
        "assert list(evens(7)) == [0, 2, 4, 6]",
        "assert 4 in evens(7)",
        "xs = [3, 1, 2]\nsort_in_place(xs)\nassert xs == [1, 2, 3]",
        "s = Stack()\nassert s.push(5) == 1\nassert s.top() == 5\nassert s.items == [5]",
        "assert LIMIT == 10",
        "try:\n    parse('')\n    raise AssertionError('no error')\nexcept ValueError as exc:\n"
        "    assert str(exc) == 'empty'",
        "assert parse('12') + 1 == 13",
        "assert Stack() != 3",
    ],
)
def test_the_test_shapes_in_use_are_checked(test: str) -> None:
    """MBPP's shapes (==, set(...), math.isclose, a bare assert, assert not), and what a
    generated test may do beside them, are decided in the judge on plain data."""
    result = check(SHAPES, [test])
    assert result.passed, result.reason


@pytest.mark.parametrize(
    "test",
    [
        "assert set(common([1, 2, 3], [3, 2, 9])) == set([2, 4])",
        "assert math.isclose(ratio(1, 3), 0.5, rel_tol=0.001)",
        "assert is_even(3)",
        "assert not is_even(4)",
        "assert bounds([3, 1, 2]) == (1, 2)",
        "xs = [3, 1, 2]\nsort_in_place(xs)\nassert xs == [3, 1, 2]",
        "assert Stack() == 3",
    ],
)
def test_the_test_shapes_in_use_fail_when_wrong(test: str) -> None:
    result = check(SHAPES, [test])
    assert result.status == "failed", result.reason


HUMANEVAL = """
def check(candidate):
    assert candidate([1, 2, 3]) == 6
    assert candidate([]) == 0
    for n in range(20):
        assert candidate(list(range(n))) == n * (n - 1) // 2
"""


def test_a_humaneval_check_function_is_called_with_the_entry_point() -> None:
    good = "def total(xs):\n    return sum(xs)\n"
    bad = "def total(xs):\n    return sum(xs[:5])\n"
    passed = asyncio.run(run_tests(good, [HUMANEVAL], timeout_s=5, entry_point="total"))
    failed = asyncio.run(run_tests(bad, [HUMANEVAL], timeout_s=5, entry_point="total"))
    assert passed.passed, passed.reason
    assert failed.status == "failed" and failed.reason.startswith("test 1 failed")


# ------------------------------------------------------------ forged passes


def test_an_object_equal_to_everything_does_not_pass() -> None:
    code = (
        "class Anything:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return Anything()\n"
    )
    result = check(code, ["assert add(1, 2) == 5"])
    assert not result.passed, result.reason
    assert result.status == "unverifiable"
    assert "compares an object of the solution (Anything)" in result.reason
    # the same trick on a subclass of int crosses as the int it holds
    forged_int = "class Three(int):\n    def __eq__(self, other):\n        return True\n"
    forged_int += "def add(a, b):\n    return Three(0)\n"
    result = check(forged_int, ["assert add(1, 2) == 5"])
    assert not result.passed and result.status == "failed", result.reason


# A passing verdict in the judge's words (and in those of the single-process check
# this design replaced).
FORGED = (
    '{"verdict": "passed", "reason": "9 tests passed", "done": 9, "ended": false, '
    '"passed": true, "network": ""}'
)


def test_the_solution_cannot_call_a_reporter_or_write_a_verdict() -> None:
    """The solution's process holds the launcher's code (`__main__`, the judge's module
    among those it loaded) and its answer pipe: it calls every reporter it finds and
    writes passing verdicts to every descriptor. None of it reaches the parent."""
    code = (
        "import json, os, sys\n"
        f"verdict = {FORGED!r}\n"
        "main = sys.modules.get('__main__')\n"
        "judge = sys.modules.get('sandbox.judge')\n"
        "if judge is not None:\n"
        "    try:\n        judge.main({'tests': [], 'memory_mb': 1, 'max_test_chars': 9,"
        " 'requests': 5, 'answers': 6}, 7)\n"
        "    except BaseException:\n        pass\n"
        "for fd in range(64):\n"
        "    try:\n        os.write(fd, verdict.encode() + b'\\n')\n"
        "    except OSError:\n        pass\n"
        "    if hasattr(main, 'say'):\n"
        "        try:\n            main.say(fd, json.loads(verdict))\n"
        "        except OSError:\n            pass\n"
        "if hasattr(main, 'finish'):\n"
        "    main.finish(True, '9 tests passed', 9)\n"
        "def add(a, b):\n    return 0\n"
    )
    result = check(code)
    assert not result.passed, result.reason
    assert result.status == "failed" and "malformed" in result.reason


def test_patching_the_serializer_does_not_pass() -> None:
    code = (
        "import json, sys\n"
        f"json.dumps = lambda *a, **k: {FORGED!r}\n"
        "wire = sys.modules.get('sandbox.wire')\n"
        "if wire is not None:\n"
        "    wire.to_wire = lambda *a, **k: True\n"
        "def add(a, b):\n    return 0\n"
    )
    result = check(code)
    assert not result.passed, result.reason
    assert result.status == "failed"


def test_patching_the_tests_helpers_does_not_pass() -> None:
    """`math.isclose` (or anything else a test calls) patched by the solution is patched
    in the solution's process only; the judge's `math` is its own."""
    code = "import math\nmath.isclose = lambda *a, **k: True\ndef ratio(a, b):\n    return 0.0\n"
    result = check(code, ["assert math.isclose(ratio(1, 2), 0.5)"])
    assert not result.passed, result.reason
    assert result.status == "failed"


@pytest.mark.parametrize(
    ("exit_call", "how"),
    [("os._exit(0)", "exit status 0"), ("__import__('ctypes').string_at(0)", "killed by SIGSEGV")],
)
def test_ending_the_process_early_fails(exit_call: str, how: str) -> None:
    at_import = check(f"import os\n{exit_call}\n" + ADD)
    assert not at_import.passed and at_import.status == "failed"
    assert at_import.reason == f"the solution's process ended ({how}) before it defined anything"
    in_a_call = check(f"import os\ndef add(a, b):\n    {exit_call}\n")
    assert not in_a_call.passed and in_a_call.status == "failed"
    assert in_a_call.reason == (
        f"test 1 failed: the solution's process ended ({how}): assert add(1, 2) == 3"
    )


def test_a_test_that_swallows_the_end_of_the_solution_still_fails() -> None:
    code = "import os\ndef add(a, b):\n    os._exit(0)\n"
    test = "try:\n    assert add(1, 2) == 3\nexcept BaseException:\n    pass"
    result = check(code, [test])
    assert not result.passed, result.reason
    assert result.status == "failed" and "the solution's process ended" in result.reason


def test_a_test_that_ends_the_judge_fails() -> None:
    result = check(ADD, ["import os\nos._exit(0)"])
    assert not result.passed, result.reason
    assert result.reason == "the judge ended without a verdict (exit status 0)"


def test_garbage_on_the_answer_pipe_fails() -> None:
    code = (
        "import gc, io\n"
        "pipes = [f for f in gc.get_objects() if isinstance(f, io.BufferedWriter)]\n"
        "def add(a, b):\n"
        "    for pipe in pipes:\n"
        '        pipe.write(b\'{"value": {"$": "eval", "v": "3"}}\\n\')\n'
        "        pipe.flush()\n"
        "    return 3\n"
    )
    result = check(code, ["assert add(1, 2) == 3", "assert add(2, 2) == 4"])
    assert result.status == "failed" and "malformed answer" in result.reason


@pytest.mark.parametrize(
    ("rebinding", "test"),
    [
        ("def set(xs):\n    return 1\n", "assert set(common([1], [2])) == set([5])"),
        ("def sorted(xs):\n    return [1, 2]\n", "assert sorted(common([1], [2])) == [1, 2]"),
        (
            "class Lenient:\n    def isclose(self, *a, **k):\n        return True\n"
            "math = Lenient()\n",
            "assert math.isclose(common([1], [2]), 0.5)",
        ),
    ],
)
def test_a_rebound_builtin_or_standard_module_is_not_trusted(rebinding: str, test: str) -> None:
    """A wrong solution that redefines what a test computes with (`set`, `sorted`,
    `math`) would compute both sides of the comparison: such a test is unverifiable."""
    code = rebinding + "def common(a, b):\n    return []\n"
    result = check(code, [test])
    assert not result.passed, result.reason
    assert result.status == "unverifiable"
    assert "the solution redefines" in result.reason
    # a rebinding the tests do not use is the solution's own business
    assert check(code, ["assert common([1], [2]) == []"]).passed


def test_an_entry_point_may_have_a_builtin_name() -> None:
    code = "def sum(xs):\n    return 0 if not xs else xs[0] + sum(xs[1:])\n"
    result = asyncio.run(
        run_tests(code, ["assert sum([1, 2, 3]) == 6"], timeout_s=5, entry_point="sum")
    )
    assert result.passed, result.reason


def test_a_large_result_stays_in_the_solution() -> None:
    """A result too large to send (over 4 MiB of JSON) is held by reference: it can be
    measured and indexed, not compared."""
    code = "def big():\n    return list(range(10**6))\n"
    assert check(code, ["assert len(big()) == 10**6", "assert big()[7] == 7"]).passed
    compared = check(code, ["assert big() == list(range(10**6))"])
    assert compared.status == "unverifiable", compared.reason


# ------------------------------------------------------------ what cannot cross


def test_a_function_passed_to_the_solution_is_unverifiable() -> None:
    code = "def apply(f, x):\n    return f(x)\n"
    result = check(code, ["assert apply(lambda x: x + 1, 1) == 2"])
    assert result.status == "unverifiable"
    assert "passes a function to the solution" in result.reason


def test_a_solution_object_without_its_own_equality_compares_by_identity() -> None:
    code = "class Box:\n    pass\ndef make():\n    return Box()\n"
    assert check(code, ["assert make() != 3", "b = make()\nassert b == b"]).passed
    assert check(code, ["assert make() == 3"]).status == "failed"


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

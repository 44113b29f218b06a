"""Code answers are verified by running the item's tests against them, in two sandboxes.

The solution runs in one sandbox (`sandbox/serve.py`), the tests in another
(`sandbox/judge.py`); a pair of pipes joins them. The judge runs each test, calling the
solution's functions through the pipes: arguments go out and results come back as
plain data, decoded into built-in values in the judge, so the test's comparisons are
computed where the solution cannot reach. The verdict is the judge's: the solution's
process only ever answers calls. It cannot report itself passing (there is nothing in
it to call or write to that the verdict comes from), patch the judge's serializer or
`math.isclose`, or pass with an object equal to everything (objects stay on its side;
a test that would have to compare one is reported unverifiable), and exiting early
fails the test that was waiting on it.

Each sandbox is confined by `sandbox/launcher.py`: new user, PID, network, mount, IPC
and UTS namespaces, a read-only root holding only the system folders and the
interpreter (the standard library is readable; site-packages are not there), private
size-limited /tmp and /dev/shm, uid 65534, no capabilities, limits on memory, CPU,
file size, processes and open files; the format's `timeout_s` is the wall clock of the
whole check, and nothing started in a sandbox survives it. See docs/sandbox.md.

Where the isolation cannot be established (no user namespaces, root without a uid to
drop to, not Linux), nothing runs: the result's status is "unavailable" and its reason
says why; it never falls back to running the code unconfined.

`CodeResult.status` is one of:
- "passed": every test passed;
- "failed": the solution does not compile, raises, exits, breaks a limit, or fails a
  test (the reason names it);
- "unverifiable": a test needs an answer only the solution's process could give (it
  compares an object of the solution that defines its own `==`, or passes it a
  function); the reason names the test;
- "unavailable": the sandbox refused to run; the reason says why.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from taskseed.runtime.sandbox.spawn import Launch, Limits, SandboxRefused, Spec, exit_reason

MEMORY_MB = 1024
FILE_MB = 8
TMPFS_MB = 16
PROCESSES = 8
OPEN_FILES = 256
MAX_TEST_CHARS = 160
CONCURRENCY = max(2, os.cpu_count() or 2)
# How long the parent waits, after the judge's verdict, for the status of a solution
# process that ended during the tests (to name a limit it hit).
EXIT_GRACE_S = 1.0
ENDED = "the solution's process ended"  # as the judge words it

Status = Literal["passed", "failed", "unverifiable", "unavailable"]

_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CodeResult:
    passed: bool
    reason: str  # why it failed, or "3 tests passed"
    tests: int
    passed_tests: int
    seconds: float
    status: Status = "failed"
    isolation: str = ""  # how the sandboxes were confined, when they were


def code_text(answer: str) -> str:
    """The code in an answer: the first fenced block if there is one, else the text."""
    fenced = _FENCE.search(answer)
    return fenced.group(1) if fenced else answer


_SEMAPHORES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slots() -> asyncio.Semaphore:
    """At most CONCURRENCY checks at once, per event loop."""
    loop = asyncio.get_running_loop()
    semaphore = _SEMAPHORES.get(loop)
    if semaphore is None:
        semaphore = _SEMAPHORES[loop] = asyncio.Semaphore(CONCURRENCY)
    return semaphore


async def run_tests(
    code: str,
    tests: Sequence[str],
    *,
    timeout_s: float,
    entry_point: str | None = None,
    memory_mb: int = MEMORY_MB,
) -> CodeResult:
    """Run `tests` (statements, usually asserts) against `code`, each side confined."""
    async with _slots():
        return await _check(code, list(tests), timeout_s, entry_point, memory_mb)


async def _check(
    code: str, tests: list[str], timeout_s: float, entry_point: str | None, memory_mb: int
) -> CodeResult:
    start = time.perf_counter()
    limits = Limits(
        memory_mb=memory_mb,
        cpu_s=math.ceil(timeout_s) + 1,
        file_mb=FILE_MB,
        processes=PROCESSES,
        open_files=OPEN_FILES,
        tmpfs_mb=TMPFS_MB,
    )

    def result(status: Status, reason: str, done: int = 0, isolation: str = "") -> CodeResult:
        return CodeResult(
            status == "passed", reason, len(tests), done, _since(start), status, isolation
        )

    requests_r, requests_w = os.pipe()
    answers_r, answers_w = os.pipe()
    judge = Spec(
        "judge",
        {
            "tests": tests,
            "entry_point": entry_point,
            "memory_mb": memory_mb,
            "max_test_chars": MAX_TEST_CHARS,
            "requests": requests_w,
            "answers": answers_r,
        },
        (requests_w, answers_r),
    )
    solution = Spec(
        "serve",
        {"code": code, "requests": requests_r, "answers": answers_w},
        (requests_r, answers_w),
    )
    try:
        launch = await Launch.start([judge, solution], limits)
    except SandboxRefused as exc:
        return result("unavailable", f"the code check cannot run: {exc}")
    finally:
        for fd in (requests_r, requests_w, answers_r, answers_w):
            os.close(fd)
    try:
        async with asyncio.timeout(timeout_s):
            isolation, _ = await asyncio.gather(launch.ready("judge"), launch.ready("serve"))
            verdict = await launch.line("judge")
            if verdict is not None and verdict.get("ended"):
                # the solution's process ended: its exit status says how
                why = await _ended(launch, limits)
                verdict["reason"] = str(verdict.get("reason")).replace(ENDED, f"{ENDED} ({why})", 1)
    except SandboxRefused as exc:
        return result("unavailable", f"the code check cannot run: {exc}")
    except TimeoutError:
        return result("failed", f"timed out after {timeout_s:g}s")
    finally:
        await launch.stop()
        launch.close()
    if verdict is None or "exit" in verdict:  # the launcher's line after the judge's end
        how = exit_reason(verdict.get("exit") if verdict else None)
        return result("failed", f"the judge ended without a verdict ({how})")
    status_text = verdict.get("verdict")
    done = verdict.get("done")
    if status_text not in ("passed", "failed", "unverifiable") or not isinstance(done, int):
        return result("failed", "the judge's verdict is malformed")
    return result(status_text, str(verdict.get("reason", "")), done, isolation)


async def _ended(launch: Launch, limits: Limits) -> str:
    """Why the solution's process ended, from its exit status."""
    try:
        status = await asyncio.wait_for(launch.exit_status("serve"), EXIT_GRACE_S)
    except TimeoutError:
        status = None
    if status == 128 + signal.SIGXCPU:
        return f"CPU time limit ({limits.cpu_s}s) exceeded"
    return exit_reason(status)


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)

"""Code answers are verified by running the item's tests against them, in a subprocess.

Each check runs a fresh `python -I -S` (isolated mode, no site-packages: the solution
sees the standard library only) in a new temporary folder as its working directory,
with an environment stripped to PATH, HOME (the folder) and a locale, in its own
process group, started with asyncio so the event loop never waits on it. Before it
runs the solution, the child confines itself, in this order:

1. network: it enters a new, empty network namespace (`unshare(CLONE_NEWNET)` through
   libc; without that privilege, a new user namespace with it). Where neither is
   permitted, only the second barrier applies. In every case the socket module is
   replaced by one whose sockets cannot be created (`socket.socket`, `_socket.socket`,
   `create_connection`, `getaddrinfo`, `socketpair`, `fromfd`), so a connection attempt
   raises. `CodeResult.network` says which barriers applied.
2. limits (`resource.setrlimit`): address space (`MEMORY_MB`), CPU seconds (the
   format's `timeout_s` rounded up, plus one), file size (`FILE_MB`), no new processes
   (`RLIMIT_NPROC` 0) and no core files. They are set by the child itself rather than
   in a `preexec_fn`, which is unsafe when the parent has threads (the embedded engine
   and the held-out index loader do).
3. privileges: a child running as root drops to nobody (uid/gid 65534), so that the
   process limit applies and the file system is protected by its permissions.

The parent enforces the wall-clock limit (`timeout_s`) and kills the whole group when
it passes. The solution's own output goes to /dev/null; the child reports on a
duplicate of its original stdout, one JSON line. The result names what failed: the
solution not compiling, a test that failed (its text) or raised, the time or memory
limit, an `exit()`, a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

MEMORY_MB = 1024
FILE_MB = 16
MAX_TEST_CHARS = 160
CONCURRENCY = max(2, os.cpu_count() or 2)

_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CodeResult:
    passed: bool
    reason: str  # why it failed, or "3 tests passed"
    tests: int
    passed_tests: int
    seconds: float
    network: str = ""  # which network barriers applied: "namespace+socket guard", ...


def code_text(answer: str) -> str:
    """The code in an answer: the first fenced block if there is one, else the text."""
    fenced = _FENCE.search(answer)
    return fenced.group(1) if fenced else answer


# The child: reads {code, tests, entry_point, cpu_s, memory_mb, file_mb} on stdin,
# confines itself, runs the solution and then each test in one namespace, and writes
# one JSON line on a duplicate of its original stdout.
_CHILD = r"""
import ctypes, json, os, resource, sys

payload = json.loads(sys.stdin.read())
report = os.fdopen(os.dup(1), "w")
barriers = []
try:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) == 0:  # CLONE_NEWNET
        barriers.append("namespace")
    elif libc.unshare(0x10000000 | 0x40000000) == 0:  # CLONE_NEWUSER | CLONE_NEWNET
        barriers.append("user namespace")
except Exception:
    pass

import socket, _socket

class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        raise PermissionError("network access is disabled in code checks")

def _refuse(*args, **kwargs):
    raise PermissionError("network access is disabled in code checks")

socket.socket = _NoSocket
_socket.socket = _NoSocket
socket.SocketType = _NoSocket
for _name in ("create_connection", "getaddrinfo", "socketpair", "fromfd", "create_server"):
    setattr(socket, _name, _refuse)
barriers.append("socket guard")

mb = 1024 * 1024
cpu = int(payload["cpu_s"])
for limit, value in (
    (resource.RLIMIT_AS, payload["memory_mb"] * mb),
    (resource.RLIMIT_CPU, cpu),
    (resource.RLIMIT_FSIZE, payload["file_mb"] * mb),
    (resource.RLIMIT_NPROC, 0),
    (resource.RLIMIT_CORE, 0),
):
    try:
        resource.setrlimit(limit, (value, value))
    except (ValueError, OSError):
        pass
if os.getuid() == 0:
    try:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    except OSError:
        pass

null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0)
os.dup2(null, 1)
os.dup2(null, 2)
sys.stdout = sys.stderr = open(os.devnull, "w")

def finish(passed, reason, done):
    report.write(json.dumps({"passed": passed, "reason": reason, "done": done,
                             "network": "+".join(barriers)}) + "\n")
    report.flush()
    os._exit(0)

def describe(exc):
    text = str(exc)
    return type(exc).__name__ + (": " + text[:200] if text else "")

def short(test):
    test = " ".join(test.split())
    return test if len(test) <= MAX else test[: MAX - 3] + "..."

MAX = payload["max_test_chars"]
namespace = {"__name__": "__solution__"}
try:
    compiled = compile(payload["code"], "<solution>", "exec")
except (SyntaxError, ValueError) as exc:
    finish(False, f"the solution does not compile: {describe(exc)}", 0)
try:
    exec(compiled, namespace)
except MemoryError:
    finish(False, f"memory limit ({payload['memory_mb']} MiB) exceeded by the solution", 0)
except SystemExit:
    finish(False, "the solution called exit()", 0)
except BaseException as exc:
    finish(False, f"the solution raised {describe(exc)}", 0)
entry = payload["entry_point"]
if entry and not callable(namespace.get(entry)):
    finish(False, f"the solution defines no function `{entry}`", 0)
done = 0
for number, test in enumerate(payload["tests"], 1):
    try:
        exec(compile(test, f"<test {number}>", "exec"), namespace)
    except AssertionError:
        finish(False, f"test {number} failed: {short(test)}", done)
    except MemoryError:
        finish(False, f"memory limit ({payload['memory_mb']} MiB) exceeded in test "
               f"{number}: {short(test)}", done)
    except SyntaxError as exc:
        finish(False, f"test {number} does not compile: {describe(exc)}", done)
    except SystemExit:
        finish(False, f"exit() called in test {number}: {short(test)}", done)
    except BaseException as exc:
        finish(False, f"test {number} raised {describe(exc)}: {short(test)}", done)
    done += 1
finish(True, f"{done} test{'' if done == 1 else 's'} passed", done)
"""

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
    """Run `tests` (statements, usually asserts) against `code` in a confined child."""
    async with _slots():
        return await _run(code, list(tests), timeout_s, entry_point, memory_mb)


async def _run(
    code: str, tests: list[str], timeout_s: float, entry_point: str | None, memory_mb: int
) -> CodeResult:
    payload = {
        "code": code,
        "tests": tests,
        "entry_point": entry_point,
        "cpu_s": math.ceil(timeout_s) + 1,
        "memory_mb": memory_mb,
        "file_mb": FILE_MB,
        "max_test_chars": MAX_TEST_CHARS,
    }
    folder = tempfile.mkdtemp(prefix="taskseed-code-")
    os.chmod(folder, 0o777)  # the child may run as nobody
    env = {"PATH": "/usr/bin:/bin", "HOME": folder, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    start = time.perf_counter()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            "-c",
            _CHILD,
            cwd=folder,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(json.dumps(payload).encode()), timeout_s
            )
        except TimeoutError:
            _kill(proc.pid)
            await proc.wait()
            return CodeResult(
                False, f"timed out after {timeout_s:g}s", len(tests), 0, _since(start)
            )
        except asyncio.CancelledError:
            _kill(proc.pid)
            raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    seconds = _since(start)
    line = out.decode(errors="replace").strip().splitlines()[-1:] if out else []
    if line:
        try:
            report = json.loads(line[0])
        except json.JSONDecodeError:
            report = None
        if isinstance(report, dict):
            return CodeResult(
                bool(report["passed"]),
                str(report["reason"]),
                len(tests),
                int(report["done"]),
                seconds,
                str(report.get("network", "")),
            )
    status = proc.returncode
    if status is not None and status < 0 and -status in (signal.SIGXCPU, signal.SIGKILL):
        reason = f"CPU time limit ({payload['cpu_s']}s) exceeded"
    elif status is not None and status < 0:
        reason = f"the test process died of signal {signal.Signals(-status).name}"
    else:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
        reason = f"the test process exited with code {status} before reporting" + (
            f": {tail[0][:200]}" if tail else ""
        )
        if tail and "MemoryError" in tail[0]:
            reason = f"memory limit ({memory_mb} MiB) exceeded"
    return CodeResult(False, reason, len(tests), 0, seconds)


def _kill(pid: int) -> None:
    """Kill the child's process group (its ID is the child's, started in a new session);
    called only while the child has not been waited for, so the ID is still its own."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)

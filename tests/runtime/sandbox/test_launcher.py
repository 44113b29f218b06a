"""The sandbox holds: each escape a solution may try is stopped, concurrent checks do
not disturb each other, nothing outlives a check, the standard library is there, and
where the isolation cannot be established the check refuses instead of running."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskseed.runtime.code_check import FILE_MB, OPEN_FILES, PROCESSES, CodeResult, run_tests
from taskseed.runtime.sandbox.spawn import LAUNCHER
from tests.conftest import REPO

# `attempt(action, *args)`: what the action returned, or the name of what it raised.
PROBE = """
import os

def attempt(action, *args):
    try:
        result = action(*args)
    except BaseException as exc:
        return type(exc).__name__
    return "done" if result is None else result

def read(path):
    with open(path, "rb") as f:
        return f.read(16)

def write(path):
    with open(path, "w") as f:
        f.write("escaped")

def exists(path):
    return os.path.exists(path)
"""

DENIED = ("FileNotFoundError", "PermissionError", "OSError", "IsADirectoryError")


def check(code: str, tests: list[str], timeout_s: float = 10.0) -> CodeResult:
    return asyncio.run(run_tests(code, tests, timeout_s=timeout_s))


def leftovers() -> list[str]:
    """Processes still running this worktree's launcher (sandboxes and what they started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(LAUNCHER).encode() in cmdline:
                found.append(entry.name)
    return found


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder anyone may write to, in the machine's /tmp."""
    folder = Path("/tmp") / f"taskseed-probe-{uuid.uuid4().hex}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_standard_library_is_readable() -> None:
    code = (
        "import bisect, heapq, typing, collections, itertools, functools, re, math, json\n"
        "import decimal, fractions, datetime, string, random, statistics, dataclasses\n"
        "def smallest(xs: typing.List[int], k: int) -> typing.List[int]:\n"
        "    return heapq.nsmallest(k, xs)\n"
        "def where(xs, x):\n    return bisect.bisect_left(xs, x)\n"
    )
    result = check(
        code, ["assert smallest([5, 1, 4], 2) == [1, 4]", "assert where([1, 3], 2) == 1"]
    )
    assert result.passed, result.reason


def test_protected_and_outside_files_cannot_be_read(tmp_path: Path, shared_folder: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    secret.chmod(0o600)
    public = shared_folder / "public.txt"
    public.write_text("not for the sandbox")
    public.chmod(0o644)
    paths = [
        "/etc/shadow",
        "/etc/passwd",
        "/root/.bashrc",
        str(secret),
        str(public),
        str(REPO / "README.md"),
        "/proc/1/environ",
        "/proc/self/mounts",
        "/sys/kernel/notes",
    ]
    result = check(PROBE, [f"assert attempt(read, {p!r}) in {DENIED!r}" for p in paths])
    assert result.passed, result.reason
    # the same probe reads what the sandbox does show: it can fail
    shown = check(PROBE, ["assert attempt(read, '/dev/zero') == bytes(16)"])
    assert shown.passed, shown.reason


def test_nothing_outside_the_private_folders_can_be_written(shared_folder: Path) -> None:
    shm = Path("/dev/shm") / f"taskseed-probe-{uuid.uuid4().hex}"
    shm.mkdir(mode=0o777)
    shm.chmod(0o777)
    try:
        targets = [
            "/usr/taskseed-probe",
            "/taskseed-probe",
            f"{sys.base_prefix}/taskseed-probe",
            "/dev/taskseed-probe",
            str(shared_folder / "escaped.txt"),
            str(shm / "escaped.txt"),
            str(REPO / "taskseed-probe"),
        ]
        result = check(PROBE, [f"assert attempt(write, {t!r}) in {DENIED!r}" for t in targets])
        assert result.passed, result.reason
        assert not [t for t in targets if Path(t).exists()]
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def test_tmp_and_shm_are_private_and_do_not_persist() -> None:
    name = f"taskseed-probe-{uuid.uuid4().hex}"
    writes = [f"assert attempt(write, '/tmp/{name}') == 'done'"]
    writes += [f"assert attempt(write, '/dev/shm/{name}') == 'done'"]
    writes += [f"assert exists('/tmp/{name}') and exists('/dev/shm/{name}')"]
    first = check(PROBE, writes)
    assert first.passed, first.reason
    later = check(
        PROBE, [f"assert not exists('/tmp/{name}')", f"assert not exists('/dev/shm/{name}')"]
    )
    assert later.passed, later.reason
    assert not (Path("/tmp") / name).exists() and not (Path("/dev/shm") / name).exists()


def test_file_size_space_and_open_files_are_bounded() -> None:
    code = PROBE + (
        "def fill(path, mb):\n"
        "    with open(path, 'wb') as f:\n"
        "        for _ in range(mb):\n"
        "            f.write(bytes(1024 * 1024))\n"
        "def many(n):\n"
        "    return len([open('/dev/null') for _ in range(n)])\n"
    )
    tests = [
        f"assert attempt(fill, '/dev/shm/big', {FILE_MB} + 4) == 'OSError'",  # file size
        f"assert attempt(fill, '/tmp/a', {FILE_MB} - 1) == 'done'",
        f"assert attempt(fill, '/tmp/b', {FILE_MB} - 1) == 'done'",
        f"assert attempt(fill, '/tmp/c', {FILE_MB} - 1) == 'OSError'",  # the folder's size
        f"assert attempt(many, {OPEN_FILES} + 100) == 'OSError'",
        f"assert attempt(many, {OPEN_FILES} - 20) == {OPEN_FILES} - 20",
    ]
    result = check(code, tests)
    assert result.passed, result.reason


def test_no_privilege_is_left() -> None:
    """uid 65534 with no capability in any namespace: no mount, chroot, setuid, nested
    user namespace or raw socket."""
    code = PROBE + (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def call(name, *args):\n"
        "    if getattr(libc, name)(*args) != 0:\n"
        "        raise OSError(ctypes.get_errno(), name)\n"
        "def in_os(name, *args):\n"
        "    return attempt(getattr(os, name), *args)\n"
        "FAILED = ('OSError', 'PermissionError')\n"
        "def raw():\n"
        "    import socket\n"
        "    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()\n"
    )
    tests = [
        "assert os.getuid() == os.geteuid() == 65534 and os.getgid() == 65534",
        "assert in_os('setuid', 0) in ('PermissionError', 'OSError')",
        "assert in_os('chroot', '/tmp') == 'PermissionError'",
        "assert attempt(call, 'mount', b'none', b'/tmp', b'tmpfs', 0, None) in FAILED",
        "assert attempt(call, 'umount2', b'/tmp', 2) in FAILED",
        "assert attempt(call, 'unshare', 0x10000000) in FAILED",  # CLONE_NEWUSER
        "assert attempt(call, 'unshare', 0x00020000) in FAILED",  # CLONE_NEWNS
        "assert attempt(raw) == 'PermissionError'",
    ]
    result = check(code, tests)
    assert result.passed, result.reason


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root, the sandbox drops to 65534")
def test_run_as_root_the_sandbox_is_nobody_outside() -> None:
    """Seen from this machine, while a check runs: every confined process (one in a PID
    namespace below the launcher's) has uid and gid 65534, and no capability."""
    code = "import time\ndef wait():\n    time.sleep(1.5)\n    return True\n"

    async def main() -> tuple[CodeResult, list[dict[str, str]]]:
        task = asyncio.ensure_future(run_tests(code, ["assert wait()"], timeout_s=10))
        await asyncio.sleep(0.8)
        seen = [status(pid) for pid in leftovers()]
        return await task, [s for s in seen if len(s.get("NSpid", "").split()) > 1]

    result, confined = asyncio.run(main())
    assert result.passed, result.reason
    assert len(confined) >= 2  # the judge and the solution
    for process in confined:
        assert process["Uid"].split() == ["65534"] * 4, process
        assert process["Gid"].split() == ["65534"] * 4, process
        assert process["Groups"] == "", process
        assert int(process["CapEff"], 16) == int(process["CapBnd"], 16) == 0, process


def status(pid: str) -> dict[str, str]:
    try:
        lines = (Path("/proc") / pid / "status").read_text().splitlines()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def test_a_fork_bomb_is_bounded_and_leaves_nothing_behind() -> None:
    code = (
        "import os, time\n"
        "def bomb():\n"
        "    made = 0\n"
        "    while made < 200:\n"
        "        try:\n            pid = os.fork()\n"
        "        except OSError:\n            return made\n"
        "        if pid == 0:\n"
        "            os.setsid()\n            time.sleep(60)\n            os._exit(0)\n"
        "        made += 1\n"
        "    return made\n"
    )
    result = check(code, [f"assert 0 < bomb() < {PROCESSES}"])
    assert result.passed, result.reason
    assert leftovers() == []


def test_no_process_outlives_a_timed_out_check() -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
        "def add(a, b):\n    time.sleep(60)\n"
    )
    result = check(code, ["assert add(1, 2) == 3"], timeout_s=1.0)
    assert result.reason == "timed out after 1s"
    assert leftovers() == []


@pytest.mark.parametrize("after_s", [0.0, 0.05, 0.6])
def test_a_cancelled_check_leaves_nothing_behind(after_s: float) -> None:
    """Cancelled while starting, while setting up, or while the solution runs."""
    code = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\ntime.sleep(60)\n"

    async def main() -> None:
        task = asyncio.ensure_future(run_tests(code, ["assert True"], timeout_s=30))
        await asyncio.sleep(after_s)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert leftovers() == []


def test_signals_reach_nothing_outside_the_sandbox() -> None:
    """kill(-1), the process group and the parent's pids are tried while another check
    runs; the other check passes and this test process lives on."""
    victim = "import time\ndef add(a, b):\n    time.sleep(1.5)\n    return a + b\n"
    targets = [os.getpid(), os.getppid()]
    killer = (
        "import os, signal\n"
        "def hit(pids):\n"
        "    done = []\n"
        "    actions = [lambda: os.kill(-1, signal.SIGKILL), lambda: os.killpg(0, 9)]\n"
        "    actions += [lambda p=p: os.kill(p, signal.SIGKILL) for p in pids]\n"
        "    for action in actions:\n"
        "        try:\n            action()\n            done.append('sent')\n"
        "        except OSError as exc:\n            done.append(type(exc).__name__)\n"
        "    return done\n"
    )

    async def main() -> list[CodeResult]:
        return list(
            await asyncio.gather(
                run_tests(victim, ["assert add(1, 2) == 3"], timeout_s=10),
                *(run_tests(killer, [f"hit({targets})"], timeout_s=10) for _ in range(3)),
            )
        )

    results = asyncio.run(main())
    assert all(r.passed for r in results), [r.reason for r in results]
    # pids of this machine do not exist in the sandbox's PID namespace
    probe = check(killer, [f"assert hit({targets})[2:] == ['ProcessLookupError'] * 2"])
    assert probe.passed, probe.reason


def test_there_is_no_network() -> None:
    abstract = f"\0taskseed-probe-{uuid.uuid4().hex}"
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix,
    ):
        unix.bind(abstract)
        unix.listen()
        port = server.getsockname()[1]
        code = PROBE + (
            "import socket\n"
            "def tcp(port):\n"
            "    with socket.create_connection(('127.0.0.1', port), timeout=2) as s:\n"
            "        s.sendall(b'hello')\n"
            "def unix(name):\n"
            "    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:\n"
            "        s.connect(name)\n"
            "def dns():\n"
            "    return socket.getaddrinfo('pypi.org', 443)\n"
        )
        tests = [
            f"assert attempt(tcp, {port}) == 'OSError'",
            f"assert attempt(unix, {abstract!r}) == 'ConnectionRefusedError'",
            "assert attempt(dns) == 'gaierror'",
        ]
        result = check(code, tests)
        # a connection that got through would wait in the backlog, accepted or not
        for listener in (server, unix):
            listener.settimeout(0.2)
            with pytest.raises(TimeoutError):
                listener.accept()
    assert result.passed, result.reason


def test_concurrent_checks_do_not_disturb_each_other() -> None:
    """Correct checks that keep a file in /tmp and /dev/shm pass while hostile checks
    run beside them (killing every process they see, emptying /tmp and /dev/shm)."""
    keeper = (
        "import os, time\n"
        "def keep(text):\n"
        "    for folder in ('/tmp', '/dev/shm'):\n"
        "        with open(f'{folder}/note', 'w') as f:\n            f.write(text)\n"
        "    time.sleep(0.5)\n"
        "    return [open(f'{folder}/note').read() for folder in ('/tmp', '/dev/shm')]\n"
    )
    hostile = (
        "import os, shutil, signal, time\n"
        "def wreck():\n"
        "    for _ in range(20):\n"
        "        for folder in ('/tmp', '/dev/shm'):\n"
        "            for name in os.listdir(folder):\n"
        "                os.remove(os.path.join(folder, name))\n"
        "        try:\n            os.kill(-1, signal.SIGKILL)\n"
        "        except OSError:\n            pass\n"
        "        time.sleep(0.05)\n"
        "    return True\n"
    )

    async def main() -> list[CodeResult]:
        keepers = [
            run_tests(keeper, [f"assert keep('k{i}') == ['k{i}', 'k{i}']"], timeout_s=10)
            for i in range(3)
        ]
        wreckers = [run_tests(hostile, ["assert wreck()"], timeout_s=10) for _ in range(2)]
        return list(await asyncio.gather(*keepers, *wreckers))

    results = asyncio.run(main())
    assert all(r.passed for r in results), [r.reason for r in results]


# ------------------------------------------------------------ fail closed

RUN_ONE = """
import asyncio, json, os
from taskseed.runtime.code_check import run_tests
code = (
    "try:\\n    open({marker!r}, 'w').write('ran')\\nexcept OSError:\\n    pass\\n"
    "def add(a, b):\\n    return a + b\\n"
)
result = asyncio.run(run_tests(code, ["assert add(1, 2) == 3"], timeout_s=10))
print(json.dumps({{"uid": os.getuid(), "status": result.status, "reason": result.reason,
                  "isolation": result.isolation}}))
"""

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="setting up another caller's user namespace needs root"
)


def as_caller(mode: str, marker: Path) -> dict[str, object]:
    """Run one check as the caller `mode` describes (see caller.py)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.runtime.sandbox.caller", mode],
        input=RUN_ONE.format(marker=str(marker)),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@needs_root
@pytest.mark.parametrize(
    ("mode", "uid", "reason"),
    [
        (
            "nobody-no-userns",
            65534,
            "cannot create user namespaces as uid 65534: No space left on device "
            "(user.max_user_namespaces is 0 here)",
        ),
        (
            "root-no-userns",
            0,
            "cannot create user namespaces as uid 0: No space left on device "
            "(user.max_user_namespaces is 0 here)",
        ),
        (
            "root-only",
            0,
            "running as root, and uid/gid 65534 (nobody), which the sandbox runs as, "
            "is not mapped in this user namespace",
        ),
    ],
)
def test_without_its_isolation_the_check_refuses(
    mode: str, uid: int, reason: str, shared_folder: Path
) -> None:
    """A caller without user namespaces (or root with no uid to drop to) gets a refusal
    that says why, and the solution never runs: the marker it would write in a folder
    open to everyone does not appear."""
    marker = shared_folder / "ran.txt"
    report = as_caller(mode, marker)
    assert report["uid"] == uid
    assert report["status"] == "unavailable"
    assert report["reason"] == f"the code check cannot run: {reason}"
    assert not marker.exists()


@needs_root
def test_an_unprivileged_caller_with_user_namespaces_is_confined(shared_folder: Path) -> None:
    """As uid 65534 with no capability (a cluster node's user), the check runs, confined:
    the marker it writes lands in its private /tmp, not the machine's."""
    marker = shared_folder / "ran.txt"
    report = as_caller("nobody", marker)
    assert report["uid"] == 65534
    assert report["status"] == "passed", report["reason"]
    assert "uid 65534 inside, 65534 outside" in str(report["isolation"])
    assert not marker.exists()

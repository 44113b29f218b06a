"""Starting sandboxes from taskseed: the launcher as a subprocess, and what it says.

One fresh `python -I -S launcher.py` per code check, in a new session, with a stripped
environment, started with asyncio so the event loop never waits on it. It forks one
sandbox per role. Each sandbox has its own control pipe: its first line says whether it
is confined (`ready`) or why not (`refused`), the role may write more, and the
launcher's last line gives its exit status. `stop()` returns once every process of
the sandboxes has ended; and if taskseed itself dies, every one of them dies with it
(each process has a parent-death signal, up to the launcher).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LAUNCHER = Path(__file__).with_name("launcher.py")
MAX_LINE = 1024 * 1024
STDERR_TAIL = 4096
STOP_GRACE_S = 5.0
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


@dataclass(frozen=True, slots=True)
class Limits:
    memory_mb: int  # address space
    cpu_s: int  # CPU seconds
    file_mb: int  # largest file it may write
    processes: int  # tasks (processes and threads) of the sandbox, itself included
    open_files: int
    tmpfs_mb: int  # size of each of its /tmp and /dev/shm


@dataclass(slots=True)
class Spec:
    """One sandbox to start: its role, the role's arguments, the descriptors it keeps."""

    role: str
    args: dict[str, Any]
    fds: tuple[int, ...] = ()
    control: asyncio.StreamReader | None = field(default=None, repr=False)


class SandboxRefused(Exception):
    """A sandbox could not establish its isolation, so nothing ran in it."""


class Launch:
    """A launcher and its sandboxes, by role."""

    def __init__(self, process: asyncio.subprocess.Process, specs: dict[str, Spec]) -> None:
        self.process = process
        self.specs = specs
        self.stderr = b""
        self.transports: list[asyncio.BaseTransport] = []
        assert process.stderr is not None
        self._drain = asyncio.ensure_future(self._keep_stderr(process.stderr))

    @classmethod
    async def start(cls, specs: list[Spec], limits: Limits) -> Launch:
        loop = asyncio.get_running_loop()
        readers, writers = [], []
        try:
            for _ in specs:
                read, write = os.pipe()
                readers.append(read)
                writers.append(write)
            payload = {
                "parent": os.getpid(),
                "limits": asdict(limits),
                "sandboxes": [
                    {"role": s.role, "args": s.args, "fds": list(s.fds), "control": w}
                    for s, w in zip(specs, writers, strict=True)
                ],
            }
            kept = [fd for s in specs for fd in s.fds] + writers
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-I",
                    "-S",
                    str(LAUNCHER),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                    pass_fds=kept,
                    start_new_session=True,
                    env=ENV,
                    cwd="/",
                )
            except OSError as exc:
                for fd in readers:
                    os.close(fd)
                raise SandboxRefused(f"the sandbox launcher did not start: {exc}") from None
        finally:
            for fd in writers:
                os.close(fd)
        launch = cls(process, {s.role: s for s in specs})
        try:
            for spec, read in zip(specs, readers, strict=True):
                reader = asyncio.StreamReader(limit=MAX_LINE)
                pipe = os.fdopen(read, "rb", 0)  # closed with its transport from here on
                readers = [fd for fd in readers if fd != read]
                transport, _ = await loop.connect_read_pipe(
                    lambda reader=reader: asyncio.StreamReaderProtocol(reader),  # type: ignore[misc]
                    pipe,
                )
                launch.transports.append(transport)
                spec.control = reader
            assert process.stdin is not None
            process.stdin.write(json.dumps(payload).encode() + b"\n")
            with contextlib.suppress(ConnectionError):
                await process.stdin.drain()
        except BaseException:  # cancelled while starting: leave nothing running
            for fd in readers:
                os.close(fd)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            launch.close()
            raise
        return launch

    async def _keep_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr = (self.stderr + chunk)[-STDERR_TAIL:]

    async def line(self, role: str) -> dict[str, Any] | None:
        """The next JSON line on a sandbox's control channel; None at its end or for a
        line that is not a JSON object."""
        reader = self.specs[role].control
        assert reader is not None
        try:
            raw = await reader.readline()
        except ValueError:  # longer than MAX_LINE
            return None
        try:
            message = json.loads(raw) if raw else None
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    async def ready(self, role: str) -> str:
        """How the sandbox is confined; SandboxRefused when it is not."""
        message = await self.line(role)
        if message is None or "exit" in message:  # it ended without a word
            await asyncio.sleep(0)  # let the launcher's stderr arrive, if it is there
            tail = self.stderr.decode(errors="replace").strip().splitlines()[-1:]
            how = exit_reason(message.get("exit") if message else None)
            raise SandboxRefused(
                f"the sandbox ended ({how}) before it was ready"
                + (f": {tail[0][:200]}" if tail else "")
            )
        if message.get("sandbox") != "ready":
            raise SandboxRefused(str(message.get("reason", "refused without a reason")))
        return str(message.get("isolation", ""))

    async def exit_status(self, role: str) -> int | None:
        """The sandbox's exit status, once it has ended (skipping the role's lines)."""
        while (message := await self.line(role)) is not None:
            if isinstance(message.get("exit"), int):
                return int(message["exit"])
        return None

    async def stop(self) -> None:
        """End every process of its sandboxes and wait until none is left: SIGTERM asks
        the launcher to kill them and reap the last one, closing its stdin lets it
        exit; past STOP_GRACE_S its whole process group is killed."""
        if self.process.returncode is None:
            # Not Process.send_signal, which may reap the launcher behind asyncio's back;
            # the launcher stays alive until its stdin is closed, so the pid is its own.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(asyncio.shield(self.process.wait()), STOP_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        await self.wait()

    async def wait(self) -> int:
        status = await self.process.wait()
        await self._drain
        return status

    def close(self) -> None:
        for transport in self.transports:
            transport.close()


def exit_reason(status: int | None) -> str:
    """A sandbox's exit status (128 + n: killed by signal n) in words."""
    if status is None:
        return "its exit status is unknown"
    if status > 128 and status - 128 in signal.valid_signals():
        return f"killed by {signal.Signals(status - 128).name}"
    return f"exit status {status}"

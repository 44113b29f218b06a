"""The output folder is owned: a run writes only where it may, and only one at a time.

A run writes into a folder that does not exist yet, is empty, or holds the marker
file a previous taskseed run left (`.taskseed-output`); anything else needs `force`,
so that `-o` pointing at an unrelated folder never overwrites or deletes its files.
While a run writes, it holds an exclusive lock (`fcntl.flock` on `.taskseed.lock`,
which records its process ID): a second run into the same folder is refused with a
clear message, and the lock goes with the process, however it ends.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from pathlib import Path
from types import TracebackType

from taskseed.contract.version import VERSION

MARKER = ".taskseed-output"
LOCK = ".taskseed.lock"


class OutputFolderError(Exception):
    """An output folder the run may not, or cannot, write into: one line for the user."""


class OutputFolder:
    """`with OutputFolder(out, force=...):` checks the folder, marks it, locks it."""

    def __init__(self, out: Path, *, force: bool = False) -> None:
        self.out = out
        self.force = force
        self._fd: int | None = None

    def __enter__(self) -> OutputFolder:
        self.claim()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def claim(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise OutputFolderError(f"output folder {out} is a file, not a folder")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputFolderError(f"cannot create output folder {out}: {_why(exc)}") from None
        marker = out / MARKER
        try:
            used = not marker.exists() and any(out.iterdir())
        except OSError as exc:
            raise OutputFolderError(f"cannot read output folder {out}: {_why(exc)}") from None
        if used and not self.force:
            raise OutputFolderError(
                f"output folder {out} is not empty and was not written by taskseed (it has "
                f"no {MARKER}); choose an empty folder, or pass --force to write into it"
            )
        try:
            fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise OutputFolderError(f"cannot write to output folder {out}: {_why(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise OutputFolderError(
                    f"another taskseed run (process {holder}) is writing to {out}; wait for "
                    "it to finish, or choose another folder"
                ) from None
            raise OutputFolderError(f"cannot lock output folder {out}: {_why(exc)}") from None
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            if not marker.exists():
                marker.write_text(json.dumps({"taskseed": VERSION}) + "\n")
            probe = out / f".taskseed-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            self.release()
            raise OutputFolderError(f"cannot write to output folder {out}: {_why(exc)}") from None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__

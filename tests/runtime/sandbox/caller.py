"""Run a Python snippet as one of the callers the sandbox must handle, from a root test.

`python -m tests.runtime.sandbox.caller MODE` runs the snippet on stdin, in a new user
namespace the test process sets up (so the machine's own settings are left alone):

- `nobody`: uid/gid 65534 with no capabilities, user namespaces allowed (a cluster
  node where they are enabled);
- `nobody-no-userns`: the same with `user.max_user_namespaces` 0 (a node where they
  are disabled);
- `root-no-userns`: root with user namespaces disabled (a container whose profile
  forbids them);
- `root-only`: root of a user namespace that maps uid 0 alone, so there is no uid
  65534 to drop to.

Where the unprivileged user cannot reach the interpreter (pyenv under /root), a tmpfs
over the first closed folder shows just the interpreter's prefix, read-only.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from taskseed.runtime.sandbox import linux

MODES = ("nobody", "nobody-no-userns", "root-no-userns", "root-only")
NOBODY = 65534


def closed_ancestor(path: Path) -> Path | None:
    """The first folder above `path` that others may not enter."""
    for folder in reversed(path.parents):
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def expose_interpreter() -> None:
    prefix = Path(sys.base_prefix).resolve()
    closed = closed_ancestor(prefix)
    if closed is None:
        return
    source = os.open(prefix, os.O_PATH | os.O_DIRECTORY)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    linux.mount("tmpfs", str(closed), "tmpfs", 0, "mode=0755")
    os.makedirs(prefix)
    linux.mount(f"/proc/self/fd/{source}", str(prefix), None, linux.MS_BIND | linux.MS_REC)
    linux.set_readonly_recursively(str(prefix))
    os.close(source)


def main() -> None:
    mode = sys.argv[1]
    assert mode in MODES, mode
    code = sys.stdin.read()
    unshared_r, unshared_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        linux.unshare(linux.CLONE_NEWUSER | linux.CLONE_NEWNS)
        os.write(unshared_w, b"x")
        os.read(mapped_r, 1)
        if mode.endswith("no-userns"):
            Path("/proc/sys/user/max_user_namespaces").write_text("0")
        if mode.startswith("nobody"):
            expose_interpreter()
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
        os.execv(sys.executable, [sys.executable, "-c", code])
    os.read(unshared_r, 1)
    ids = "0 0 1\n" if mode == "root-only" else f"0 0 1\n{NOBODY} {NOBODY} 1\n"
    Path(f"/proc/{pid}/uid_map").write_text(ids)
    Path(f"/proc/{pid}/gid_map").write_text(ids)
    os.write(mapped_w, b"x")
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()

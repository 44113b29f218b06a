"""The sandbox launcher: a fresh `python -I -S launcher.py` that starts one or more
sandboxes, each running one role (`serve`: the solution; `judge`: the tests).

Input: one JSON line on stdin: the `parent` pid, the `limits`, and `sandboxes`, each
with its `role`, the role's `args`, its `control` descriptor and the descriptors `fds`
it keeps. Each sandbox is a process forked from the launcher that confines itself and
forks the process that runs the role. A control channel's first line is
`{"sandbox": "ready", "isolation": ...}` or `{"sandbox": "refused", "reason": ...}`,
written before any code of the role runs; the role may write more lines; when the
sandbox has ended, the launcher adds `{"exit": status}` (128 + n: killed by signal n;
75: refused). One interpreter start serves both sides of a code check.

Confinement, in this order (the same steps bubblewrap takes, done with the kernel's
own interfaces so that no system package is needed):

1. Outside, as the caller: die with the parent (`PR_SET_PDEATHSIG`); open the system
   folders (/usr, /lib*, /bin, /sbin) and the interpreter's prefix as O_PATH
   descriptors; a caller running as root drops to uid/gid 65534 (nobody) and no
   supplementary groups, and refuses to go on if it cannot; then enters new user,
   mount, PID, network, IPC and UTS namespaces in one `unshare` and maps its uid and
   gid to 65534 inside. Where that is not permitted, it refuses and says why.
2. The first process of the new PID namespace builds a root of its own: a small tmpfs
   holding read-only bind mounts of the folders opened in step 1 (recursively
   read-only, nosuid, nodev), /dev/null, zero, full, random and urandom, and fresh
   size-limited tmpfs mounts on /tmp (the working folder and HOME) and /dev/shm;
   nested user namespaces are disabled; `pivot_root` into it and detach the old root,
   so nothing else of the machine is reachable; the root itself is made read-only.
3. Limits (`setrlimit`): address space, CPU seconds, file size, processes, open files,
   no core files. Then every capability is dropped (bounding, ambient, inheritable,
   permitted, effective) and `no_new_privs` set.
4. Every step is checked before the role runs: the new root is the only thing
   visible, it and the system folders are read-only, no capability is left, the uid
   is 65534. Any failure refuses.

The network namespace is empty (not even loopback is up). The process is PID 1 of its
namespace: when it ends, the kernel kills everything it started; if the launcher dies
(the parent killed it, or the parent died), it is killed too.

Standard library only: runs outside the taskseed package and its virtual environment.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import json
import os
import resource
import select
import signal
import sys
import types

TYPE_CHECKING = False  # importing typing would cost every sandbox start
if TYPE_CHECKING:  # annotations only
    from typing import Any

REFUSED = 75
SANDBOX_ID = 65534  # uid and gid inside; also outside when the caller is root
STAGE = "/tmp"  # where the new root is built, inside the private mount namespace
SYSTEM = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")
WRITABLE = ("tmp", "dev/shm")


class Refused(Exception):
    """The sandbox cannot establish its isolation; nothing of the role runs."""


def say(fd: int, message: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(message) + "\n").encode())


def load(roles: list[str]) -> tuple[types.ModuleType, dict[str, types.ModuleType]]:
    """The syscall module and the roles' modules, imported from this folder as the
    package `sandbox` (never the taskseed package, whose dependencies are absent)."""
    for role in roles:
        if role not in ("serve", "judge"):
            raise Refused(f"unknown sandbox role {role!r}")
    package = types.ModuleType("sandbox")
    package.__path__ = [os.path.dirname(os.path.realpath(__file__))]
    sys.modules["sandbox"] = package
    linux = importlib.import_module("sandbox.linux")
    return linux, {role: importlib.import_module(f"sandbox.{role}") for role in roles}


def id_map(kind: str) -> list[tuple[int, int, int]]:
    with open(f"/proc/self/{kind}_map") as lines:
        return [tuple(int(x) for x in line.split()) for line in lines]  # type: ignore[misc]


def outer(kind: str, inner: int) -> int | None:
    """The id that `inner` maps to in the parent user namespace, None if unmapped."""
    for first, outside, count in id_map(kind):
        if first <= inner < first + count:
            return outside + inner - first
    return None


def write_maps(pid: str, target: tuple[int, int]) -> None:
    """Map `target` (uid, gid outside) to 65534 inside the new user namespace of `pid`."""
    try:
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny")
    except FileNotFoundError:
        pass
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(f"{SANDBOX_ID} {target[0]} 1\n")
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(f"{SANDBOX_ID} {target[1]} 1\n")


def _unescape(field: str) -> str:
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as lines:
        points = [_unescape(line.split()[4]) for line in lines]
    return sorted(p for p in points if p == path or p.startswith(path.rstrip("/") + "/"))


class Confinement:
    def __init__(self, linux: types.ModuleType, payload: dict[str, Any], parent: int) -> None:
        self.linux = linux
        self.parent = parent
        self.limits: dict[str, int] = payload["limits"]
        self.sources: list[tuple[str, int]] = []  # (path inside, O_PATH descriptor)
        self.links: list[tuple[str, str]] = []  # (path inside, symlink target)
        self.outside_uid = os.geteuid()

    # ------------------------------------------------------------ step 1, outside

    def watch_parent(self) -> None:
        self.linux.prctl(self.linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != self.parent:
            os._exit(1)  # the parent is already gone

    def outside(self) -> None:
        """Step 1: choose who the sandbox is outside, enter the namespaces, map that
        user to 65534 inside, open the folders to show, become 65534."""
        uid, gid = os.geteuid(), os.getegid()
        if (
            uid == 0
            and outer("uid", SANDBOX_ID) is not None
            and outer("gid", SANDBOX_ID) is not None
        ):
            target = (SANDBOX_ID, SANDBOX_ID)  # root: the sandbox is nobody outside too
            os.setgroups([])
        elif uid == 0 and outer("uid", 0) == 0:
            raise Refused(
                "running as root, and uid/gid 65534 (nobody), which the sandbox runs as, "
                "is not mapped in this user namespace"
            )
        else:  # an unprivileged user (or the root of a user namespace that maps to one)
            target = (uid, gid)
        self.outside_uid = target[0]
        # A map to another user than oneself must be written from the parent namespace:
        # by a helper forked before `unshare`.
        mapper = self.start_mapper(target) if target[0] != uid else None
        try:
            self.linux.unshare(
                self.linux.CLONE_NEWUSER
                | self.linux.CLONE_NEWNS
                | self.linux.CLONE_NEWPID
                | self.linux.CLONE_NEWNET
                | self.linux.CLONE_NEWIPC
                | self.linux.CLONE_NEWUTS
            )
        except OSError as exc:
            hint = {
                errno.ENOSPC: " (user.max_user_namespaces is 0 here)",
                errno.EPERM: " (not permitted by the kernel, seccomp or a security module)",
            }.get(exc.errno or 0, "")
            raise Refused(
                f"cannot create user namespaces as uid {uid}: {os.strerror(exc.errno or 0)}{hint}"
            ) from None
        if mapper is None:
            write_maps("self", target)
        else:
            self.finish_mapper(*mapper)
        self.open_sources()  # now, in the new mount namespace, as the caller
        os.setresgid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)
        os.setresuid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)
        self.watch_parent()  # a change of credentials clears the death signal

    def start_mapper(self, target: tuple[int, int]) -> tuple[int, int]:
        ready, go = os.pipe()
        launcher = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(go)
            if not os.read(ready, 1):
                os._exit(0)  # the launcher gave up
            try:
                write_maps(str(launcher), target)
            except OSError:
                os._exit(1)
            os._exit(0)
        os.close(ready)
        return pid, go

    def finish_mapper(self, pid: int, go: int) -> None:
        os.write(go, b"x")
        os.close(go)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise Refused(f"could not map uid {self.outside_uid} into the sandbox's namespace")

    def open_sources(self) -> None:
        for name in SYSTEM:
            path = "/" + name
            if os.path.islink(path):
                self.links.append((path, os.readlink(path)))
            elif os.path.isdir(path):
                self.add_source(path)
        for prefix in {sys.base_prefix, sys.base_exec_prefix}:
            covered = any(prefix == dst or prefix.startswith(dst + "/") for dst, _ in self.sources)
            if not covered and os.path.isdir(prefix):
                self.add_source(os.path.abspath(prefix))

    def add_source(self, path: str) -> None:
        self.sources.append((path, os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)))

    # ------------------------------------------------------------ steps 2-4, inside

    def build_root(self) -> None:
        linux, root = self.linux, STAGE
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        linux.mount("tmpfs", root, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=0755,size=256k")
        size = f"size={self.limits['tmpfs_mb']}m,nr_inodes=4096,mode=1777"
        for folder in WRITABLE:
            os.makedirs(f"{root}/{folder}")
            linux.mount(
                "tmpfs", f"{root}/{folder}", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, size
            )
        for device in DEVICES:
            os.close(os.open(f"{root}/dev/{device}", os.O_CREAT | os.O_WRONLY, 0o666))
            linux.mount(f"/dev/{device}", f"{root}/dev/{device}", None, linux.MS_BIND)
        for path, fd in self.sources:
            target = root + path
            os.makedirs(target, exist_ok=True)
            linux.mount(f"/proc/self/fd/{fd}", target, None, linux.MS_BIND | linux.MS_REC)
            os.close(fd)
            self.make_readonly(target)
        for path, destination in self.links:
            os.symlink(destination, root + path)
        try:  # no nested user namespace: the one way back to capabilities
            with open("/proc/sys/user/max_user_namespaces", "w") as f:
                f.write("0")
        except OSError:
            pass
        os.chdir(root)
        linux.pivot_root(".", ".")
        linux.umount(".", linux.MNT_DETACH)
        os.chdir("/")
        linux.mount(
            None,
            "/",
            None,
            linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV,
        )

    def make_readonly(self, target: str) -> None:
        linux = self.linux
        try:
            linux.set_readonly_recursively(target)
        except OSError:  # before Linux 5.12: each mount below it, one by one
            for point in mounts_under(target):
                linux.mount(
                    None,
                    point,
                    None,
                    linux.MS_REMOUNT
                    | linux.MS_BIND
                    | linux.MS_RDONLY
                    | linux.MS_NOSUID
                    | linux.MS_NODEV
                    | linux.mount_flags(point),
                )

    def set_limits(self) -> None:
        mb = 1024 * 1024
        for limit, value in (
            (resource.RLIMIT_AS, self.limits["memory_mb"] * mb),
            (resource.RLIMIT_CPU, self.limits["cpu_s"]),
            (resource.RLIMIT_FSIZE, self.limits["file_mb"] * mb),
            (resource.RLIMIT_NPROC, self.limits["processes"]),
            (resource.RLIMIT_NOFILE, self.limits["open_files"]),
            (resource.RLIMIT_CORE, 0),
        ):
            _, hard = resource.getrlimit(limit)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(limit, (value, value))

    def verify(self) -> None:
        expected = {"dev", "tmp"} | {p.split("/")[1] for p, _ in self.sources + self.links}
        seen = set(os.listdir("/"))
        if not seen <= expected:
            raise Refused(f"the old root is still visible: {sorted(seen - expected)}")
        for path in ["/", *(p for p, _ in self.sources)]:
            if not os.statvfs(path).f_flag & os.ST_RDONLY:
                raise Refused(f"{path} is writable inside the sandbox")
        left = self.linux.capabilities_left()
        if left:
            raise Refused(f"capabilities are left: {', '.join(left)}")
        if os.getresuid() != (SANDBOX_ID,) * 3:
            raise Refused(f"the sandbox runs as uid {os.getuid()}, not {SANDBOX_ID}")

    def inside(self, alive: int) -> str:
        linux = self.linux
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        if select.select([alive], [], [], 0)[0]:
            os._exit(1)  # the launcher died before the death signal was set
        os.close(alive)
        self.build_root()
        self.set_limits()
        os.chdir("/tmp")
        os.setsid()  # its process group holds nothing outside the sandbox
        linux.drop_capabilities()
        self.verify()
        return (
            "user, PID, network, mount, IPC and UTS namespaces; read-only root with the "
            "system folders and the interpreter only; private /tmp and /dev/shm; "
            f"uid {SANDBOX_ID} inside, {self.outside_uid} outside; no capabilities"
        )


def close_all_but(keep: set[int]) -> None:
    low = 0
    for fd in [*sorted(keep), 1 << 16]:
        if low < fd:  # os.closerange(n, n) would close everything from n on
            os.closerange(low, fd)
        low = fd + 1


def refuse(control: int, reason: str) -> None:
    say(control, {"sandbox": "refused", "reason": reason})
    os._exit(REFUSED)


def sandbox(
    linux: types.ModuleType, role: types.ModuleType, spec: dict[str, Any], payload: dict[str, Any]
) -> None:
    """One sandbox, in a process forked from the launcher: confine, then run the role
    in the first process of the new PID namespace. Never returns."""
    control = int(spec["control"])
    fds = {int(fd) for fd in spec["fds"]}
    close_all_but({0, 1, 2, control, *fds})
    try:
        confinement = Confinement(linux, payload, os.getppid())
        confinement.watch_parent()
        confinement.outside()
    except Refused as exc:
        refuse(control, str(exc))
    except Exception as exc:
        refuse(control, f"sandbox setup failed: {exc}")
    alive, alive_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(alive_w)
            isolation = confinement.inside(alive)
            close_all_but({control, *fds})
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            if null > 2:
                os.close(null)
        except Refused as exc:
            refuse(control, str(exc))
        except Exception as exc:
            refuse(control, f"sandbox setup failed: {exc}")
        say(control, {"sandbox": "ready", "isolation": isolation})
        code = 0
        try:
            role.main(spec["args"], control)
        except BaseException:
            code = 1
        os._exit(code)
    # this process only waits for the confined one, holding nothing of the role's
    close_all_but({alive_w})
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def main() -> None:
    """Start every sandbox of the payload, each in its own forked process, report each
    one's exit status on its control channel when it ends, and end when every process
    of every sandbox has ended and stdin is closed. SIGTERM stops them all: the launcher
    kills the sandboxes' processes, whose confined children die with them (their
    parent-death signal) and come back to it (a child subreaper), and it waits for the
    last one."""
    sandboxes: dict[int, int] = {}  # pid -> control channel
    stopping: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)
        for pid in list(sandboxes):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, stop)
    payload = json.loads(sys.stdin.buffer.readline())
    specs: list[dict[str, Any]] = payload["sandboxes"]
    try:
        linux, roles = load([spec["role"] for spec in specs])
        if sys.platform != "linux":
            raise Refused(f"the sandbox needs Linux namespaces; this is {sys.platform}")
        unsupported = linux.supported()
        if unsupported:
            raise Refused(unsupported)
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != int(payload["parent"]):
            os._exit(1)  # the parent is already gone
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    except Exception as exc:
        for spec in specs:
            say(int(spec["control"]), {"sandbox": "refused", "reason": str(exc)})
        os._exit(REFUSED)
    for spec in specs:
        if stopping:
            break
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            sandbox(linux, roles[spec["role"]], spec, payload)
        sandboxes[pid] = int(spec["control"])
        if stopping:
            os.kill(pid, signal.SIGKILL)
    close_all_but(set(sandboxes.values()))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        control = sandboxes.pop(pid, None)
        if control is not None:
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                say(control, {"exit": code if code >= 0 else 128 - code})
            os.close(control)
    # Alive until the parent closes stdin, so that its SIGTERM can never reach another
    # process that reused this pid.
    sys.stdin.buffer.read()
    os._exit(0)


if __name__ == "__main__":
    main()

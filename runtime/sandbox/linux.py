"""The Linux system calls the sandbox needs and Python does not wrap, through libc.

Standard library only: the launcher loads this module outside the taskseed package.
Every call raises `OSError` with the errno and the name of what failed.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MNT_DETACH = 0x2

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
AT_FDCWD = -100
AT_RECURSIVE = 0x8000

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

_CAPABILITY_VERSION_3 = 0x20080522

# System call numbers without a libc wrapper: x86-64 has its own table, arm64 the
# generic one; mount_setattr (Linux 5.12) has the same number everywhere.
_SYSCALLS = {
    "x86_64": {"capget": 125, "capset": 126, "pivot_root": 155, "mount_setattr": 442},
    "aarch64": {"capget": 90, "capset": 91, "pivot_root": 41, "mount_setattr": 442},
}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def _number(name: str) -> int:
    machine = os.uname().machine
    table = _SYSCALLS.get(machine)
    if table is None:
        raise OSError(0, f"{name}: no system call table for {machine}")
    return table[name]


def supported() -> str | None:
    """None where this module can work, else why not."""
    machine = os.uname().machine
    if machine not in _SYSCALLS:
        return f"the sandbox knows the system calls of {', '.join(_SYSCALLS)}, not {machine}"
    return None


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def umount(target: str, flags: int) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    _check(
        _libc.syscall(
            _number("pivot_root"),
            ctypes.c_char_p(new_root.encode()),
            ctypes.c_char_p(put_old.encode()),
        ),
        "pivot_root",
    )


def set_readonly_recursively(target: str) -> None:
    """Read-only, nosuid and nodev on `target` and every mount below it (Linux 5.12+)."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0)
    _check(
        _libc.syscall(
            _number("mount_setattr"),
            ctypes.c_int(AT_FDCWD),
            ctypes.c_char_p(target.encode()),
            ctypes.c_uint(AT_RECURSIVE),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr {target}",
    )


def prctl(option: int, arg: int = 0) -> int:
    return _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl {option}")


def drop_capabilities() -> None:
    """Empty the bounding, ambient, inheritable, permitted and effective sets, and set
    no_new_privs, so that nothing this process runs can gain a capability again."""
    cap = 0
    while True:  # up to the kernel's last capability, whatever its number
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError:
            break
        cap += 1
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.syscall(_number("capset"), ctypes.byref(header), ctypes.byref(data)), "capset")


def capabilities_left() -> list[str]:
    """Which capability sets are not empty (bounding counted from capability 0 on)."""
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.syscall(_number("capget"), ctypes.byref(header), ctypes.byref(data)), "capget")
    left = [
        name
        for name in ("effective", "permitted", "inheritable")
        if any(getattr(part, name) for part in data)
    ]
    cap = 0
    while True:
        try:
            if prctl(PR_CAPBSET_READ, cap):
                left.append("bounding")
                break
        except OSError:
            break
        cap += 1
    if prctl(PR_GET_NO_NEW_PRIVS) != 1:
        left.append("no_new_privs unset")
    return left


def mount_flags(path: str) -> int:
    """The MS_* flags a bind remount of `path` must keep (the kernel refuses to clear
    nosuid, nodev, noexec or the atime mode of a mount inherited from a parent namespace)."""
    flags = os.statvfs(path).f_flag
    kept = 0
    for st, ms in (
        (os.ST_NOSUID, MS_NOSUID),
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    ):
        if flags & st:
            kept |= ms
    return kept

"""Thin ctypes wrappers around the Linux calls the sandbox needs and Python 3.11 lacks.

    from nngpt_core.sandbox import linux
    linux.unshare(linux.CLONE_NEWNET)             # raises OSError on failure
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)

Every wrapper raises OSError with the errno on failure, so callers can degrade one layer at a
time. Only trusted sandbox code calls these, before any candidate code runs.
"""

from __future__ import annotations

import ctypes
import os
from functools import lru_cache

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
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 share this number (Linux 5.12+)
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (CLONE_NEW* flags)."""
    _check(_libc().unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """mount(2) with string arguments; None passes NULL."""

    def encode(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    _check(
        _libc().mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
        f"mount {target}",
    )


def make_tree_read_only(path: str = "/") -> None:
    """Make the mount at `path` and every mount below it read-only and nosuid (mount_setattr)."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)  # nodev would break /dev/null
    _check(
        _libc().syscall(
            ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(_AT_FDCWD), path.encode(),
            ctypes.c_uint(_AT_RECURSIVE), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        "mount_setattr",
    )


def prctl(option: int, value: int) -> None:
    """prctl(2) with one integer argument."""
    _check(
        _libc().prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)),
        f"prctl {option}",
    )


def map_user_to_root(uid: int, gid: int) -> None:
    """After unshare(CLONE_NEWUSER): be uid/gid 0 inside the new namespace and `uid`/`gid` (taken before it) outside."""
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)

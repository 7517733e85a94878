"""The audit-hook layer: inside a sandboxed candidate, refuse what candidate code has no business doing.

    from nngpt_core.sandbox.audit import install_audit_hook, first_violation
    install_audit_hook(scratch="/tmp", hidden=["/root"], visible=["/root/python"])   # irreversible
    ...                                                      # candidate code runs
    first_violation()                                        # "open for writing /etc/x", or None

Refused (SandboxViolation, a PermissionError): starting processes, sockets, ctypes, writing or
changing files outside the scratch directory, reading hidden paths or other processes' /proc
entries, signalling other processes, and gc introspection (which could reach this hook's state).
This is one layer among several: the OS layers (namespaces, uid, rlimits) are the boundary, since
a determined candidate may get around a Python-level hook. Every refusal is remembered so that
a candidate that swallows the exception is still reported.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PROCESS_EVENTS = frozenset({
    "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "os.startfile",
    "subprocess.Popen", "pty.spawn",
})
_INTROSPECTION_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
# Events whose leading arguments are paths that the candidate would create, change or remove.
_PATH_CHANGE_EVENTS = {
    "os.remove": 1, "os.rmdir": 1, "os.mkdir": 1, "os.chmod": 1, "os.chown": 1, "os.chflags": 1,
    "os.truncate": 1, "os.utime": 1, "os.setxattr": 1, "os.removexattr": 1, "os.mkfifo": 1, "os.mknod": 1,
    "os.rename": 2, "os.link": 2, "os.symlink": 2,
}
_SAFE_DEVICES = frozenset({"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"})

_violations: list[str] = []


class SandboxViolation(PermissionError):
    """Candidate code attempted something the sandbox refuses."""


def first_violation() -> str | None:
    """The first refused action of this process, if any."""
    return _violations[0] if _violations else None


def _resolve(path: Any) -> str | None:
    if isinstance(path, int):
        return None  # an already open descriptor: the OS decided when it was opened
    try:
        return os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return "<unresolvable path>"


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def is_hidden(path: str, hidden: list[str], visible: list[str]) -> bool:
    """Whether `path` falls under a hidden root, unless a deeper visible root brings it back."""
    hiding = max((len(root) for root in hidden if _under(path, root)), default=-1)
    showing = max((len(root) for root in visible if _under(path, root)), default=-1)
    return hiding > showing


def _other_process_entry(path: str) -> bool:
    parts = path.split("/")
    return len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and int(parts[2]) != os.getpid()


def _opens_for_writing(mode: Any, flags: Any) -> bool:
    if isinstance(flags, int) and flags & _WRITE_FLAGS:
        return True
    return isinstance(mode, str) and any(letter in mode for letter in "wax+")


def install_audit_hook(scratch: str, hidden: list[str], visible: list[str]) -> None:
    """Install the hook for the rest of this process's life (audit hooks cannot be removed)."""
    scratch = os.path.realpath(scratch)
    hidden = [os.path.realpath(path) for path in hidden]
    visible = [os.path.realpath(path) for path in visible]

    def refuse(what: str) -> None:
        _violations.append(what)
        raise SandboxViolation(f"sandbox refused: {what}")

    def writable(path: str | None) -> bool:
        return path is None or _under(path, scratch) or path in _SAFE_DEVICES

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path = _resolve(args[0])
            if path is None:
                return
            if _opens_for_writing(args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else None):
                if not writable(path):
                    refuse(f"open for writing {path}")
            elif is_hidden(path, hidden, visible) or _other_process_entry(path):
                refuse(f"reading {path}")
        elif event in _PATH_CHANGE_EVENTS:
            for raw in args[: _PATH_CHANGE_EVENTS[event]]:
                path = _resolve(raw)
                if not writable(path):
                    refuse(f"{event} on {path}")
        elif event in _PROCESS_EVENTS:
            refuse(f"starting a process ({event})")
        elif event.startswith("socket."):
            refuse(f"network access ({event})")
        elif event.startswith("ctypes."):
            refuse(f"foreign function access ({event})")
        elif event in ("os.kill", "os.killpg") and args and args[0] != os.getpid():
            refuse(f"signalling another process ({event})")
        elif event in _INTROSPECTION_EVENTS:
            refuse(f"heap introspection ({event})")

    sys.addaudithook(hook)

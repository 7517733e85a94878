"""Finding and removing what a sandboxed candidate left behind: processes and scratch files.

    from nngpt_core.sandbox.processes import kill_leftovers, leftover_pids, remove_tree
    kill_leftovers(root=os.getpid(), uid=sandbox_uid)    # returns once none is alive; raises if some survive
    leftover_pids(None, sandbox_uid)                      # what would be killed, e.g. for tests
    remove_tree(scratch)                                  # even where the candidate removed permissions

A leftover is a live process that descends from `root` (orphans are adopted by the warm worker,
a child subreaper) or that runs as the sandbox's dedicated uid. Zombies are reaped, not counted.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

SWEEP_ROUNDS = 500
SWEEP_PAUSE_S = 0.002


def reap_children() -> None:
    """Collect the exit status of every child of this process that has already exited."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def leftover_pids(root: int | None, uid: int | None) -> set[int]:
    """Live processes that descend from `root` (itself excluded) or run as `uid`."""
    children: dict[int, list[int]] = {}
    found: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue  # it exited while we looked
        if fields.get("State", "").strip().startswith(("Z", "X")):
            continue
        pid = int(name)
        children.setdefault(int(fields["PPid"]), []).append(pid)
        if uid is not None and int(fields["Uid"].split()[0]) == uid:
            found.add(pid)
    stack = list(children.get(root, [])) if root is not None else []
    while stack:
        pid = stack.pop()
        found.add(pid)
        stack.extend(children.get(pid, []))
    found.discard(os.getpid())
    return found


def kill_group(pgid: int) -> None:
    """SIGKILL a process group; a group that is already gone is fine."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_leftovers(root: int | None, uid: int | None) -> None:
    """SIGKILL leftovers until none is alive (a fork bomb is bounded by RLIMIT_NPROC, so this converges)."""
    for _ in range(SWEEP_ROUNDS):
        reap_children()
        leftovers = leftover_pids(root, uid)
        if not leftovers:
            return
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(SWEEP_PAUSE_S)
    raise RuntimeError(f"processes of a sandboxed candidate survive every kill: {sorted(leftovers)}")


def _force_remove(function, path, _exc_info) -> None:
    try:
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path):
            os.chmod(path, 0o700)
        function(path)
    except OSError:
        pass  # gone already, or truly stuck: nothing more to try


def remove_tree(path: str) -> None:
    """Remove a directory tree that a candidate may have made unwritable or unreadable."""
    shutil.rmtree(path, onerror=_force_remove)

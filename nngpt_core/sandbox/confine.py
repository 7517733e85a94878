"""Confining one sandboxed candidate, in two steps run inside the forked processes.

    isolate_monitor(...)      # in the monitor: new PID and mount namespaces, hidden paths, read-only root, scratch tmpfs
    confine_candidate(...)    # in the candidate (PID 1 of that namespace): fresh /proc, fds, env, rlimits, uid, no_new_privs

The warm worker (nngpt_core.sandbox.zygote) forks a monitor per candidate; the monitor forks the
candidate and waits for it. Each step degrades gracefully: a layer that the kernel refuses is
reported inactive with the reason, and the others still apply.
"""

from __future__ import annotations

import math
import os
import resource
import signal
from dataclasses import dataclass, field

from nngpt_core.sandbox import linux
from nngpt_core.sandbox.settings import LayerStatus, SandboxSettings

SCRATCH_IN_NAMESPACE = "/tmp"
OPEN_FILES_LIMIT = 256


@dataclass
class Confinement:
    """What the monitor set up, handed to the candidate it forks."""

    scratch: str
    uid: int | None  # the dedicated unprivileged uid, or None when not dropping privileges
    pid_ns: bool = False
    mount_ns: bool = False
    layers: list[LayerStatus] = field(default_factory=list)


def try_layer(layers: list[LayerStatus], settings: SandboxSettings, name: str, action, detail: str = "") -> bool:
    if not settings.enabled(name):
        layers.append(LayerStatus(name, False, "disabled"))
        return False
    try:
        action()
    except OSError as exc:
        layers.append(LayerStatus(name, False, exc.strerror or str(exc)))
        return False
    layers.append(LayerStatus(name, True, detail))
    return True


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def hide_paths(hidden: tuple[str, ...], visible: tuple[str, ...]) -> None:
    """Cover each hidden path with an empty tmpfs (a file with /dev/null), then bring back the visible
    paths inside them (bind mounts of what was there before): the deeper rule wins."""
    hidden = tuple(path for path in hidden if os.path.exists(path))
    keep = {path: os.open(path, os.O_PATH) for path in visible if os.path.exists(path)}
    covered: list[str] = []
    try:
        for path in sorted([*hidden, *keep], key=len):
            if path in keep:
                if any(_under(path, root) and path != root for root in covered):
                    os.makedirs(path, mode=0o755, exist_ok=True)
                    linux.mount(f"/proc/self/fd/{keep[path]}", path, None, linux.MS_BIND | linux.MS_REC)
            elif os.path.isdir(path):
                linux.mount("tmpfs", path, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=64k,mode=0755")
                covered.append(path)
            else:
                linux.mount("/dev/null", path, None, linux.MS_BIND)
    finally:
        for fd in keep.values():
            os.close(fd)
    for root in covered:
        linux.mount(None, root, None, linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV)


def isolate_monitor(settings: SandboxSettings, uid: int | None, host_scratch: str) -> Confinement:
    """Give the candidate about to be forked its own PID and mount namespaces (where the kernel allows)."""
    layers: list[LayerStatus] = []
    pid_ns = try_layer(layers, settings, "pid-ns", lambda: linux.unshare(linux.CLONE_NEWPID))
    mount_ns = try_layer(
        layers, settings, "mount-ns", lambda: linux.unshare(linux.CLONE_NEWNS | linux.CLONE_NEWIPC),
        f"scratch is a {settings.scratch_mb} MiB tmpfs",
    )
    if not mount_ns:
        layers.append(LayerStatus("read-only-root", False, "needs mount-ns"))
        return Confinement(host_scratch, uid, pid_ns, False, layers)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)  # nothing we mount propagates to the host
    hide_paths(settings.hidden_paths, settings.visible_paths)
    try_layer(layers, settings, "read-only-root", lambda: linux.make_tree_read_only("/"))
    options = f"size={settings.scratch_mb}m,mode=0700" + (f",uid={uid},gid={uid}" if uid is not None else "")
    # the scratch tmpfs covers /tmp: bring back, read-only, what must stay visible below it (a venv in /tmp)
    under_scratch = {path: os.open(path, os.O_PATH) for path in settings.visible_paths
                     if _under(path, SCRATCH_IN_NAMESPACE) and path != SCRATCH_IN_NAMESPACE and os.path.exists(path)}
    linux.mount("tmpfs", SCRATCH_IN_NAMESPACE, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, options)
    for path, fd in sorted(under_scratch.items()):
        os.makedirs(path, mode=0o755, exist_ok=True)
        linux.mount(f"/proc/self/fd/{fd}", path, None, linux.MS_BIND | linux.MS_REC)
        linux.mount(None, path, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY)
        os.close(fd)
    return Confinement(SCRATCH_IN_NAMESPACE, uid, pid_ns, True, layers)


def _close_other_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the descriptor of the listing itself, already gone


def _address_space_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("VmSize missing from /proc/self/status")


def _set_limits(settings: SandboxSettings, confinement: Confinement) -> list[LayerStatus]:
    layers: list[LayerStatus] = []
    cpu_seconds = math.ceil(settings.timeout_s * max(1, settings.threads)) + 1
    if settings.resident:  # one process serves up to recycle_after requests, plus its warm-up
        cpu_seconds *= settings.recycle_after + 1

    def memory() -> None:
        limit = _address_space_bytes() + settings.memory_limit_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    if settings.memory_limit_mb is None:
        layers.append(LayerStatus("rlimit-memory", False, "off (CUDA reserves address space)", needed=False))
    else:
        try_layer(layers, settings, "rlimit-memory", memory, f"+{settings.memory_limit_mb} MiB above the worker")
    try_layer(layers, settings, "rlimit-cpu",
               lambda: resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1)), f"{cpu_seconds} s")
    if confinement.uid is None:
        layers.append(LayerStatus("rlimit-processes", False, "needs uid-drop (limits count per uid)"))
    else:
        try_layer(layers, settings, "rlimit-processes",
                   lambda: resource.setrlimit(resource.RLIMIT_NPROC, (settings.max_processes,) * 2),
                   f"{settings.max_processes} tasks")
    file_bytes = settings.output_limit_kb * 1024

    def files() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_LIMIT, OPEN_FILES_LIMIT))

    try_layer(layers, settings, "rlimit-files", files, f"files <= {settings.output_limit_kb} KiB, {OPEN_FILES_LIMIT} open")
    return layers


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _die_with_monitor(monitor_pid: int) -> None:
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != monitor_pid:  # the monitor died before the line above took effect
        os._exit(1)


def confine_candidate(
    settings: SandboxSettings, confinement: Confinement, monitor_pid: int, output_fd: int, keep_fds: set[int],
    environment: dict[str, str],
) -> list[LayerStatus]:
    """Confine this freshly forked candidate process; returns the layers of this step and the monitor's."""
    _die_with_monitor(monitor_pid)
    layers = list(confinement.layers)
    if confinement.pid_ns and confinement.mount_ns:
        linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    _close_other_fds(keep_fds)
    os.chdir(confinement.scratch)
    os.environ.clear()
    os.environ.update(environment, HOME=confinement.scratch, TMPDIR=confinement.scratch)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead of killing
    layers += _set_limits(settings, confinement)
    if confinement.uid is not None:
        _drop_privileges(confinement.uid)
        _die_with_monitor(monitor_pid)  # a uid change clears the parent-death signal
        layers.append(LayerStatus("uid-drop", True, f"uid {confinement.uid}"))
    try_layer(layers, settings, "no-new-privs", lambda: linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1))
    return layers

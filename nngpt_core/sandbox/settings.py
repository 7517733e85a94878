"""What a warm sandbox worker needs to know: limits, hidden paths, the entry point, and the layers.

    from nngpt_core.sandbox.settings import SandboxSettings, LAYERS
    settings = SandboxSettings(entry="nngpt_core.evaluate.runner:run", timeout_s=30)
    SandboxSettings.from_dict(settings.to_dict()) == settings      # travels as JSON
    SandboxSettings(entry=..., resident=True, recycle_after=64)    # one long-lived sandboxed process per worker (GPU)

`LAYERS` names every isolation layer with a one-line description; `nngpt doctor` prints which of
them are active on this machine. Settings travel from the parent to the worker as JSON, never pickle.

Two ways to run requests, with the same layers (docs/evaluation.md, "Worker modes"):
fork (default): the warm worker forks one confined process per request; nothing survives a request.
resident: the warm worker forks one confined process that serves requests one after another and is
replaced after a failure, a crash, a leftover thread or process, or `recycle_after` requests. CUDA
cannot be initialised before a fork, so this is how a GPU is used without paying CUDA start-up
and the data upload per candidate: the resident process initialises CUDA once, after its fork.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

LAYERS: dict[str, str] = {
    "clean-env": "environment without the host's variables (no database URL, tokens or paths)",
    "session": "own session and process group, killed as a whole",
    "subreaper": "the warm worker adopts orphans, so no descendant escapes the sweep",
    "user-ns": "unprivileged user namespace, to create the other namespaces without root",
    "uid-drop": "runs as a dedicated unprivileged uid (when started as root): other users' files are unreadable",
    "net-ns": "empty network namespace: no network, not even loopback",
    "pid-ns": "own PID namespace: host processes are invisible and the whole tree dies with the candidate",
    "mount-ns": "own mount namespace: private scratch tmpfs on /tmp, fresh /proc, hidden paths",
    "read-only-root": "every mount except the scratch directory is read-only",
    "rlimit-memory": "RLIMIT_AS: address space above the warm worker's baseline",
    "rlimit-cpu": "RLIMIT_CPU: CPU seconds",
    "rlimit-processes": "RLIMIT_NPROC: processes and threads of the sandbox uid",
    "rlimit-files": "RLIMIT_FSIZE, RLIMIT_NOFILE and no core dumps",
    "no-new-privs": "PR_SET_NO_NEW_PRIVS: setuid binaries grant nothing",
    "audit-hook": "Python audit hook refusing processes, sockets, ctypes and writes outside scratch",
}
ROOT_ONLY_LAYERS = ("uid-drop", "rlimit-processes")  # a dedicated uid, and so a per-uid process limit, need root
UNPRIVILEGED_LAYERS = tuple(name for name in LAYERS if name not in ROOT_ONLY_LAYERS)


@dataclass(frozen=True)
class LayerStatus:
    """Whether one isolation layer is active for sandboxed processes, and why (not).

    `needed` is False for a layer that is inactive because nothing needs it here (the user namespace
    when started as root; the address-space limit on CUDA): a requirement of it is met.
    """

    name: str
    active: bool
    detail: str = ""
    needed: bool = True

    def to_list(self) -> list[Any]:
        return [self.name, self.active, self.detail, self.needed]

    @classmethod
    def from_list(cls, item: list[Any]) -> LayerStatus:
        name, active, detail, needed = item
        return cls(str(name), bool(active), str(detail), bool(needed))


@dataclass(frozen=True)
class SandboxSettings:
    """Limits and wiring of one pool of warm sandbox workers."""

    entry: str  # "module:function" called per request as entry(request, tensors, lock_down) -> (payload, reusable); "" = none (a layer probe)
    preload: tuple[str, ...] = ()  # modules each warm worker imports once, before forking candidates
    warmup: str = ""  # "module:function" called as warmup(request, tensors) to initialise lazily loaded code once
    warmup_request: dict[str, Any] = dataclasses.field(default_factory=dict)  # its request (the worker runs it on the CPU)
    resident: bool = False  # one long-lived sandboxed process per worker instead of one per request
    recycle_after: int = 64  # resident: requests one process serves before it is replaced
    timeout_s: float = 60.0
    memory_limit_mb: int | None = 4096  # address space above the worker's baseline; None = unlimited (CUDA)
    max_processes: int = 16
    output_limit_kb: int = 1024  # stdout+stderr bytes before the candidate is stopped; also RLIMIT_FSIZE
    scratch_mb: int = 64
    threads: int = 1
    hidden_paths: tuple[str, ...] = ()
    visible_paths: tuple[str, ...] = ()  # stay visible inside hidden ones (the Python installation under a hidden home)
    disabled_layers: tuple[str, ...] = ()  # for tests of the remaining layers; never in production
    result_limit_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        unknown = set(self.disabled_layers) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown sandbox layers: {', '.join(sorted(unknown))}")

    def enabled(self, layer: str) -> bool:
        return layer not in self.disabled_layers

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxSettings:
        fields = {field.name: field for field in dataclasses.fields(cls)}
        values = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items() if key in fields}
        return cls(**values)

"""The sandbox fails closed: the layers a run requires, and one line naming a missing one and how to get it.

    from nngpt_core.sandbox.require import check_layers, required_layers
    required = required_layers(cfg.evaluation.sandbox.require)   # the config's, plus NNGPT_SANDBOX_REQUIRE
    check_layers(pool.layers, required)                          # SandboxRefused when one is missing

`evaluation.sandbox.require` is a list of layer names (nngpt_core.sandbox.settings.LAYERS) or `all`.
A machine's operator can add to it with NNGPT_SANDBOX_REQUIRE (names separated by commas, or `all`):
a flow run's parameters cannot take away what the machine requires (the Docker worker image sets
`all`). A layer that is inactive because it is not needed counts as present: the user namespace
when the worker starts as root (root creates the other namespaces itself), the address-space limit
on CUDA (CUDA maps far more address space than it uses; see docs/evaluation.md).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence

from nngpt_core.errors import NngptError
from nngpt_core.sandbox.settings import LAYERS, LayerStatus, SandboxSettings

REQUIRE_ENV = "NNGPT_SANDBOX_REQUIRE"
_NAMESPACES = ("needs CAP_SYS_ADMIN: start nngpt as root with its capabilities, or as a user with unprivileged user "
               "namespaces; in Docker add cap_add SYS_ADMIN and security_opt apparmor=unconfined, "
               "systempaths=unconfined (docs/evaluation.md)")
HOW_TO_GET: dict[str, str] = {
    "clean-env": "the warm worker always starts with a clean environment: reinstall nngpt",
    "session": "the warm worker always starts in its own session: reinstall nngpt",
    "subreaper": "needs Linux 3.4 or later (prctl PR_SET_CHILD_SUBREAPER)",
    "user-ns": "start nngpt as root, or allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0; "
               "on Ubuntu 24.04 and later also kernel.apparmor_restrict_unprivileged_userns=0)",
    "uid-drop": "start the process that evaluates (nngpt run, nngpt worker) as root; the Docker worker image runs as root",
    "net-ns": _NAMESPACES,
    "pid-ns": _NAMESPACES,
    "mount-ns": _NAMESPACES,
    "read-only-root": "needs mount-ns and Linux 5.12 or later (mount_setattr); in Docker a seccomp profile that "
                      "allows mount_setattr (docs/evaluation.md)",
    "rlimit-memory": "raise the hard address-space limit (ulimit -Hv unlimited) of the process that starts nngpt",
    "rlimit-cpu": "raise the hard CPU-time limit (ulimit -Ht unlimited) of the process that starts nngpt",
    "rlimit-processes": "needs uid-drop: start the process that evaluates as root",
    "rlimit-files": "raise the hard file-size and open-file limits (ulimit -Hf, -Hn) of the process that starts nngpt",
    "no-new-privs": "needs Linux 3.5 or later (prctl PR_SET_NO_NEW_PRIVS)",
    "audit-hook": "it is only ever off in the sandbox's own tests: reinstall nngpt",
}


class SandboxRefused(NngptError):
    """A layer the run requires is missing on this machine: evaluation does not start."""


def parse_layers(text: str, source: str) -> tuple[str, ...]:
    """`all` or layer names separated by commas, in LAYERS order; NngptError on an unknown name."""
    if text.strip() == "all":
        return tuple(LAYERS)
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(LAYERS))
    if unknown:
        raise NngptError(f"{source}: unknown sandbox layers {', '.join(unknown)} (known: {', '.join(LAYERS)})")
    return tuple(name for name in LAYERS if name in names)


def required_layers(require: Sequence[str] | str) -> tuple[str, ...]:
    """The configured requirement (a list or "all") plus NNGPT_SANDBOX_REQUIRE, in LAYERS order."""
    names = set(LAYERS) if require == "all" else set(require)
    names.update(parse_layers(os.environ.get(REQUIRE_ENV, ""), REQUIRE_ENV))
    return tuple(name for name in LAYERS if name in names)


def missing_layers(layers: Iterable[LayerStatus], required: Iterable[str]) -> list[LayerStatus]:
    """The required layers that the sandbox does not provide (not reported, or inactive although needed)."""
    reported = {layer.name: layer for layer in layers}
    missing = []
    for name in required:
        layer = reported.get(name, LayerStatus(name, False, "not reported by the sandbox"))
        if not layer.active and layer.needed:
            missing.append(layer)
    return missing


def refusal(missing: Sequence[LayerStatus]) -> str:
    """One line: the first missing layer, why, how to get it, and the others that are missing too."""
    first = missing[0]
    also = f"; also missing: {', '.join(layer.name for layer in missing[1:])}" if len(missing) > 1 else ""
    return (f"sandbox layer {first.name} is missing ({first.detail or 'inactive'}): {HOW_TO_GET[first.name]}{also}. "
            f"Evaluation refuses to run without it (evaluation.sandbox.require, {REQUIRE_ENV})")


def check_layers(layers: Iterable[LayerStatus], required: Iterable[str]) -> None:
    """Raise SandboxRefused (one line) when a required layer is missing."""
    missing = missing_layers(layers, required)
    if missing:
        raise SandboxRefused(refusal(missing))


def probe_layers(settings: SandboxSettings) -> list[LayerStatus]:
    """The layers a candidate would get under `settings`, from one worker that imports nothing for candidates.

    About a second, where a full worker spends many importing torch: what `nngpt run` checks before it starts.
    """
    from nngpt_core.sandbox.pool import SandboxPool

    with SandboxPool(dataclasses.replace(settings, entry="", preload=(), warmup="", warmup_request={}, resident=False), tensors=None, workers=1) as pool:
        return pool.layers

"""Has a candidate changed the shared library state that later candidates in the same process rely on?

    remember_library_state()            # after the warm-up, before any candidate
    ...                                 # a candidate runs
    library_changes()                   # [] or e.g. ["global module hooks", "torch.Tensor.argmax"]

A resident sandboxed process (nngpt_core.sandbox.resident) runs many candidates one after another.
A candidate that replaces a torch or numpy function, one of the evaluator's own, registers a global
module hook or leaves a torch function mode active could change how the next candidate computes or
how its result is written, so the runner checks after every candidate: a change makes the candidate
`forbidden` and the process is replaced. Names that appear (a lazily imported submodule) are not
changes; names that are rebound or removed are. This is a check of the Python-level state, one
layer of defence in depth; fork mode, where nothing outlives a candidate, needs none.
"""

from __future__ import annotations

import builtins
import importlib
import json
import math
import os
import struct

import numpy
import torch
import torch.nn.modules.module as module_globals
from torch import nn

_baseline: dict[str, int] | None = None
_GLOBAL_HOOKS = (
    "_global_buffer_registration_hooks", "_global_module_registration_hooks", "_global_parameter_registration_hooks",
    "_global_backward_pre_hooks", "_global_backward_hooks", "_global_forward_pre_hooks", "_global_forward_hooks",
    "_global_forward_hooks_with_kwargs",
)


# What turns a candidate's outputs into the bytes the parent scores: rebinding any of it could
# forge the results of the candidates that follow.
_OWN_MODULES = (
    "nngpt_core.evaluate.runner", "nngpt_core.evaluate.wire", "nngpt_core.evaluate.placement", "nngpt_core.evaluate.failures",
    "nngpt_core.evaluate.fingerprint", "nngpt_core.evaluate.recipe", "nngpt_core.data.tensors", "nngpt_core.sandbox.resident",
    "nngpt_core.sandbox.protocol", "nngpt_core.sandbox.audit",
)


def _watched() -> list[tuple[str, object]]:
    objects: list[tuple[str, object]] = [
        ("torch", torch), ("torch.nn", nn), ("torch.nn.functional", torch.nn.functional), ("torch.nn.init", torch.nn.init),
        ("torch.optim", torch.optim), ("torch.autograd", torch.autograd), ("torch.Tensor", torch.Tensor),
        ("builtins", builtins), ("math", math), ("numpy", numpy), ("numpy.ndarray", numpy.ndarray), ("json", json),
        ("os", os), ("struct", struct),
    ]
    objects += [(name, importlib.import_module(name)) for name in _OWN_MODULES]
    objects += [(f"torch.nn.{name}", value) for name, value in sorted(vars(nn).items()) if isinstance(value, type)]
    objects += [(f"torch.optim.{name}", value) for name, value in sorted(vars(torch.optim).items()) if isinstance(value, type)]
    return objects


def library_state() -> dict[str, int]:
    """Identity of every attribute of the watched torch objects, plus the global hook and mode counts."""
    state = {f"{owner}.{name}": id(value) for owner, obj in _watched() for name, value in list(vars(obj).items())}
    state["global module hooks"] = sum(len(getattr(module_globals, name, ())) for name in _GLOBAL_HOOKS)
    state["active torch function modes"] = torch._C._len_torch_function_stack()
    state["active torch dispatch modes"] = torch._C._len_torch_dispatch_stack()
    state["grad mode"] = int(torch.is_grad_enabled())
    state["default dtype"] = id(torch.get_default_dtype())
    return state


def remember_library_state() -> None:
    """Take the state later candidates are checked against (this module is not watched, so keeping it here is safe)."""
    global _baseline
    _baseline = library_state()


def library_changes() -> list[str]:
    """What differs from the remembered state: rebound or removed attributes, changed counts, and names added
    to a class (they shadow what its bases define); names added to a module (lazily imported submodules) are
    fine. Empty when no state was remembered."""
    if _baseline is None:
        return []
    baseline = _baseline
    now = library_state()
    changed = {name for name, value in baseline.items() if now.get(name) != value}
    changed |= {name for name in now.keys() - baseline.keys() if name.rpartition(".")[0] in _class_names()}
    return sorted(changed)


def _class_names() -> set[str]:
    return {owner for owner, obj in _watched() if isinstance(obj, type)}

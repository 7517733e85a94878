"""The device candidates train on: `evaluation.device` resolved on the machine that evaluates them.

    resolve_evaluation_device("auto")     # 'cuda' where this machine has a CUDA device, else 'cpu'
    resolve_evaluation_device("cuda:1")   # 'cuda:1', or ConfigError (one line) where there is no such device

`auto` is what the deployments use: a flow run started from the Prefect UI evaluates on the GPU of
a GPU worker and on the CPU of a CPU-only one. The CUDA check counts devices through NVML where it
can, so it does not initialize CUDA in the parent of the sandbox's forked workers.
"""

from __future__ import annotations

from nngpt_core.config import DEVICE_PATTERN
from nngpt_core.errors import ConfigError


def cuda_device_count() -> int:
    import torch

    return torch.cuda.device_count()  # 0 without CUDA; NVML-based where it can, so fork-safe


def resolve_evaluation_device(spec: str) -> str:
    """auto -> cuda or cpu; cpu, cuda and cuda:N are checked against this machine's devices."""
    if not DEVICE_PATTERN.match(spec):
        raise ConfigError(f"evaluation.device: unknown device '{spec}' (use auto, cpu, cuda or cuda:N)")
    if spec == "cpu":
        return spec
    count = cuda_device_count()
    if spec == "auto":
        return "cuda" if count > 0 else "cpu"
    index = int(spec.partition(":")[2] or 0)
    if index >= count:
        found = f"{count} CUDA device(s)" if count else "no CUDA device"
        raise ConfigError(f"evaluation.device: '{spec}' requested but this machine has {found} (use auto or cpu)")
    return spec

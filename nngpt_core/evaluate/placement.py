"""How a sandboxed evaluation uses its device: resident data, batch transforms, precision and memory format.

    plan = DevicePlan.from_request(request)
    data = plan.resident(tensors)                     # train_x / train_y / test_x on the device, uploaded once per process
    with plan.precision():                            # bf16 autocast where the request asks for it
        logits = model(plan.inputs(images))           # resized to the recipe's image size, channels_last when on
    plan.release()                                    # after a candidate: free what it cached on the GPU

Runs inside the sandbox (fork mode: one process per candidate; resident mode: one long-lived
process per worker that keeps the uploaded data for every candidate it runs). Everything works on
whole batches already on the device: resizing is one `F.interpolate` per batch, never per sample.
channels_last is tried on the first forward pass and dropped for a model that cannot take it (a
`view` on a permuted tensor), so it changes speed, never a candidate's status.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

DATA_KEYS = ("train_x", "train_y", "test_x")
# Errors after which the CUDA context of this process cannot be trusted any more.
_DEVICE_FAULT = re.compile(
    r"CUDA error|illegal memory access|illegal instruction|device-side assert|misaligned address|CUBLAS_STATUS"
    r"|CUDNN_STATUS|cuDNN error|CUDA driver|unspecified launch failure|an illegal address|NCCL error",
    re.I,
)

_resident: dict[tuple, dict[str, torch.Tensor]] = {}  # (device, source) -> uploaded tensors; one entry at a time


def is_device_fault(exc: BaseException) -> bool:
    """Whether `exc` leaves the GPU context unusable (illegal address, device assert, driver error); OOM does not."""
    return isinstance(exc, RuntimeError) and not isinstance(exc, torch.cuda.OutOfMemoryError) and bool(
        _DEVICE_FAULT.search(str(exc)))


@dataclass
class DevicePlan:
    """The device, precision, memory format and input size one evaluation request asks for."""

    device: torch.device
    bf16: bool = False
    channels_last: bool = False
    image_size: int | None = None

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> DevicePlan:
        return cls(
            device=torch.device(request["device"]), bf16=request.get("precision") == "bfloat16",
            channels_last=bool(request.get("channels_last")), image_size=request.get("image_size"),
        )

    def resident(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The data tensors on this plan's device; uploaded on first use and kept for later requests."""
        if self.device.type == "cpu":
            return {key: tensors[key] for key in DATA_KEYS}
        key = (str(self.device), *((tensors[name].data_ptr(), tuple(tensors[name].shape)) for name in DATA_KEYS))
        if key not in _resident:
            _resident.clear()  # a warm-up slice is replaced by the real data, never kept beside it
            _resident[key] = {name: tensors[name].to(self.device) for name in DATA_KEYS}
        return _resident[key]

    def in_shape(self, stored: tuple[int, ...]) -> tuple[int, ...]:
        """The (C, H, W) a model sees: the stored shape, resized when the recipe asks for it."""
        if self.image_size is None or len(stored) != 3:
            return stored
        return (stored[0], self.image_size, self.image_size)

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """A batch as the model gets it: resized on the device, in channels_last when that is on."""
        if self.image_size is not None and images.ndim == 4 and images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        if self.channels_last and images.ndim == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def precision(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on the plan's device when asked for, else nothing."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def adopt_memory_format(self, model: nn.Module, first_forward) -> Any:
        """Run `first_forward()` with the model in channels_last; on a layout error, fall back for good.

        Returns what `first_forward` returned. Errors that have nothing to do with the layout propagate.
        """
        if not self.channels_last:
            return first_forward()
        model.to(memory_format=torch.channels_last)
        try:
            return first_forward()
        except RuntimeError as exc:
            if "view size is not compatible" not in str(exc) and "stride" not in str(exc):
                raise
        self.channels_last = False
        model.to(memory_format=torch.contiguous_format)
        return first_forward()

    def release(self) -> None:
        """Free what the finished candidate left cached (its tensors are gone with its objects)."""
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def batches(plan: DevicePlan, batches_in: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """`batches_in` with every input batch transformed for the model (see DevicePlan.inputs)."""
    for inputs, labels in batches_in:
        yield plan.inputs(inputs), labels

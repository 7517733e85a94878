"""Tensor-resident datasets: the `DatasetTensors` bundle, batching, augmentation and subsets.

    from nngpt_core.data import load_dataset, iterate_batches
    ds = load_dataset("digits32")
    for xb, yb in iterate_batches(ds.train_x, ds.train_y, 32, augment=True, hflip=ds.hflip):
        ...

Everything works on whole batches of tensors on whatever device they live on: no per-sample
Python work and no PIL in the hot path. Randomness comes from an optional torch.Generator, so a
seeded run reproduces its batch order and augmentation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class DatasetTensors:
    """A whole dataset in memory: normalized float images (N, C, H, W) and int64 labels."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    in_shape: tuple[int, int, int]
    hflip: bool = False  # whether a horizontal flip preserves the label (not for digits or house numbers)

    @property
    def chance(self) -> float:
        """Accuracy of a uniform random guess."""
        return 1.0 / self.num_classes

    def to(self, device: torch.device | str) -> DatasetTensors:
        """A copy with all four tensors on `device` (the cached CPU original is left untouched)."""
        return dataclasses.replace(
            self,
            train_x=self.train_x.to(device), train_y=self.train_y.to(device),
            test_x=self.test_x.to(device), test_y=self.test_y.to(device),
        )


def iterate_batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    augment: bool = False,
    hflip: bool = True,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (inputs, labels) batches of `x`, `y` in one pass.

    augment: random crop with zero padding (1/8 of the image side) on every batch, plus a random
    horizontal flip when `hflip` (pass DatasetTensors.hflip). drop_last: skip a final short batch
    (BatchNorm cannot train on a batch of one sample).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    count = x.shape[0]
    if y.shape[0] != count:
        raise ValueError(f"{count} inputs but {y.shape[0]} labels")
    order = torch.randperm(count, generator=generator, device=_device_of(generator)).to(x.device) if shuffle else None
    stop = count - count % batch_size if drop_last else count
    for start in range(0, stop, batch_size):
        if order is None:
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        else:
            index = order[start:start + batch_size]
            xb, yb = x[index], y[index]
        if augment:
            xb = random_crop(xb, generator=generator)
            if hflip:
                xb = random_hflip(xb, generator=generator)
        yield xb, yb


def _device_of(generator: torch.Generator | None) -> torch.device:
    """Random numbers are drawn where the generator lives (CPU by default), then moved to the data."""
    return generator.device if generator is not None else torch.device("cpu")


def random_crop(batch: torch.Tensor, padding: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image shifted by its own random offset within a zero border of `padding` pixels."""
    size, _, height, width = batch.shape
    if padding is None:
        padding = max(1, min(height, width) // 8)
    padded = F.pad(batch, (padding, padding, padding, padding))
    draw_on = _device_of(generator)
    offset_y = torch.randint(0, 2 * padding + 1, (size,), generator=generator, device=draw_on).to(batch.device)
    offset_x = torch.randint(0, 2 * padding + 1, (size,), generator=generator, device=draw_on).to(batch.device)
    rows = offset_y[:, None] + torch.arange(height, device=batch.device)  # (B, H)
    cols = offset_x[:, None] + torch.arange(width, device=batch.device)  # (B, W)
    samples = torch.arange(size, device=batch.device)[:, None, None]
    # Advanced indices around a slice put their dimensions first: (B, H, W, C).
    cropped = padded[samples, :, rows[:, :, None], cols[:, None, :]]
    return cropped.permute(0, 3, 1, 2).contiguous()


def random_hflip(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = torch.rand(batch.shape[0], generator=generator, device=_device_of(generator)).to(batch.device) < 0.5
    return torch.where(flip[:, None, None, None], batch.flip(-1), batch)


def subset_indices(labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Indices of `size` samples, stratified by label where every class can be represented, else seeded random."""
    count = len(labels)
    if size is None or size >= count:
        return np.arange(count)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    if size < len(classes):
        return np.sort(rng.choice(count, size=size, replace=False))
    # Largest-remainder allocation of `size` over classes in proportion to their frequency.
    exact = counts * size / count
    quota = np.floor(exact).astype(int)
    remainder_order = np.argsort(-(exact - quota), kind="stable")
    quota[remainder_order[: size - quota.sum()]] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == cls), size=take, replace=False)
        for cls, take in zip(classes, quota)
    ]
    return np.sort(np.concatenate(chosen))


def normalize_images(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(images - mean) / std per channel, for float images (N, C, H, W) scaled to [0, 1]."""
    mean_t = torch.tensor(mean, dtype=images.dtype).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=images.dtype).view(1, -1, 1, 1)
    return (images - mean_t) / std_t


def uint8_to_tensor(images: np.ndarray | torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 images, (N, H, W, C) or (N, C, H, W) or (N, H, W), as float (N, C, H, W) in [0, 1]."""
    tensor = torch.as_tensor(np.asarray(images))
    if tensor.ndim == 3:
        tensor = tensor[:, None]
    elif channels_last:
        tensor = tensor.permute(0, 3, 1, 2)
    return tensor.to(torch.float32).div_(255.0).contiguous()

"""Image datasets read through the real torchvision classes, converted to tensors in bulk.

    from nngpt_core.data.torchvision_sets import load_torchvision_splits
    splits = load_torchvision_splits("cifar10", Path("data"), download=False)

torchvision parses the on-disk formats (CIFAR's pickled batches, SVHN's .mat files, MNIST's idx
files) and checks the CIFAR and SVHN files against the md5 sums of the real archives; we then take
its whole `.data` array at once instead of indexing sample by sample into PIL images. A missing
dataset raises NngptError naming the expected layout and the download flag; files that fail
torchvision's checks raise NngptError too. Nothing on disk can change what is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision import datasets as tv

from nngpt_core.data.tensors import uint8_to_tensor
from nngpt_core.errors import NngptError

DOWNLOAD_HINT = "pass --download (evaluation.download: true) to fetch it"


@dataclass(frozen=True)
class RawSplits:
    """Images as float (N, C, H, W) in [0, 1] and int64 labels, before normalization."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


@dataclass(frozen=True)
class TorchvisionSource:
    """Where a torchvision dataset lives under the data dir and which class reads it."""

    dataset_class: type
    folder: str  # relative to the data dir; holds the files below
    files: tuple[str, ...]
    root_is_folder: bool = False  # SVHN takes its own folder as root; the others take the data dir
    channels_last: bool = False  # CIFAR's .data is (N, H, W, C); SVHN's is (N, C, H, W); MNIST's (N, H, W)
    labels_attribute: str = "targets"

    def layout(self, data_dir: Path) -> str:
        return f"{data_dir / self.folder}/{{{','.join(self.files)}}}"

    def is_present(self, data_dir: Path) -> bool:
        return all((data_dir / self.folder / name).is_file() for name in self.files)


_CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

SOURCES: dict[str, TorchvisionSource] = {
    "cifar10": TorchvisionSource(tv.CIFAR10, "cifar-10-batches-py", _CIFAR10_FILES, channels_last=True),
    "cifar100": TorchvisionSource(tv.CIFAR100, "cifar-100-python", ("train", "test", "meta"), channels_last=True),
    "svhn": TorchvisionSource(tv.SVHN, "svhn", ("train_32x32.mat", "test_32x32.mat"), root_is_folder=True,
                              labels_attribute="labels"),
    "mnist": TorchvisionSource(tv.MNIST, "MNIST/raw", _MNIST_FILES),
    "fashionmnist": TorchvisionSource(tv.FashionMNIST, "FashionMNIST/raw", _MNIST_FILES),
}


def _open(cls: type, source: TorchvisionSource, root: Path, train: bool, download: bool) -> Any:
    if source.root_is_folder:
        return cls(str(root), split="train" if train else "test", download=download)
    return cls(str(root), train=train, download=download)


def _arrays(source: TorchvisionSource, dataset: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole split as (float images in [0, 1], int64 labels), straight from torchvision's arrays."""
    images = uint8_to_tensor(dataset.data, channels_last=source.channels_last)
    labels = np.asarray(getattr(dataset, source.labels_attribute))
    return images, torch.as_tensor(labels, dtype=torch.int64)


def load_torchvision_splits(name: str, data_dir: Path, download: bool) -> RawSplits:
    """Train and test splits of torchvision dataset `name` under `data_dir`; NngptError if missing."""
    source = SOURCES[name]
    folder = data_dir / source.folder
    if not source.is_present(data_dir) and not download:
        raise NngptError(f"{name} not found: expected {source.layout(data_dir)}; {DOWNLOAD_HINT}")
    root = folder if source.root_is_folder else data_dir
    if download:
        root.mkdir(parents=True, exist_ok=True)
    cls = source.dataset_class
    try:
        train = _open(cls, source, root, train=True, download=download)
        test = _open(cls, source, root, train=False, download=download)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, ValueError, AssertionError...
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'}"
        if download:
            raise NngptError(f"{name}: download into {root} failed ({reason})") from None
        raise NngptError(f"{name}: files under {folder} fail torchvision's checks ({reason}); "
                         f"delete them and {DOWNLOAD_HINT}") from None
    train_x, train_y = _arrays(source, train)
    test_x, test_y = _arrays(source, test)
    return RawSplits(train_x, train_y, test_x, test_y)

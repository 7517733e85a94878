"""The dataset registry and `load_dataset`, which loads a dataset once per process as tensors.

    from nngpt_core.data import DATASETS, load_dataset
    for name, spec in DATASETS.items():
        print(name, spec.description, spec.is_present(Path("data")))
    ds = load_dataset("cifar10", data_dir="data", train_subset=5000)

Images are normalized per channel with the dataset's published mean and standard deviation (the
digits sets use their training split's own). Subsets are stratified by label and seeded. Results
are cached per process, so repeated calls (one per candidate) cost nothing; treat the returned
tensors as read-only, since every caller shares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from nngpt_core.data.digits import digits_splits
from nngpt_core.data.tensors import DatasetTensors, normalize_images, subset_indices
from nngpt_core.data.torchvision_sets import SOURCES, RawSplits, TorchvisionSource, load_torchvision_splits
from nngpt_core.errors import NngptError


@dataclass(frozen=True)
class DatasetSpec:
    """What a registered dataset is and where its files are expected."""

    name: str
    description: str
    num_classes: int
    in_shape: tuple[int, int, int]
    hflip: bool
    mean: tuple[float, ...] | None = None  # None: computed from the training images
    std: tuple[float, ...] | None = None
    source: TorchvisionSource | None = None  # None: scikit-learn's bundled digits

    def is_present(self, data_dir: str | Path) -> bool:
        """Whether the files are on disk (always for the bundled digits)."""
        return self.source is None or self.source.is_present(Path(data_dir))

    def layout(self, data_dir: str | Path) -> str:
        """The expected files, for messages and `nngpt doctor`."""
        return "bundled with scikit-learn" if self.source is None else self.source.layout(Path(data_dir))

    def load_raw(self, data_dir: Path, download: bool) -> RawSplits:
        if self.source is None:
            return digits_splits(size=self.in_shape[1], channels=self.in_shape[0])
        return load_torchvision_splits(self.name, data_dir, download)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("digits", "scikit-learn's 8x8 handwritten digits, 1x8x8, 1437 train / 360 test; the fastest smoke test",
                    10, (1, 8, 8), hflip=False),
        DatasetSpec("digits32", "the digits resized to 32x32 and repeated to 3 channels (CIFAR-shaped); the loop's default",
                    10, (3, 32, 32), hflip=False),
        DatasetSpec("cifar10", "CIFAR-10, 3x32x32, 50000 train / 10000 test, 10 classes (the paper's setting)",
                    10, (3, 32, 32), hflip=True, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
                    source=SOURCES["cifar10"]),
        DatasetSpec("cifar100", "CIFAR-100, 3x32x32, 50000 train / 10000 test, 100 fine classes",
                    100, (3, 32, 32), hflip=True, mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762),
                    source=SOURCES["cifar100"]),
        DatasetSpec("svhn", "SVHN house-number digits, 3x32x32, 73257 train / 26032 test, 10 classes",
                    10, (3, 32, 32), hflip=False, mean=(0.4377, 0.4438, 0.4728), std=(0.1980, 0.2010, 0.1970),
                    source=SOURCES["svhn"]),
        DatasetSpec("mnist", "MNIST handwritten digits, 1x28x28, 60000 train / 10000 test",
                    10, (1, 28, 28), hflip=False, mean=(0.1307,), std=(0.3081,), source=SOURCES["mnist"]),
        DatasetSpec("fashionmnist", "Fashion-MNIST clothing images, 1x28x28, 60000 train / 10000 test",
                    10, (1, 28, 28), hflip=True, mean=(0.2860,), std=(0.3530,), source=SOURCES["fashionmnist"]),
    )
}

_FULL: dict[tuple[str, str], DatasetTensors] = {}
_SUBSETS: dict[tuple, DatasetTensors] = {}


def get_spec(name: str) -> DatasetSpec:
    """The registered spec of `name`; NngptError listing the known names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise NngptError(f"unknown dataset '{name}' (choose from: {', '.join(DATASETS)})") from None


def _load_full(spec: DatasetSpec, data_dir: Path, download: bool) -> DatasetTensors:
    raw = spec.load_raw(data_dir, download)
    for split, images, labels in (("train", raw.train_x, raw.train_y), ("test", raw.test_x, raw.test_y)):
        if tuple(images.shape[1:]) != spec.in_shape:
            raise NngptError(f"{spec.name}: {split} images have shape {tuple(images.shape[1:])}, expected {spec.in_shape}")
        if len(labels) != len(images) or len(labels) == 0:
            raise NngptError(f"{spec.name}: {split} split has {len(images)} images and {len(labels)} labels")
        if int(labels.min()) < 0 or int(labels.max()) >= spec.num_classes:
            raise NngptError(f"{spec.name}: {split} labels outside 0..{spec.num_classes - 1}")
    mean = spec.mean or tuple(raw.train_x.mean(dim=(0, 2, 3)).tolist())
    std = spec.std or tuple(raw.train_x.std(dim=(0, 2, 3)).tolist())
    return DatasetTensors(
        name=spec.name,
        train_x=normalize_images(raw.train_x, mean, std), train_y=raw.train_y,
        test_x=normalize_images(raw.test_x, mean, std), test_y=raw.test_y,
        num_classes=spec.num_classes, in_shape=spec.in_shape, hflip=spec.hflip,
    )


def load_dataset(
    name: str,
    data_dir: str | Path = "data",
    download: bool = False,
    train_subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
) -> DatasetTensors:
    """Dataset `name` as normalized tensors on the CPU (use `.to(device)`), loaded once per process.

    train_subset / test_subset: keep only that many samples, stratified by label, chosen by `seed`.
    Raises NngptError for an unknown name, missing or corrupted files, or a failed download.
    """
    spec = get_spec(name)
    for label, size in (("train_subset", train_subset), ("test_subset", test_subset)):
        if size is not None and size < 1:
            raise NngptError(f"{label} must be at least 1, got {size}")
    location = "" if spec.source is None else str(Path(data_dir).resolve())
    full_key = (name, location)
    if full_key not in _FULL:
        _FULL[full_key] = _load_full(spec, Path(data_dir), download)
    full = _FULL[full_key]
    if train_subset is None and test_subset is None:
        return full
    key = (*full_key, train_subset, test_subset, seed)
    if key not in _SUBSETS:
        train_i = torch.from_numpy(subset_indices(full.train_y.numpy(), train_subset, seed))
        test_i = torch.from_numpy(subset_indices(full.test_y.numpy(), test_subset, seed))
        _SUBSETS[key] = DatasetTensors(
            name=full.name, train_x=full.train_x[train_i], train_y=full.train_y[train_i],
            test_x=full.test_x[test_i], test_y=full.test_y[test_i],
            num_classes=full.num_classes, in_shape=full.in_shape, hflip=full.hflip,
        )
    return _SUBSETS[key]


def clear_cache() -> None:
    """Forget every dataset loaded in this process (tests that rewrite files on disk need it)."""
    _FULL.clear()
    _SUBSETS.clear()

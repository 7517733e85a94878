"""Tiny stand-ins for CIFAR-10, CIFAR-100, SVHN, MNIST and Fashion-MNIST in their real on-disk formats (tests only).

    from tests.dataset_fixtures import trust_fixture_files, write_tiny_cifar10
    data_dir = write_tiny_cifar10(tmp_path, 100)
    trust_fixture_files(monkeypatch, data_dir, "cifar10")    # this test only: torchvision accepts their md5
    ds = load_dataset("cifar10", data_dir=data_dir)

Each class has its own blocky colour pattern plus noise, so a small CNN learns the fixture well above
chance in one epoch. The files are what torchvision reads (pickled CIFAR batches, SVHN .mat files,
MNIST idx files). torchvision checks CIFAR and SVHN files against the md5 sums of the real archives,
which tiny files cannot match: `trust_fixture_files` declares the written files' own sums, for one
test (pytest's monkeypatch), in the class attributes torchvision keeps them in (train_list,
test_list and meta for CIFAR, split_list for SVHN). The real loading code runs and still verifies
every file. The package itself has no such switch (issue 12: no test hooks in the product).
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

from nngpt_core.data.torchvision_sets import SOURCES


def synthetic_images(count: int, classes: int, channels: int, side: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` uint8 images (N, H, W, C) with balanced labels; each class a fixed 4x4-block pattern plus noise."""
    rng = np.random.default_rng(seed)
    class_rng = np.random.default_rng(1234)  # same patterns for train and test
    block = side // 4
    patterns = class_rng.integers(0, 256, size=(classes, 4, 4, channels)).repeat(block, axis=1).repeat(block, axis=2)
    labels = rng.permutation(np.arange(count) % classes)
    noise = rng.integers(0, 256, size=(count, side, side, channels))
    images = (0.7 * patterns[labels] + 0.3 * noise).astype(np.uint8)
    return images, labels.astype(np.int64)


def trust_fixture_files(monkeypatch, root: str | Path, name: str) -> None:
    """For this test only: torchvision's class for dataset `name` expects the md5 sums of the files under `root`."""
    from torchvision import datasets as tv

    source = SOURCES[name]
    folder = Path(root) / source.folder
    sums = {file: hashlib.md5((folder / file).read_bytes()).hexdigest() for file in source.files}
    cls = source.dataset_class
    if issubclass(cls, tv.CIFAR10):  # CIFAR100 declares its own lists, so each class is patched on its own
        monkeypatch.setattr(cls, "train_list", [[file, sums[file]] for file, _ in cls.train_list])
        monkeypatch.setattr(cls, "test_list", [[file, sums[file]] for file, _ in cls.test_list])
        monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": sums[cls.meta["filename"]]})
    elif issubclass(cls, tv.SVHN):
        monkeypatch.setattr(cls, "split_list", {split: [url, file, sums.get(file)]
                                                for split, (url, file, _) in cls.split_list.items()})
    # the MNIST family checks only that the raw files exist


def _cifar_rows(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) images as CIFAR's rows: 1024 red, then green, then blue bytes per image."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def _pickle(path: Path, entry: dict) -> None:
    with path.open("wb") as handle:
        pickle.dump(entry, handle)


def write_tiny_cifar10(root: str | Path, n_train: int = 100, n_test: int = 50, seed: int = 0) -> Path:
    """Write cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta) under `root`; returns `root`."""
    root = Path(root)
    folder = root / SOURCES["cifar10"].folder
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = synthetic_images(n_train, 10, 3, 32, seed)
    for number, part in enumerate(np.array_split(np.arange(n_train), 5), start=1):
        _pickle(folder / f"data_batch_{number}", {
            "batch_label": f"training batch {number} of 5", "labels": train_y[part].tolist(),
            "data": _cifar_rows(train_x[part]), "filenames": [f"train_{i}.png" for i in part],
        })
    test_x, test_y = synthetic_images(n_test, 10, 3, 32, seed + 1)
    _pickle(folder / "test_batch", {
        "batch_label": "testing batch 1 of 1", "labels": test_y.tolist(),
        "data": _cifar_rows(test_x), "filenames": [f"test_{i}.png" for i in range(n_test)],
    })
    _pickle(folder / "batches.meta", {
        "label_names": [f"class_{i}" for i in range(10)], "num_cases_per_batch": max(1, n_train // 5), "num_vis": 3072,
    })
    return root


def write_tiny_cifar100(root: str | Path, n_train: int = 200, n_test: int = 100, seed: int = 0) -> Path:
    """Write cifar-100-python/ (train, test, meta) under `root`; returns `root`."""
    root = Path(root)
    folder = root / SOURCES["cifar100"].folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, count, split_seed in (("train", n_train, seed), ("test", n_test, seed + 1)):
        images, labels = synthetic_images(count, 100, 3, 32, split_seed)
        _pickle(folder / name, {
            "batch_label": f"{name}ing batch 1 of 1", "fine_labels": labels.tolist(),
            "coarse_labels": (labels // 5).tolist(), "data": _cifar_rows(images),
            "filenames": [f"{name}_{i}.png" for i in range(count)],
        })
    _pickle(folder / "meta", {
        "fine_label_names": [f"fine_{i}" for i in range(100)], "coarse_label_names": [f"coarse_{i}" for i in range(20)],
    })
    return root


def write_tiny_svhn(root: str | Path, n_train: int = 100, n_test: int = 50, seed: int = 0) -> Path:
    """Write svhn/train_32x32.mat and svhn/test_32x32.mat under `root` (digit 0 stored as label 10); returns `root`."""
    from scipy.io import savemat

    root = Path(root)
    folder = root / SOURCES["svhn"].folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, count, split_seed in (("train_32x32.mat", n_train, seed), ("test_32x32.mat", n_test, seed + 1)):
        images, labels = synthetic_images(count, 10, 3, 32, split_seed)
        stored_labels = np.where(labels == 0, 10, labels).astype(np.uint8)[:, None]
        savemat(folder / name, {"X": images.transpose(1, 2, 3, 0), "y": stored_labels})
    return root


def _idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte idx file: magic 0x0000 08 <ndim>, big-endian dimensions, then the bytes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_tiny_mnist(root: str | Path, n_train: int = 100, n_test: int = 50, seed: int = 0, name: str = "mnist") -> Path:
    """Write MNIST/raw/ (or FashionMNIST/raw/ for name='fashionmnist') idx files under `root`; returns `root`."""
    root = Path(root)
    source = SOURCES[name]
    folder = root / source.folder
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count, split_seed in (("train", n_train, seed), ("t10k", n_test, seed + 1)):
        images, labels = synthetic_images(count, 10, 1, 28, split_seed)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx_bytes(images[..., 0]))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    return root

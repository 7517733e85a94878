"""Datasets as tensors: the registry, `load_dataset` and `iterate_batches`.

    from nngpt_core.data import DATASETS, load_dataset, iterate_batches
    ds = load_dataset("digits32")                      # bundled, no data dir needed
    ds = load_dataset("cifar10", data_dir="data", download=True).to("cuda")
    for xb, yb in iterate_batches(ds.train_x, ds.train_y, 32, augment=True, hflip=ds.hflip):
        ...

See docs/datasets.md for the registry, the expected directory layouts and the download flag.
Names resolve lazily: a sandbox worker that only batches tensors must not import scikit-learn,
scipy and torchvision with the registry.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nngpt_core.data.registry import DATASETS, DatasetSpec, clear_cache, get_spec, load_dataset
    from nngpt_core.data.tensors import DatasetTensors, iterate_batches

_EXPORTS = {
    **dict.fromkeys(["DATASETS", "DatasetSpec", "clear_cache", "get_spec", "load_dataset"], "nngpt_core.data.registry"),
    **dict.fromkeys(["DatasetTensors", "iterate_batches"], "nngpt_core.data.tensors"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nngpt_core.data' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

"""The dataset registry and load_dataset on the bundled digits: splits, normalization, subsets, cache, errors."""

from __future__ import annotations

import torch
import pytest

from nngpt_core.data import DATASETS, DatasetTensors, clear_cache, load_dataset
from nngpt_core.errors import NngptError

torch.set_num_threads(1)


def test_registry_lists_every_dataset_with_a_description():
    assert {"digits", "digits32", "cifar10", "cifar100", "svhn", "mnist", "fashionmnist"} <= set(DATASETS)
    for name, spec in DATASETS.items():
        assert spec.name == name and len(spec.description) > 10
    assert DATASETS["digits32"].is_present("/nonexistent") and "scikit-learn" in DATASETS["digits"].layout("x")
    assert not DATASETS["cifar10"].is_present("/nonexistent")


def test_digits_split_is_fixed_stratified_and_normalized():
    ds = load_dataset("digits")
    assert ds.in_shape == (1, 8, 8) and ds.num_classes == 10 and ds.chance == pytest.approx(0.1)
    assert ds.train_x.shape == (1437, 1, 8, 8) and ds.test_x.shape == (360, 1, 8, 8)
    assert ds.train_x.dtype == torch.float32 and ds.train_y.dtype == torch.int64
    assert torch.bincount(ds.test_y).tolist() == pytest.approx([36] * 10, abs=1)
    assert abs(float(ds.train_x.mean())) < 1e-4 and float(ds.train_x.std()) == pytest.approx(1.0, abs=1e-3)
    clear_cache()
    again = load_dataset("digits")
    assert again is not ds and torch.equal(again.test_x, ds.test_x) and torch.equal(again.train_y, ds.train_y)


def test_digits32_is_the_same_split_resized_to_three_equal_channels():
    small, large = load_dataset("digits"), load_dataset("digits32")
    assert large.train_x.shape == (1437, 3, 32, 32) and large.in_shape == (3, 32, 32)
    assert torch.equal(large.train_y, small.train_y) and torch.equal(large.test_y, small.test_y)
    assert torch.equal(large.train_x[:, 0], large.train_x[:, 2])
    # Averaging 4x4 blocks of the bilinear upsampling gives back (nearly) the 8x8 pattern.
    pooled = torch.nn.functional.avg_pool2d(large.test_x[:, :1], 4)
    correlation = torch.corrcoef(torch.stack([pooled.flatten(), small.test_x.flatten()]))[0, 1]
    assert correlation > 0.95
    assert not large.hflip and DATASETS["cifar10"].hflip  # flipping a digit changes its meaning


def test_load_is_cached_per_process_and_subsets_are_stratified_and_seeded():
    assert load_dataset("digits32") is load_dataset("digits32", data_dir="anywhere")
    sub = load_dataset("digits", train_subset=200, test_subset=50, seed=3)
    assert sub is load_dataset("digits", train_subset=200, test_subset=50, seed=3)
    assert len(sub.train_y) == 200 and len(sub.test_y) == 50
    assert torch.bincount(sub.train_y, minlength=10).tolist() == pytest.approx([20] * 10, abs=1)
    other_seed = load_dataset("digits", train_subset=200, test_subset=50, seed=4)
    assert not torch.equal(sub.train_x, other_seed.train_x)
    tiny = load_dataset("digits", train_subset=5)  # fewer than the classes: a seeded random pick
    assert len(tiny.train_y) == 5 and len(tiny.test_y) == 360
    assert len(load_dataset("digits", train_subset=10_000).train_y) == 1437


def test_to_device_returns_a_copy_and_leaves_the_cached_original():
    ds = load_dataset("digits")
    moved = ds.to("meta")  # the meta device stands in for a GPU here: same code path, no accelerator
    assert isinstance(moved, DatasetTensors) and moved.train_x.device.type == "meta"
    assert ds.train_x.device.type == "cpu" and moved.num_classes == ds.num_classes


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"name": "imagenet"}, "unknown dataset 'imagenet' (choose from: digits, digits32"),
     ({"name": "digits", "train_subset": 0}, "train_subset must be at least 1")],
)
def test_bad_requests_raise_one_line_errors(kwargs, fragment):
    with pytest.raises(NngptError) as caught:
        load_dataset(**kwargs)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)

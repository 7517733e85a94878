"""Tiny CIFAR-10, CIFAR-100, SVHN and MNIST files in their real formats, read through the real torchvision classes."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from torchvision import datasets as tv

from nngpt_core.data import DATASETS, clear_cache, load_dataset
from nngpt_core.data.torchvision_sets import SOURCES
from nngpt_core.errors import NngptError
from tests.dataset_fixtures import (
    synthetic_images, trust_fixture_files, write_tiny_cifar10, write_tiny_cifar100, write_tiny_mnist, write_tiny_svhn,
)

torch.set_num_threads(1)

WRITERS = {
    "cifar10": lambda root: write_tiny_cifar10(root, 40, 20, seed=5),
    "cifar100": lambda root: write_tiny_cifar100(root, 40, 20, seed=5),
    "svhn": lambda root: write_tiny_svhn(root, 40, 20, seed=5),
    "mnist": lambda root: write_tiny_mnist(root, 40, 20, seed=5),
    "fashionmnist": lambda root: write_tiny_mnist(root, 40, 20, seed=5, name="fashionmnist"),
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.mark.parametrize("name", list(WRITERS))
def test_tiny_files_load_as_the_written_images_and_labels(tmp_path, name, monkeypatch):
    spec = DATASETS[name]
    WRITERS[name](tmp_path)
    trust_fixture_files(monkeypatch, tmp_path, name)
    assert spec.is_present(tmp_path)
    ds = load_dataset(name, data_dir=tmp_path)
    channels, side = spec.in_shape[0], spec.in_shape[1]
    train_images, train_labels = synthetic_images(40, spec.num_classes, channels, side, seed=5)
    test_images, test_labels = synthetic_images(20, spec.num_classes, channels, side, seed=6)
    assert ds.train_x.shape == (40, *spec.in_shape) and ds.test_x.shape == (20, *spec.in_shape)
    assert ds.train_y.tolist() == train_labels.tolist() and ds.test_y.tolist() == test_labels.tolist()
    # Undo the published normalization: the pixels are exactly the written bytes, channel order intact.
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    pixels = torch.round((ds.test_x * std + mean) * 255)
    expected = torch.from_numpy(test_images).permute(0, 3, 1, 2).float()
    assert torch.equal(pixels, expected)


def test_svhn_digit_zero_stored_as_ten_comes_back_as_zero(tmp_path, monkeypatch):
    from scipy.io import loadmat

    write_tiny_svhn(tmp_path, 30, 10)
    trust_fixture_files(monkeypatch, tmp_path, "svhn")
    stored = loadmat(tmp_path / "svhn" / "train_32x32.mat")["y"].ravel()
    assert 10 in stored and 0 not in stored
    labels = load_dataset("svhn", data_dir=tmp_path).train_y
    assert 0 in labels.tolist() and int(labels.max()) == 9


def test_loading_never_builds_per_sample_images(tmp_path, monkeypatch):
    write_tiny_cifar10(tmp_path, 20, 10)
    trust_fixture_files(monkeypatch, tmp_path, "cifar10")

    def per_sample_access(self, index):
        raise AssertionError("per-sample __getitem__ (PIL) used")

    monkeypatch.setattr(tv.CIFAR10, "__getitem__", per_sample_access)
    assert load_dataset("cifar10", data_dir=tmp_path).train_x.shape[0] == 20


def test_torchvision_still_checks_every_file_of_a_trusted_fixture(tmp_path, monkeypatch):
    write_tiny_cifar10(tmp_path, 20, 10)
    trust_fixture_files(monkeypatch, tmp_path, "cifar10")
    with open(tmp_path / SOURCES["cifar10"].folder / "data_batch_3", "ab") as handle:  # corrupted after its md5 was taken
        handle.write(b"\0")
    with pytest.raises(NngptError, match="fail torchvision's checks"):
        load_dataset("cifar10", data_dir=tmp_path)


@pytest.mark.parametrize("name", ["cifar100", "svhn"])
def test_files_that_are_not_the_real_archive_are_refused_and_no_file_on_disk_changes_that(tmp_path, name):
    WRITERS[name](tmp_path)
    folder = tmp_path / SOURCES[name].folder
    sums = {file: hashlib.md5((folder / file).read_bytes()).hexdigest() for file in SOURCES[name].files}
    (folder / "nngpt_fixture.json").write_text(json.dumps({"md5": sums}))  # the marker the loader once obeyed
    with pytest.raises(NngptError) as caught:
        load_dataset(name, data_dir=tmp_path)
    assert SOURCES[name].folder in str(caught.value) and "--download" in str(caught.value)
    assert "fail torchvision's checks" in str(caught.value)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn", "mnist", "fashionmnist"])
def test_missing_dataset_names_the_layout_and_the_download_flag(tmp_path, name):
    with pytest.raises(NngptError) as caught:
        load_dataset(name, data_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "--download" in message
    assert f"{tmp_path / SOURCES[name].folder}/{{" in message and SOURCES[name].files[0] in message
    assert not (tmp_path / SOURCES[name].folder).exists()  # nothing is created without --download


def test_subsets_of_a_torchvision_dataset(tmp_path, monkeypatch):
    write_tiny_cifar10(tmp_path, 100, 50)
    trust_fixture_files(monkeypatch, tmp_path, "cifar10")
    ds = load_dataset("cifar10", data_dir=tmp_path, train_subset=30, test_subset=20, seed=1)
    assert torch.bincount(ds.train_y, minlength=10).tolist() == [3] * 10
    assert torch.bincount(ds.test_y, minlength=10).tolist() == [2] * 10

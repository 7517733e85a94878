"""Trusted fixture architectures (tests/fixtures/architectures/*.py) loaded in-process, for tests only.

    from tests.architecture_fixtures import fixture_paths, build_net, train_and_score
    net = build_net(fixture_paths()[0], in_shape=(1, 3, 32, 32), classes=10)

These files are written by us and imported directly; candidates from the LLM never are (they go
through the sandbox). Hyperparameter values here mirror the paper's recipe (SGD, lr 0.01, momentum 0.9).
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "architectures"
DISGUISED_DIR = FIXTURE_DIR / "disguised"
RECIPE = {
    "lr": 0.01, "momentum": 0.9, "batch": 32, "dropout": 0.2, "norm_eps": 1e-5, "norm_momentum": 0.1,
    "attention_dropout": 0.1, "stochastic_depth_prob": 0.1, "width_mult": 0.5,
}
_module_counter = itertools.count()


def fixture_paths() -> list[Path]:
    return sorted(FIXTURE_DIR.glob("*.py"))


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"arch_fixture_{path.stem}_{next(_module_counter)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_net(path: Path, in_shape: tuple[int, int, int, int], classes: int, seed: int = 0) -> nn.Module:
    """Net of the file at `path`, given a value for each key its supported_hyperparameters() names."""
    module = load_module(path)
    prm = {key: RECIPE[key] for key in module.supported_hyperparameters()}
    torch.manual_seed(seed)
    return module.Net(in_shape, (classes,), prm, torch.device("cpu"))


def train_and_score(net: nn.Module, dataset, batch_size: int = 32, seed: int = 0) -> float:
    """One epoch of the net's own learn() on `dataset`, then its test accuracy."""
    from nngpt_core.data import iterate_batches

    net.train_setup(RECIPE)
    generator = torch.Generator().manual_seed(seed)
    net.learn(iterate_batches(dataset.train_x, dataset.train_y, batch_size, generator=generator))
    net.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in iterate_batches(dataset.test_x, dataset.test_y, 256, shuffle=False):
            correct += int((net(xb).argmax(dim=1) == yb).sum())
    return correct / len(dataset.test_y)

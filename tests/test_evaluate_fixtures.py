"""Every trusted fixture architecture (tests/fixtures/architectures, disguised copies included)
evaluates `ok` through the sandbox on digits, digits32 and a tiny CIFAR-10 written in its real format.
"""

from __future__ import annotations

import pytest
import torch

from nngpt_core.evaluate import Evaluator
from tests.dataset_fixtures import trust_fixture_files, write_tiny_cifar10
from tests.evaluator_helpers import FIXTURES, fast_config

torch.set_num_threads(1)

ARCHITECTURES = sorted((FIXTURES / "architectures").rglob("*.py"))


@pytest.mark.parametrize("dataset", ["digits", "digits32", "cifar10"])
def test_fixture_architectures_evaluate_ok(tmp_path, dataset, monkeypatch):
    assert len(ARCHITECTURES) >= 8
    data_dir = tmp_path
    if dataset == "cifar10":
        write_tiny_cifar10(tmp_path, n_train=100, n_test=50)
        trust_fixture_files(monkeypatch, tmp_path, "cifar10")
    cfg = fast_config(dataset=dataset, data_dir=data_dir, train_subset=300, test_subset=100, timeout_s=30)
    with Evaluator(cfg, progress=False) as evaluator:
        results = evaluator.evaluate_many([path.read_text() for path in ARCHITECTURES])
    for path, result in zip(ARCHITECTURES, results):
        assert result.status == "ok", f"{path.name} on {dataset}: {result.error}"
        assert 0 <= result.accuracy <= 1 and result.params > 0 and result.flops > 0 and result.structural_tokens
    chance = 0.1
    mean_accuracy = sum(result.accuracy for result in results) / len(results)
    assert mean_accuracy > chance, f"the fixtures learn nothing on {dataset}"

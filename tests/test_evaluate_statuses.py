"""Each candidate status from real candidates through the sandbox, and what an `ok` evaluation records.

Runs on a 200/100 subset of the 8x8 digits (fast); the LEMUR-style LeNets also run on digits32,
where their 32x32 assumptions hold.
"""

from __future__ import annotations

import math

import pytest
import torch

from nngpt_core.evaluate import Evaluator
from tests.evaluator_helpers import CONTROL, EVALUATE, fast_config, read_fixture

torch.set_num_threads(1)

SMALL_CNN = CONTROL.read_text()


@pytest.fixture(scope="module")
def digits():
    with Evaluator(fast_config(max_params=100_000, max_flops=200_000), progress=False) as evaluator:
        yield evaluator


@pytest.fixture(scope="module")
def digits32():
    with Evaluator(fast_config(dataset="digits32", train_subset=300), progress=False) as evaluator:
        yield evaluator


def test_an_ok_evaluation_records_everything(digits):
    result = digits.evaluate(SMALL_CNN)
    assert result.status == "ok" and result.error is None
    assert 0.3 < result.accuracy <= 1.0
    assert math.isfinite(result.train_loss) and 0 < result.train_loss < 5
    assert result.params == 2762  # 1*16*9+16 conv, 2*16 batch norm, 256*10+10 linear
    assert result.flops > 0
    assert set(result.phase_durations) == {"load", "build", "check", "train", "predict"}
    assert result.duration_s >= sum(result.phase_durations.values())
    assert result.structural_tokens and any(token.startswith("conv2d") for token in result.structural_tokens)
    assert result.hyperparameters == {"dropout": 0.2, "lr": 0.01, "momentum": 0.9}
    assert (result.dataset, result.device, result.seed) == ("digits", "cpu", 0)
    assert result.recipe == digits.recipe.hash and result.recipe_config["epochs"] == 1


def test_the_same_code_and_seed_give_the_same_score(digits):
    first, second = digits.evaluate_many([SMALL_CNN, SMALL_CNN])
    assert (first.accuracy, first.train_loss) == (second.accuracy, second.train_loss)


def _variant(old: str, new: str) -> str:
    assert old in SMALL_CNN
    return SMALL_CNN.replace(old, new)


CASES = {
    "no_code": ("", "no code"),
    "syntax_error": ("class Net(:\n", "line 1"),
    # an unused import passes (the policy judges use); reading the environment does not
    "forbidden": (_variant("import torch\n", "import torch\nimport os\nSECRETS = os.environ\n"), "use of 'os.environ'"),
    "interface_error": (_variant('return {"lr", "momentum", "dropout"}', "return 42"), "not a set of names"),
    "build_error": (_variant("self.device = device", "self.device = device\n        raise ValueError('no')"), "ValueError: no"),
    "shape_error": (_variant("nn.Linear(16 * 16, out_shape[0])", "nn.Linear(16 * 16, out_shape[0] + 1)"), "not (batch, classes)"),
    "nonfinite": (_variant("return self.features(x)", "return self.features(x) * float('nan')"), "NaN"),
    "runtime_error": (_variant("        self.train()\n", "        raise KeyError('lost')\n"), "KeyError: 'lost'"),
    "too_large": (_variant("nn.Conv2d(channels, 16, 3, padding=1)", "nn.Conv2d(channels, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)"
                            ).replace("nn.Linear(16 * 16, out_shape[0])", "nn.Linear(16 * 16, 512), nn.Linear(512, out_shape[0])"),
                  "parameters exceed the budget of 100,000"),
    "too_large flops": (_variant("nn.Conv2d(channels, 16, 3, padding=1), nn.BatchNorm2d(16)",
                                 "nn.Conv2d(channels, 16, 3, padding=1), nn.Conv2d(16, 64, 3, padding=1), nn.Conv2d(64, 16, 3, padding=1), nn.BatchNorm2d(16)"),
                        "FLOPs per sample exceed the budget of 200,000"),
}


@pytest.mark.parametrize("status", sorted(CASES))
def test_each_failure_has_its_status_and_says_why(digits, status):
    code, words = CASES[status]
    result = digits.evaluate(code)
    assert result.status == status.split()[0], result.error
    assert words in result.error and result.accuracy is None


def test_training_that_diverges_is_nonfinite(digits):
    result = digits.evaluate(_variant('lr=prm["lr"]', "lr=1e12"))
    assert result.status == "nonfinite"


def test_lemur_models_read_keys_they_never_named(digits):
    result = digits.evaluate(read_fixture("evaluate/lemur_spellings.py"))
    assert result.status == "ok", result.error
    assert result.hyperparameters == {"lr": 0.01, "momentum": 0.9, "stochastic_depth_prob": 0.1}


@pytest.mark.parametrize(("name", "status"), [("lenet_cifar", "shape_error"), ("lenet_probe", "build_error")])
def test_architectures_for_32px_say_the_input_is_too_small_and_run_on_digits32(digits, digits32, name, status):
    code = (EVALUATE / f"{name}.py").read_text()
    small = digits.evaluate(code)
    assert small.status == status
    assert small.error.startswith("input 1x8x8 is too small for this architecture")
    large = digits32.evaluate(code)
    assert large.status == "ok", large.error
    assert large.params > 0 and math.isfinite(large.train_loss)  # one epoch of 300 images: no accuracy promised


LAZY = '''
import torch
import torch.nn as nn


def supported_hyperparameters():
    return {"lr", "momentum"}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.body = nn.Sequential(
            nn.LazyConv2d(8, 3, padding=1), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(), nn.LazyLinear(WIDTH),
        )

    def forward(self, x):
        return self.body(x)

    def train_setup(self, prm):
        self.to(self.device)
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm["lr"], momentum=prm["momentum"])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            self.optimizer.zero_grad()
            self.criterion(self(inputs), labels).backward()
            self.optimizer.step()
'''


def test_lazy_modules_are_materialised_before_parameters_and_flops_are_counted(digits):
    result = digits.evaluate(LAZY.replace("WIDTH", "out_shape[0]"))
    assert result.status == "ok", result.error
    assert result.params == (8 * 9 + 8) + 2 * 8 + (8 * 8 * 8 * 10 + 10)  # conv, batch norm, linear on 1x8x8 digits
    assert result.flops > 2 * 8 * 8 * 8 * 10 and result.accuracy > 0.2  # the optimizer made before trained them


def test_a_lazy_model_is_judged_by_its_materialised_size(digits):
    too_large = digits.evaluate(LAZY.replace("WIDTH", "20_000").replace("return self.body(x)", "return self.body(x)[:, :10]"))
    assert too_large.status == "too_large" and "parameters exceed" in too_large.error
    broken = digits.evaluate(LAZY.replace("WIDTH", "out_shape[0]").replace("return self.body(x)", "return self.body(x.view(-1, 7))"))
    assert broken.status == "shape_error"

"""The trusted fixture architectures: LEMUR's interface, allowed imports, size, any input shape, and
one epoch on digits32 with the paper's recipe (SGD lr 0.01, momentum 0.9, batch 32) well above chance.

They run in-process here because we wrote them; the evaluator's tests run them through the sandbox.
"""

from __future__ import annotations

import ast

import pytest
import torch

from nngpt_core.sandbox.static import policy_for
from nngpt_core.data import load_dataset
from tests.architecture_fixtures import DISGUISED_DIR, RECIPE, build_net, fixture_paths, load_module, train_and_score

torch.set_num_threads(1)

ALL_FIXTURES = fixture_paths() + sorted(DISGUISED_DIR.glob("*.py"))
LEMUR_STYLE = {"mlp": "dropout", "lemur_style_cnn": "width_mult", "tiny_vit": "attention_dropout"}


def _ids(paths):
    return [p.stem for p in paths]


def test_there_are_at_least_eight_distinct_fixtures_returning_sets_and_lists():
    assert len(fixture_paths()) >= 8
    kinds = {type(load_module(p).supported_hyperparameters()) for p in fixture_paths()}
    assert {set, list} <= kinds


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=_ids(ALL_FIXTURES))
def test_interface_and_imports(path):
    tree = ast.parse(path.read_text())
    policy = policy_for()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(policy.judge(alias.name) is None for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert all(policy.judge(f"{node.module}.{alias.name}") is None for alias in node.names)
    module = load_module(path)
    assert {"lr", "momentum"} <= set(module.supported_hyperparameters())
    for method in ("forward", "train_setup", "learn"):
        assert callable(getattr(module.Net, method))


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=_ids(ALL_FIXTURES))
@pytest.mark.parametrize(("in_shape", "classes"), [((2, 1, 8, 8), 10), ((2, 3, 32, 32), 100), ((2, 1, 28, 28), 10)])
def test_small_and_adapts_to_any_input_and_class_count(path, in_shape, classes):
    net = build_net(path, in_shape, classes)
    assert sum(p.numel() for p in net.parameters()) < 300_000
    net.train_setup(RECIPE)
    assert isinstance(net.optimizer, torch.optim.SGD) and net.optimizer.defaults["lr"] == RECIPE["lr"]
    assert net(torch.randn(*in_shape)).shape == (in_shape[0], classes)


@pytest.mark.parametrize("name", sorted(LEMUR_STYLE))
def test_lemur_style_fixtures_read_their_keys_directly(name):
    module = load_module(next(p for p in fixture_paths() if p.stem == name))
    prm = {key: RECIPE[key] for key in module.supported_hyperparameters() if key != LEMUR_STYLE[name]}
    with pytest.raises(KeyError, match=LEMUR_STYLE[name]):
        module.Net((2, 3, 32, 32), (10,), prm, torch.device("cpu"))


@pytest.mark.parametrize("path", fixture_paths(), ids=_ids(fixture_paths()))
def test_one_epoch_on_digits32_is_well_above_chance(path):
    ds = load_dataset("digits32")
    accuracy = train_and_score(build_net(path, (32, *ds.in_shape), ds.num_classes), ds)
    assert accuracy >= 3 * ds.chance, f"{path.stem}: {accuracy:.3f}"

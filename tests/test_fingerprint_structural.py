"""The structural fingerprint: disguised copies match, different families do not, and it is bounded.

Runs in-process on our trusted fixture architectures (tests/fixtures/architectures).
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nngpt_core.evaluate.fingerprint import canonical_op, record_tokens, structural_tokens
from tests.architecture_fixtures import DISGUISED_DIR, build_net, fixture_paths

torch.set_num_threads(1)

SAMPLE = torch.randn(2, 3, 32, 32)
ORIGINAL_OF = {
    "small_resnet_renamed": "small_resnet",
    "plain_cnn_explicit": "plain_cnn",
    "mlp_mixer_permuted": "mlp_mixer",
}
FAMILIES = ["plain_cnn", "small_resnet", "mlp_mixer", "densenet_ish", "depthwise_separable",
            "squeeze_excite", "tiny_vit", "mlp", "lemur_style_cnn"]


def jaccard(a: list[str], b: list[str]) -> float:
    return len(set(a) & set(b)) / len(set(a) | set(b))


def tokens_of(stem: str, seed: int = 0) -> list[str]:
    folder_paths = fixture_paths() + sorted(DISGUISED_DIR.glob("*.py"))
    path = next(p for p in folder_paths if p.stem == stem)
    return structural_tokens(build_net(path, tuple(SAMPLE.shape), 10, seed=seed), SAMPLE)


@pytest.mark.parametrize("disguised", sorted(ORIGINAL_OF))
def test_disguised_copies_have_the_same_fingerprint(disguised):
    original = tokens_of(ORIGINAL_OF[disguised])
    assert len(original) > 20
    assert jaccard(tokens_of(disguised, seed=1), original) >= 0.9


def test_different_families_are_far_apart():
    tokens = {name: tokens_of(name) for name in FAMILIES}
    for a, b in itertools.combinations(FAMILIES, 2):
        assert jaccard(tokens[a], tokens[b]) < 0.5, (a, b)
    for a, b in [("plain_cnn", "small_resnet"), ("small_resnet", "densenet_ish"), ("plain_cnn", "mlp_mixer")]:
        assert jaccard(tokens[a], tokens[b]) < 0.3, (a, b)


def test_module_and_functional_spellings_and_branch_order_agree():
    class Modules(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten())
            self.skip = nn.Conv2d(3, 8, 1)

        def forward(self, x):
            return self.body(x) + self.skip(x).flatten(1)

    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Conv2d(3, 8, 3, padding=1)
            self.p = nn.Conv2d(3, 8, 1)

        def forward(self, x):
            shortcut = self.p(x)  # the independent branch first
            y = F.relu(self.w(x), inplace=True)
            return torch.add(shortcut.view(x.shape[0], -1), torch.reshape(y, (x.size(0), -1)))

    assert structural_tokens(Modules(), SAMPLE) == structural_tokens(Functional(), SAMPLE)


def test_batch_size_is_normalized_and_shapes_count():
    net = build_net(fixture_paths()[0], (2, 3, 32, 32), 10)
    assert structural_tokens(net, torch.randn(2, 3, 32, 32)) == structural_tokens(net, torch.randn(5, 3, 32, 32))
    assert structural_tokens(net, torch.randn(2, 3, 32, 32)) != structural_tokens(net, torch.randn(2, 3, 16, 16))


def test_repeated_blocks_are_counted_not_collapsed():
    def stack(depth: int) -> nn.Module:
        return nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.ReLU()) for _ in range(depth)])

    sample = torch.randn(2, 16)
    shallow, deep = structural_tokens(stack(2), sample), structural_tokens(stack(6), sample)
    assert set(shallow) < set(deep) and 0.2 < jaccard(shallow, deep) < 0.5


def test_model_mode_is_restored_and_forward_errors_propagate():
    net = build_net(fixture_paths()[0], (2, 3, 32, 32), 10)
    net.train()
    structural_tokens(net, SAMPLE)
    assert net.training
    with pytest.raises(RuntimeError):
        structural_tokens(net, torch.randn(2, 5, 32, 32))  # wrong channel count: the model's own error
    assert net.training


def test_recording_is_bounded_on_a_runaway_forward():
    class Runaway(nn.Module):
        def forward(self, x):
            for _ in range(20_000):
                x = torch.tanh(x + 1)
            return x

    raw = record_tokens(Runaway(), torch.randn(2, 4), max_ops=500)
    assert 500 <= len(raw) <= 500 * 16
    assert len(structural_tokens(Runaway(), torch.randn(2, 4), max_ops=100)) <= 100 * 16


def test_operator_spellings_share_a_canonical_name():
    assert canonical_op(torch.Tensor.__iadd__) == canonical_op(torch.add) == "add"
    assert canonical_op(torch.Tensor.__rmul__) == "mul"
    assert canonical_op(torch.Tensor.view) == canonical_op(torch.flatten) == "reshape"
    assert canonical_op(torch.Tensor.transpose) == canonical_op(torch.permute) == "permute"
    assert canonical_op(torch.Tensor.relu_) == canonical_op(F.relu) == "relu"
    assert canonical_op(torch.Tensor.contiguous) is None and canonical_op(torch.Tensor.size) is None

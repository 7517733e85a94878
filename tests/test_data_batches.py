"""iterate_batches and the tensor augmentations: coverage, determinism, crops and flips."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nngpt_core.data import iterate_batches
from nngpt_core.data.tensors import random_crop, random_hflip

torch.set_num_threads(1)


def _numbered(count: int, side: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose pixels are all distinct, labelled by their index."""
    x = torch.arange(count * 2 * side * side, dtype=torch.float32).view(count, 2, side, side) + 1
    return x, torch.arange(count)


def test_one_pass_covers_every_sample_once_in_seeded_order():
    x, y = _numbered(70)
    batches = list(iterate_batches(x, y, 32, generator=torch.Generator().manual_seed(7)))
    assert [len(yb) for _, yb in batches] == [32, 32, 6]
    order = torch.cat([yb for _, yb in batches])
    assert sorted(order.tolist()) == list(range(70)) and order.tolist() != list(range(70))
    for xb, yb in batches:
        assert torch.equal(xb, x[yb])  # images stay with their labels
    again = torch.cat([yb for _, yb in iterate_batches(x, y, 32, generator=torch.Generator().manual_seed(7))])
    assert torch.equal(order, again)


def test_unshuffled_batches_keep_order_and_drop_last_skips_the_short_batch():
    x, y = _numbered(70)
    assert torch.cat([yb for _, yb in iterate_batches(x, y, 32, shuffle=False)]).tolist() == list(range(70))
    assert [len(yb) for _, yb in iterate_batches(x, y, 32, drop_last=True)] == [32, 32]


def test_bad_batch_arguments_are_refused():
    x, y = _numbered(4)
    with pytest.raises(ValueError, match="batch_size"):
        next(iterate_batches(x, y, 0))
    with pytest.raises(ValueError, match="labels"):
        next(iterate_batches(x, y[:3], 2))


def test_random_crop_is_a_shift_within_the_zero_border():
    x, _ = _numbered(16)
    cropped = random_crop(x, padding=2, generator=torch.Generator().manual_seed(0))
    assert cropped.shape == x.shape
    padded = F.pad(x, (2, 2, 2, 2))
    offsets = set()
    for image, source in zip(cropped, padded):
        matches = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(image, source[:, dy:dy + 8, dx:dx + 8])]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 3  # each image gets its own offset


def test_random_hflip_mirrors_about_half_the_images():
    x, _ = _numbered(200)
    flipped = random_hflip(x, generator=torch.Generator().manual_seed(0))
    mirrored = [torch.equal(a, b.flip(-1)) for a, b in zip(flipped, x)]
    assert all(m or torch.equal(a, b) for m, a, b in zip(mirrored, flipped, x))
    assert 60 < sum(mirrored) < 140


def test_augmented_batches_flip_only_when_allowed():
    x, y = _numbered(64)
    for hflip in (True, False):
        generator = torch.Generator().manual_seed(1)
        for xb, yb in iterate_batches(x, y, 16, generator=generator, augment=True, hflip=hflip):
            padded = F.pad(x[yb], (1, 1, 1, 1))  # 8x8 images get a 1-pixel border
            for image, source in zip(xb, padded):
                candidates = [source[:, dy:dy + 8, dx:dx + 8] for dy in range(3) for dx in range(3)]
                as_crop = any(torch.equal(image, c) for c in candidates)
                as_mirrored_crop = any(torch.equal(image, c.flip(-1)) for c in candidates)
                assert as_crop or (hflip and as_mirrored_crop)


def test_batches_follow_the_data_to_another_device():
    # The meta device stands in for a GPU: random draws happen on the generator's CPU, data stays put.
    x, y = _numbered(40)
    batches = list(iterate_batches(x.to("meta"), y.to("meta"), 16, generator=torch.Generator().manual_seed(0),
                                   augment=True))
    assert [tuple(xb.shape) for xb, _ in batches] == [(16, 2, 8, 8), (16, 2, 8, 8), (8, 2, 8, 8)]
    assert all(xb.device.type == "meta" and yb.device.type == "meta" for xb, yb in batches)

"""scikit-learn's bundled 8x8 handwritten digits as image tensors, with a fixed stratified split.

    from nngpt_core.data.digits import digits_splits
    splits = digits_splits(size=32, channels=3)   # CIFAR-shaped digits32

The 1,797 images ship inside scikit-learn, so this needs no data dir and no network. The split
(80% train, 20% test, stratified by digit) uses a fixed seed: every run sees the same test set.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from nngpt_core.data.torchvision_sets import RawSplits

SPLIT_SEED = 0
TEST_FRACTION = 0.2
_PIXEL_MAX = 16.0  # the bundled images hold intensities 0..16


def digits_splits(size: int = 8, channels: int = 1) -> RawSplits:
    """The digits as float images in [0, 1], resized to `size` (bilinear) and repeated to `channels`."""
    bunch = load_digits()
    images = bunch.images.astype(np.float32) / _PIXEL_MAX
    labels = bunch.target.astype(np.int64)
    train_i, test_i = train_test_split(
        np.arange(len(labels)), test_size=TEST_FRACTION, stratify=labels, random_state=SPLIT_SEED
    )

    def to_tensor(index: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images[np.sort(index)])[:, None]
        if size != x.shape[-1]:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return x.repeat(1, channels, 1, 1).contiguous()

    return RawSplits(
        train_x=to_tensor(train_i), train_y=torch.from_numpy(labels[np.sort(train_i)]),
        test_x=to_tensor(test_i), test_y=torch.from_numpy(labels[np.sort(test_i)]),
    )

"""bench/copy_probe.py's pieces: the altered block differs from the original only in its integer
constants, and the block's tokens are read from the classes named, whatever else the file holds."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from copy_probe import class_tokens, raise_constants, similarity  # noqa: E402


def test_raise_constants_changes_integers_only():
    code = "nn.Conv2d(c2, 64, 3, padding=1, bias=False)\nnn.BatchNorm2d(64, eps=1e-5, momentum=0.1)\nx = y - 2"
    assert raise_constants(code) == ("nn.Conv2d(c2, 65, 4, padding=1, bias=False)\n"
                                     "nn.BatchNorm2d(65, eps=1e-5, momentum=0.1)\nx = y - 3")


def test_class_tokens_reads_the_named_classes_and_similarity_tells_copy_from_recall():
    original = "import torch\nclass Block:\n    width = 16\n    kernel = 3\nclass Other:\n    pass\n"
    shown = raise_constants(original)
    assert class_tokens(original, {"Block"}) == ["class", "Block", ":", "width", "=", "16", "kernel", "=", "3"]
    assert class_tokens("def broken(:", {"Block"}) == []
    copied, recalled = class_tokens(shown, {"Block"}), class_tokens(original, {"Block"})
    assert similarity(copied, class_tokens(shown, {"Block"})) == 1.0
    assert similarity(recalled, class_tokens(shown, {"Block"})) < similarity(recalled, class_tokens(original, {"Block"}))

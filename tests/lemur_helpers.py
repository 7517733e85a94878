"""A small nn-dataset source archive made by the tests, laid out like the real one (nn_dataset-<version>/ab/nn/...).

    path = make_archive(tmp_path)        # models of several tasks, records, broken files; see SMALL_ARCHIVE
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from tests.evaluator_helpers import CONTROL, FIXTURES

VERSION = "2.1.2"
TASK = "img-classification"
CNN = CONTROL.read_text()
MLP = (FIXTURES / "architectures" / "mlp.py").read_text()
RESNET = (FIXTURES / "architectures" / "small_resnet.py").read_text()
# The same code as CNN with other comments and layout: an exact copy under the normalized-code hash.
CNN_COPY = "# a copy with another comment\n" + CNN.replace("\n\n\n", "\n\n")
SEGMENTER = CNN + "\n# a segmentation model's file: skipped by its task, whatever its code\n"


def trial(accuracy, lr=0.01, batch=64, transform="norm_64_flip", uid="u1", **extra):
    return {"accuracy": accuracy, "batch": batch, "duration": 12_500_000_000, "lr": lr, "momentum": 0.9,
            "transform": transform, "uid": uid, **extra}


# path below ab/nn/ -> content (str, or a list/dict dumped as JSON)
SMALL_ARCHIVE: dict[str, object] = {
    "nn/__init__.py": "",
    "nn/SmallCNN.py": CNN,
    "nn/SmallCNN-copy.py": CNN_COPY,
    "nn/TinyMLP.py": MLP,
    "nn/SmallResNet.py": RESNET,
    "nn/Broken.py": "def supported_hyperparameters(:\n",
    "nn/NoNet.py": "import torch\n\ndef supported_hyperparameters():\n    return {'lr'}\n",
    "nn/Segmenter.py": SEGMENTER,
    "nn/TinyMLPWide.py": MLP.replace("128", "256"),  # only numbers differ: the paper's tokens cannot tell
    "nn/NoTrials.py": MLP.replace("nn.ReLU()", "nn.Tanh()"),
    "nn/Orphan.py": MLP.replace("nn.ReLU()", "nn.GELU()"),
    "stat/train/img-classification_cifar-10_acc_SmallCNN/1.json": [trial(0.41), trial(0.45, lr=0.02, uid="u2"), trial(0.41)],
    "stat/train/img-classification_cifar-10_acc_SmallCNN/2.json": [trial(0.52)],
    "stat/train/img-classification_mnist_acc_SmallCNN/1.json": [trial(0.97, transform="norm_28")],
    "stat/train/img-classification_cifar-10_acc_SmallCNN-copy/1.json": [trial(0.40)],
    "stat/train/img-classification_cifar-10_acc_TinyMLP/1.json": [trial(0.30, dropout=0.2), {"batch": 4, "lr": 0.1}],
    "stat/train/img-classification_cifar-10_acc_TinyMLP/3.json": "{not json",
    "stat/train/img-classification_cifar-10_acc_TinyMLPWide/1.json": [trial(0.33)],
    "stat/train/img-classification_cifar-10_acc_NoTrials/1.json": [],  # a classification model without trials
    "stat/train/img-classification_svhn_acc_SmallResNet/1.json": {"accuracy": 0.6, "lr": 0.01, "batch": 32, "uid": "r"},
    "stat/train/img-classification_cifar-10_acc_Broken/1.json": [trial(0.1)],
    "stat/train/img-classification_cifar-10_acc_NoNet/1.json": [trial(0.1)],
    "stat/train/img-segmentation_coco_iou_Segmenter/1.json": [trial(0.2)],
    "stat/run/img-classification_SmallCNN/device.json": {"ignored": True},
}
# What an import of SMALL_ARCHIVE must find.
EXPECTED_SKIPS = {
    "task img-segmentation": 1, "no records (task unknown)": 1, "interface: no class Net": 1, "syntax error (SyntaxError)": 1,
}
IMPORTED = ("NoTrials", "SmallCNN", "SmallCNN-copy", "SmallResNet", "TinyMLP", "TinyMLPWide")  # SmallCNN-copy: an exact copy
# New evaluations: SmallCNN 2 + 1 (cifar-10 epochs 1 and 2; one trial twice) + 1 (mnist), the copy 1, TinyMLP 1
# (its other trial has no accuracy, its epoch 3 file does not parse), TinyMLPWide 1, SmallResNet 1 (svhn).
EXPECTED_RECORDS = 8


def make_archive(directory: Path, files: dict[str, object] = SMALL_ARCHIVE, version: str = VERSION) -> Path:
    """Write a .tar.gz with `files` below nn_dataset-<version>/ab/nn/ and return its path."""
    path = Path(directory) / f"nn_dataset-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for relative, content in files.items():
            data = (content if isinstance(content, str) else json.dumps(content)).encode()
            info = tarfile.TarInfo(f"nn_dataset-{version}/ab/nn/{relative}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path

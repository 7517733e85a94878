"""25 classic LEMUR classifiers through the evaluator on digits32: does real code get through?

    .venv/bin/python bench/lemur_classics.py                 # the default evaluation config, digits32, 2 workers
    .venv/bin/python bench/lemur_classics.py --workers 2 --config configs/default.yaml
    .venv/bin/python bench/lemur_classics.py --timeout 600     # a loaded machine: wall-clock timeouts are not the model's

The files are LEMUR's own (nn-dataset 2.1.2, from the cached archive), unchanged, evaluated with the
default recipe (every hyperparameter key filled as docs/evaluation.md says). Printed: each model's
status, accuracy, parameters and FLOPs, and the counts per status; the target is ok + too_large >= 20
(a too_large model ran far enough to be measured against the budget).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nngpt_core.config import load_config
from nngpt_core.evaluate import Evaluator
from nngpt_core.lemur.archive import read_archive
from nngpt_core.lemur.fetch import DEFAULT_VERSION, cached_archive

CLASSICS = (
    "AlexNet", "VGG", "ResNet", "DenseNet", "MobileNetV2", "MobileNetV3", "GoogLeNet", "InceptionV3-1", "ConvNeXt",
    "VisionTransformer", "SwinTransformer", "MaxVit", "RegNet", "MNASNet", "FractalNet", "ShuffleNet", "SqueezeNet-1",
    "EfficientNet", "DPN68", "DarkNet", "AirNet", "AirNext", "BagNet", "ComplexNet", "BayesianNet-1",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per model (default: the config's)")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    cfg = load_config(args.config, {"evaluation.dataset": "digits32", "evaluation.workers": args.workers,
                                    **({"evaluation.timeout_s": args.timeout} if args.timeout else {})})
    path = cached_archive(args.cache_dir or cfg.store.resolved_data_dir() / "lemur")
    archive = read_archive(path, DEFAULT_VERSION, "img-classification", with_records=False)
    missing = [name for name in CLASSICS if name not in archive.models]
    if missing:
        raise SystemExit(f"error: not in the archive: {', '.join(missing)}")
    with Evaluator(cfg.evaluation) as evaluator:
        results = evaluator.evaluate_many([archive.models[name] for name in CLASSICS])
    table = Table("model", "status", "accuracy", "params", "MFLOPs", "s", "error",
                  title=f"{len(CLASSICS)} classic LEMUR classifiers on digits32 (max_params {cfg.evaluation.max_params:,}, "
                        f"max_flops {cfg.evaluation.max_flops:,})")
    for name, result in zip(CLASSICS, results):
        table.add_row(name, result.status, f"{result.accuracy:.3f}" if result.accuracy is not None else "-",
                      f"{result.params:,}" if result.params else "-", f"{result.flops / 1e6:.0f}" if result.flops else "-",
                      f"{result.duration_s or 0:.0f}", (result.error or "")[:70])
    console = Console()
    console.print(table)
    counts = Counter(result.status for result in results)
    console.print("statuses: " + ", ".join(f"{status} {count}" for status, count in counts.most_common()))
    console.print(f"ok + too_large: {counts['ok'] + counts['too_large']} of {len(CLASSICS)} (target >= 20)")


if __name__ == "__main__":
    main()

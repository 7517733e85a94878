"""How far the CPU proxy can be trusted: our one-epoch digits32 accuracy against LEMUR's recorded first-epoch CIFAR-10 accuracy.

    .venv/bin/python bench/proxy.py                    # 60 models, seed 0 (about an hour on 2 loaded cores)
    .venv/bin/python bench/proxy.py --n 20 --seed 1 --workers 2 --timeout 120

A fixed random sample (seeded) of LEMUR's image-classification models that have a recorded
CIFAR-10 accuracy after epoch 1, one file per distinct architecture (normalized-code hash). Each is
evaluated by this project's evaluator (static check, sandbox, one epoch on digits32) with the
hyperparameters of its best recorded first-epoch CIFAR-10 trial (lr, momentum, batch, dropout, ...
where the record has them; the recipe's defaults otherwise). Printed: one row per model, the share
that evaluates ok, and the Spearman rank correlation between our accuracy and LEMUR's over the ok
ones, with a 95% bootstrap interval (2000 resamples of the pairs).
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.stats import spearmanr

from nngpt_core.config import load_config
from nngpt_core.evaluate import Evaluator
from nngpt_core.lemur.archive import best_record, numeric_hyperparameters, read_archive
from nngpt_core.lemur.fetch import DEFAULT_VERSION, cached_archive
from nngpt_core.novelty.normalize import code_hash

TASK, LEMUR_DATASET = "img-classification", "cifar-10"


def sample_models(archive, n: int, seed: int) -> list[str]:
    """n model names with a first-epoch CIFAR-10 record, one per distinct architecture, drawn with `seed`."""
    first_of_code: dict[str, str] = {}
    for name in sorted(archive.records):
        if best_record(archive.records[name], LEMUR_DATASET) is None or name not in archive.models:
            continue
        try:
            first_of_code.setdefault(code_hash(archive.models[name]), name)
        except SyntaxError:
            continue
    return sorted(random.Random(seed).sample(sorted(first_of_code.values()), n))


def bootstrap_spearman(ours: np.ndarray, theirs: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, len(ours), len(ours))
        if len(set(ours[pick])) > 1 and len(set(theirs[pick])) > 1:
            values.append(spearmanr(ours[pick], theirs[pick]).statistic)
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per model (default: the config's)")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    cfg = load_config(args.config, {"evaluation.dataset": "digits32", "evaluation.epochs": 1, "evaluation.workers": args.workers,
                                    **({"evaluation.timeout_s": args.timeout} if args.timeout else {})})
    console = Console()
    path = cached_archive(args.cache_dir or cfg.store.resolved_data_dir() / "lemur")
    archive = read_archive(path, DEFAULT_VERSION, TASK)
    names = sample_models(archive, args.n, args.seed)
    records = [best_record(archive.records[name], LEMUR_DATASET) for name in names]
    with Evaluator(cfg.evaluation) as evaluator:
        results = evaluator.evaluate_many([archive.models[name] for name in names],
                                          [numeric_hyperparameters(record) for record in records])
    table = Table("model", "LEMUR cifar-10 epoch 1", "lr", "batch", "status", "ours digits32", "s",
                  title=f"{len(names)} LEMUR classifiers (seed {args.seed}), one epoch on digits32")
    for name, record, result in zip(names, records, results):
        prm = record.hyperparameters
        table.add_row(name[:48], f"{record.accuracy:.3f}", f"{prm.get('lr', '-')!s:.6}", str(prm.get("batch", "-")),
                      result.status if result.ok else f"{result.status}: {(result.error or '')[:60]}",
                      f"{result.accuracy:.3f}" if result.accuracy is not None else "-", f"{result.duration_s or 0:.0f}")
    console.print(table)
    statuses = Counter(result.status for result in results)
    ok = [(result.accuracy, record.accuracy) for result, record in zip(results, records) if result.ok]
    console.print("statuses: " + ", ".join(f"{status} {count}" for status, count in statuses.most_common()))
    console.print(f"evaluated ok: {len(ok)} of {len(names)} ({len(ok) / len(names):.0%})")
    if len(ok) >= 3:
        ours, theirs = (np.array(column) for column in zip(*ok))
        rho = spearmanr(ours, theirs).statistic
        low, high = bootstrap_spearman(ours, theirs)
        console.print(f"Spearman rho (ours digits32 vs LEMUR cifar-10, epoch 1, n={len(ok)}): {rho:.2f} [95% bootstrap {low:.2f}, {high:.2f}]")


if __name__ == "__main__":
    main()

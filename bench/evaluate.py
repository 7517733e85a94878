"""Benchmark of candidate evaluation: a fresh process per candidate with a PIL DataLoader vs the warm sandbox pool.

    .venv/bin/python bench/evaluate.py                    # 12 seed architectures on digits32 (a few minutes on 2 cores)
    .venv/bin/python bench/evaluate.py --count 20 --workers 2
    .venv/bin/python bench/evaluate.py --quick            # 10 architectures, ours with one worker only

The same architectures (the first --count files of nngpt_core/corpus/seeds, in name order) are
evaluated side by side in one run, one epoch on digits32 with the same recipe (SGD, lr 0.01,
momentum 0.9, batch 32):

  naive   what the reference pipeline does per candidate: start a fresh Python process, import torch
          and torchvision, load the dataset, wrap it in a torchvision-style Dataset whose transforms
          (Resize, Grayscale to 3 channels, ToTensor, Normalize) run per sample on PIL images behind a
          DataLoader, train, test. Candidates run one after another, unsandboxed.
  ours    nngpt_core.evaluate.Evaluator: static checks, warm forked sandboxes (all layers on), data
          resident as tensors and shared by the workers; start-up (dataset and workers) included.

It prints wall time, candidates per minute, the speed-up over naive, and the mean accuracy of the
`ok` candidates (a sanity check that both do the same work; exact values differ with batch order).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "nngpt_core" / "corpus" / "seeds"
RECIPE = {"lr": 0.01, "momentum": 0.9, "batch": 32, "dropout": 0.2}


def naive_one(path: str) -> dict:
    """One candidate the naive way, inside this fresh process (called as `evaluate.py naive-one FILE`)."""
    import torch
    import torchvision.transforms as T
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch.utils.data import DataLoader, Dataset

    torch.set_num_threads(1)
    torch.manual_seed(0)
    started = time.perf_counter()
    digits = load_digits()
    pixels = (digits.images * (255.0 / 16.0)).astype("uint8")
    train_i, test_i = train_test_split(range(len(pixels)), test_size=0.2, stratify=digits.target, random_state=0)

    class DigitImages(Dataset):
        def __init__(self, indices):
            self.indices = list(indices)
            self.transform = T.Compose([
                T.Resize(32), T.Grayscale(num_output_channels=3), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3),
            ])

        def __len__(self):
            return len(self.indices)

        def __getitem__(self, item):
            index = self.indices[item]
            return self.transform(Image.fromarray(pixels[index])), int(digits.target[index])

    spec = importlib.util.spec_from_file_location("candidate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keys = module.supported_hyperparameters()
    prm = {key: RECIPE.get(key, 0.5) for key in keys}
    prm.update(RECIPE)
    model = module.Net((RECIPE["batch"], 3, 32, 32), (10,), prm, torch.device("cpu"))
    model.train_setup(prm)
    model.learn(DataLoader(DigitImages(train_i), batch_size=RECIPE["batch"], shuffle=True))
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in DataLoader(DigitImages(test_i), batch_size=256):
            correct += int((model(images).argmax(1) == labels).sum())
            total += len(labels)
    return {"status": "ok", "accuracy": correct / total, "seconds": time.perf_counter() - started}


def run_naive(paths: list[Path], timeout_s: float) -> tuple[float, list[dict]]:
    results = []
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for path in paths:
        command = [sys.executable, __file__, "naive-one", str(path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s)
            lines = done.stdout.strip().splitlines()
            results.append(json.loads(lines[-1]) if done.returncode == 0 and lines else {"status": "error"})
        except subprocess.TimeoutExpired:
            results.append({"status": "timeout"})
    return time.perf_counter() - started, results


def run_ours(paths: list[Path], workers: int, timeout_s: float) -> tuple[float, list]:
    from nngpt_core.config import EvaluationConfig
    from nngpt_core.evaluate import Evaluator

    started = time.perf_counter()
    cfg = EvaluationConfig(dataset="digits32", workers=workers, timeout_s=timeout_s)
    with Evaluator(cfg) as evaluator:
        results = evaluator.evaluate_many([path.read_text() for path in paths])
    return time.perf_counter() - started, [{"status": r.status, "accuracy": r.accuracy} for r in results]


def _mean_ok_accuracy(results: list[dict]) -> str:
    scores = [r["accuracy"] for r in results if r["status"] == "ok"]
    return f"{sum(scores) / len(scores):.3f} ({len(scores)} ok)" if scores else "-"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "naive-one":
        print(json.dumps(naive_one(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=12, help="architectures from the seed corpus (at least 10)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="pool sizes to measure for ours")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-candidate limit, seconds")
    parser.add_argument("--quick", action="store_true", help="10 architectures, ours with one worker")
    args = parser.parse_args()
    count, workers = (10, [1]) if args.quick else (args.count, args.workers)
    paths = sorted(p for p in SEEDS.glob("*.py") if p.name != "__init__.py")[:count]
    if len(paths) < 10:
        raise SystemExit(f"need at least 10 architectures, found {len(paths)} in {SEEDS}")
    console = Console()
    console.print(f"{len(paths)} architectures from {SEEDS.relative_to(ROOT)}, digits32, 1 epoch, on {os.cpu_count()} CPUs")
    rows = []
    naive_s, naive_results = run_naive(paths, args.timeout)
    rows.append(("naive: process per candidate, PIL DataLoader", naive_s, naive_results))
    for size in workers:
        ours_s, ours_results = run_ours(paths, size, args.timeout)
        rows.append((f"ours: warm sandbox pool, {size} worker{'s' if size > 1 else ''}, tensors", ours_s, ours_results))
    table = Table("method", "wall s", "candidates/min", "speed-up", "mean accuracy of ok", title="evaluation throughput")
    for name, seconds, results in rows:
        table.add_row(name, f"{seconds:.1f}", f"{60 * len(paths) / seconds:.1f}", f"{naive_s / seconds:.2f}x",
                      _mean_ok_accuracy(results))
    console.print(table)


if __name__ == "__main__":
    main()

"""The sandbox's cost per candidate, measured in pairs: each file evaluated unsandboxed and in the sandbox back to back.

    .venv/bin/python bench/sandbox_overhead.py                      # 8 seeds, digits, batch 16, 3 rounds, fork and resident
    .venv/bin/python bench/sandbox_overhead.py --rounds 1 --count 4 --modes fork     # a quick run

`bench/evaluate.py --overhead` times whole runs of each method one after another; on a shared
virtual machine their wall times drift by +-20% between runs minutes apart, as much as the cost
being measured. Here every candidate is evaluated by both sides within seconds of each other, in
alternating order, in one process: unsandboxed (exec, build, train on the tensors, predict, as
bench/evaluate.py's in-process loop) and through `Evaluator` (static check, fork into the
confined process, FLOP count, fingerprint, prediction transfer) with one warm worker. Start-up is
left out of both (the sandbox's first request, which pays a one-off cost, is run once untimed and
reported). What `nngpt eval --store` adds per file, the store's rows, is timed on SQLite. It
prints, per sandbox mode, the ratio of the summed wall times with a bootstrap 95% interval over
the (file, round) pairs, the median per-candidate ratio, and each file's median seconds on both
sides.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evaluate import SEEDS, unsandboxed_evaluator


def _timed(evaluate, code: str) -> float:
    started = time.perf_counter()
    evaluate(code)
    return time.perf_counter() - started


def _ratio_interval(pairs: list[tuple[float, float]], draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of sum(sandbox) / sum(unsandboxed) over the pairs."""
    rng = random.Random(seed)
    ratios = []
    for _ in range(draws):
        sample = [rng.choice(pairs) for _ in pairs]
        ratios.append(sum(s for _, s in sample) / sum(u for u, _ in sample))
    ratios.sort()
    return ratios[int(0.025 * draws)], ratios[int(0.975 * draws) - 1]


def store_seconds(paths: list[Path], codes: list[str], results) -> float:
    """Seconds per file that `nngpt eval --store` adds: architecture, signature and evaluation rows, on SQLite."""
    import tempfile

    from nngpt_core.evaluate.batch import store_results
    from nngpt_core.store.engine import open_store
    from nngpt_core.store.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="nngpt-overhead-") as folder:
        store = open_store(f"sqlite:///{folder}/nngpt.db")
        upgrade(store)
        started = time.perf_counter()
        store_results(store, paths, codes, results, "seed")
        elapsed = time.perf_counter() - started
        store.dispose()
    return elapsed / len(paths)


def measure(mode: str, paths: list[Path], dataset: str, batch: int, rounds: int, unsandboxed) -> dict:
    from nngpt_core.config import EvaluationConfig
    from nngpt_core.evaluate import Evaluator

    cfg = EvaluationConfig(dataset=dataset, workers=1, worker_mode=mode,
                           hyperparameters={**EvaluationConfig().hyperparameters, "batch": batch})
    codes = [path.read_text() for path in paths]
    seconds: dict[str, list[tuple[float, float]]] = {path.stem: [] for path in paths}
    last = {}
    with Evaluator(cfg, progress=False) as evaluator:
        def sandboxed(code: str):
            last[code] = evaluator.evaluate_many([code])[0]
            return last[code]

        started = time.perf_counter()
        first = sandboxed(codes[0])  # the worker's first request pays a one-off cost: not counted
        first_extra = time.perf_counter() - started - first.duration_s
        for round_index in range(rounds):
            for index, (path, code) in enumerate(zip(paths, codes)):
                if (round_index + index) % 2 == 0:
                    pair = (_timed(unsandboxed, code), _timed(sandboxed, code))
                else:
                    sandbox_s = _timed(sandboxed, code)
                    pair = (_timed(unsandboxed, code), sandbox_s)
                seconds[path.stem].append(pair)
    pairs = [pair for per_file in seconds.values() for pair in per_file]
    return {"mode": mode, "seconds": seconds, "pairs": pairs, "first_extra_s": first_extra,
            "store_s": store_seconds(paths, codes, [last[code] for code in codes]),
            "ratio": sum(s for _, s in pairs) / sum(u for u, _ in pairs), "interval": _ratio_interval(pairs),
            "median_ratio": statistics.median(s / u for u, s in pairs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=8, help="architectures from the seed corpus, in name order")
    parser.add_argument("--dataset", default="digits", help="dataset from the registry")
    parser.add_argument("--batch", type=int, default=16, help="training batch size of the recipe")
    parser.add_argument("--rounds", type=int, default=3, help="times each file is evaluated by each side")
    parser.add_argument("--modes", nargs="+", default=["fork", "resident"], choices=["fork", "resident"])
    args = parser.parse_args()
    paths = sorted(p for p in SEEDS.glob("*.py") if p.name != "__init__.py")[:args.count]
    console = Console(width=160)
    console.print(f"{len(paths)} architectures, {args.dataset}, batch {args.batch}, 1 epoch, {args.rounds} rounds, "
                  "1 worker, unsandboxed and sandboxed back to back")
    unsandboxed = unsandboxed_evaluator(args.dataset, args.batch)
    results = []
    for mode in args.modes:
        with console.status(f"{mode} mode ..."):
            results.append(measure(mode, paths, args.dataset, args.batch, args.rounds, unsandboxed))
    summary = Table("sandbox mode", "pairs", "unsandboxed s", "sandboxed s", "sandboxed / unsandboxed (95% CI)",
                    "median per-candidate ratio", "first request's one-off s", "store write s/file (--store)",
                    title="the sandbox's cost per candidate")
    for result in results:
        low, high = result["interval"]
        summary.add_row(result["mode"], str(len(result["pairs"])), f"{sum(u for u, _ in result['pairs']):.1f}",
                        f"{sum(s for _, s in result['pairs']):.1f}", f"{result['ratio']:.3f}x [{low:.3f}, {high:.3f}]",
                        f"{result['median_ratio']:.3f}x", f"{result['first_extra_s']:.2f}", f"{result['store_s']:.3f}")
    console.print(summary)
    per_file = Table("file", *(f"{r['mode']}: unsandboxed / sandboxed s (median)" for r in results), title="per file")
    for path in paths:
        per_file.add_row(path.stem, *(
            f"{statistics.median(u for u, _ in r['seconds'][path.stem]):.2f} / "
            f"{statistics.median(s for _, s in r['seconds'][path.stem]):.2f}" for r in results))
    console.print(per_file)


if __name__ == "__main__":
    main()

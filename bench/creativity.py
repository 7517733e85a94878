"""The paper's dynamics, measured: the default loop for several run seeds, with fine-tuning and without.

    .venv/bin/python bench/creativity.py                         # 3 seeds x (SFT, no SFT), configs/default.yaml
    .venv/bin/python bench/creativity.py --seeds 0 --cycles 2 --candidates 8    # a smoke run
    .venv/bin/python bench/creativity.py --report-only --out bench-out/creativity   # tables and plot of stored runs

Every run is `nngpt run` on its own fresh SQLite store (bench/loop_runs.py). The ablation switches
fine-tuning off (`sft.enabled: false`) with the same seeds, so the effect of SFT is separated from
the effect of a reference pool that grows with admitted architectures. Per cycle, pooled over the
seeds (counts summed before rates are taken, Wilson 95% intervals): valid rate, novel-and-valid
rate, memorized share of the valid, mean and median first-epoch accuracy of the valid, share of the
valid at >= 40%, novel at the paper's tau = 0.90, and admissions. Then cycles 3-4 against 0-1 for
both arms, and a plot (creativity.png) of the novel-and-valid rate and the mean accuracy per cycle.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from loop_runs import ROOT, PooledCycle, fmt_rate, pooled_by_cycle, run_cycle_metrics, run_loop

ARMS = {"sft": True, "no-sft": False}


def arm_config(base: dict, seed: int, sft: bool, cycles: int | None, candidates: int | None) -> dict:
    config = json.loads(json.dumps(base))  # a deep copy
    config["seed"] = seed
    config.setdefault("sft", {})["enabled"] = sft
    if cycles is not None:
        config["cycles"] = cycles
    if candidates is not None:
        config.setdefault("generation", {})["candidates_per_cycle"] = candidates
    return config


def cycle_table(arm: str, rows: list[PooledCycle]) -> Table:
    table = Table("cycle", "runs", "generated", "valid rate", "novel & valid rate", "memorized share of valid",
                  "repeated", "novel at tau 0.90", "mean acc (valid)", "median acc", "share >= 40%", "admitted", "SFT ex.",
                  title=f"{arm}: per cycle, pooled over seeds (Wilson 95%)")
    for row in rows:
        table.add_row(str(row.cycle), str(row.runs), str(row.generated), fmt_rate(row.rate(row.ok, row.generated)),
                      fmt_rate(row.rate(row.novel, row.generated)), fmt_rate(row.rate(row.memorized, row.ok)),
                      str(row.repeated), str(row.paper_novel),
                      f"{row.mean_accuracy:.3f}" if row.mean_accuracy is not None else "-",
                      f"{row.median_accuracy:.3f}" if row.median_accuracy is not None else "-",
                      fmt_rate(row.share_above()), str(row.admitted), str(row.sft_examples))
    return table


def merge(rows: list[PooledCycle], cycles: range) -> PooledCycle:
    merged = PooledCycle(cycle=-1)
    for row in rows:
        if row.cycle in cycles:
            for name in ("runs", "generated", "ok", "memorized", "repeated", "novel", "paper_novel", "admitted", "sft_examples"):
                setattr(merged, name, getattr(merged, name) + getattr(row, name))
            merged.accuracies += row.accuracies
    return merged


def comparison_table(pooled: dict[str, list[PooledCycle]]) -> Table:
    table = Table("arm", "cycles", "generated", "novel & valid rate", "valid rate", "mean acc (valid)", "memorized share",
                  title="early (cycles 0-1) against late (cycles 3-4), pooled over seeds")
    for arm, rows in pooled.items():
        for label, span in (("0-1", range(0, 2)), ("3-4", range(3, 5))):
            row = merge(rows, span)
            table.add_row(arm, label, str(row.generated), fmt_rate(row.rate(row.novel, row.generated)),
                          fmt_rate(row.rate(row.ok, row.generated)),
                          f"{row.mean_accuracy:.3f}" if row.mean_accuracy is not None else "-",
                          fmt_rate(row.rate(row.memorized, row.ok)))
    return table


def plot(pooled: dict[str, list[PooledCycle]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), constrained_layout=True)
    for arm, rows in pooled.items():
        cycles = [row.cycle for row in rows]
        for axis, (part, whole) in zip(axes[:2], (("novel", "generated"), ("ok", "generated"))):
            rates = [row.rate(getattr(row, part), getattr(row, whole)) for row in rows]
            values = [rate or 0 for rate, _ in rates]
            low = [v - (i[0] if i else 0) for v, (_, i) in zip(values, rates)]
            high = [(i[1] if i else 0) - v for v, (_, i) in zip(values, rates)]
            axis.errorbar(cycles, values, yerr=[low, high], marker="o", capsize=4, label=arm)
        axes[2].plot(cycles, [row.mean_accuracy or float("nan") for row in rows], marker="o", label=arm)
    axes[0].set(title="novel and valid / generated", ylim=(0, 1))
    axes[1].set(title="valid / generated", ylim=(0, 1))
    axes[2].set(title="mean first-epoch accuracy of the valid", ylim=(0, 1))
    for axis in axes:
        axis.set_xlabel("cycle")
        axis.legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs/default.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--cycles", type=int, help="Override the config's cycles.")
    parser.add_argument("--candidates", type=int, help="Override generation.candidates_per_cycle.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out/creativity")
    parser.add_argument("--report-only", action="store_true", help="Only tabulate runs already in --out.")
    args = parser.parse_args()
    console = Console(width=240)
    base = yaml.safe_load(args.config.read_text())
    metrics: dict[str, list] = {arm: [] for arm in args.arms}
    for arm in args.arms:
        for seed in args.seeds:
            data_dir = args.out / f"{arm}-seed{seed}"
            if args.report_only:
                url = f"sqlite:///{(data_dir / 'nngpt.db').resolve()}"
            else:
                log = args.out / f"{arm}-seed{seed}.log"
                console.log(f"{arm}, seed {seed}: nngpt run ... (log: {log})")
                url, seconds = run_loop(arm_config(base, seed, ARMS[arm], args.cycles, args.candidates), data_dir, log)
                console.log(f"{arm}, seed {seed}: done in {seconds / 60:.1f} min")
            metrics[arm].append(run_cycle_metrics(url))
    pooled = {arm: pooled_by_cycle(runs) for arm, runs in metrics.items()}
    for arm, rows in pooled.items():
        console.print(cycle_table(arm, rows))
    console.print(comparison_table(pooled))
    console.print(f"plot: {plot(pooled, args.out / 'creativity.png')}")


if __name__ == "__main__":
    main()

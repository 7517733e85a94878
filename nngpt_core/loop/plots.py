"""PNG plots of a run, as in the paper's figures: the cycle metrics over cycles and the accuracy distribution.

    from nngpt_core.loop.plots import plot_run
    paths = plot_run(metrics, out_dir)     # cycle_metrics.png, memorization.png, accuracy_distribution.png
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: workers and CI have no display
import matplotlib.pyplot as plt  # noqa: E402

from nngpt_core.loop.metrics import CycleMetrics  # noqa: E402


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def plot_cycle_metrics(metrics: list[CycleMetrics], path: Path) -> Path:
    cycles = [m.cycle for m in metrics]
    fig, axes = plt.subplots(1, 5, figsize=(20, 3.6), constrained_layout=True)
    valid = [_nan(m.valid_rate) for m in metrics]
    low = [v - _nan(m.valid_low) for v, m in zip(valid, metrics)]
    high = [_nan(m.valid_high) - v for v, m in zip(valid, metrics)]
    axes[0].errorbar(cycles, valid, yerr=[low, high], marker="o", capsize=4)
    axes[0].set(title="valid rate (Wilson 95%)", ylim=(0, 1))
    axes[1].plot(cycles, [_nan(m.mean_accuracy) for m in metrics], marker="o", label="mean")
    axes[1].plot(cycles, [_nan(m.median_accuracy) for m in metrics], marker="s", linestyle="--", label="median")
    axes[1].set(title="first-epoch accuracy (ok candidates)", ylim=(0, 1))
    axes[1].legend()
    threshold = metrics[0].share_threshold if metrics else 0.4
    axes[2].plot(cycles, [_nan(m.share_above) for m in metrics], marker="o")
    axes[2].set(title=f"share of ok with accuracy >= {threshold:.0%}", ylim=(0, 1))
    axes[3].bar(cycles, [m.novel_admitted for m in metrics])
    axes[3].set(title="novel architectures admitted")
    axes[4].plot(cycles, [m.cumulative_novel for m in metrics], marker="o")
    axes[4].set(title="cumulative novel architectures")
    axes[4].set_ylim(bottom=0)  # a flat count must read as a count, not as noise around it
    for axis in axes:
        axis.set_xlabel("cycle")
        axis.set_xticks(cycles)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


SHARE_COLOURS = {"invalid": "#bbbbbb", "memorized": "#d62728", "repeated": "#ff7f0e", "novel": "#2ca02c"}


def plot_memorization(metrics: list[CycleMetrics], path: Path) -> Path:
    """Per cycle, the shares of generated candidates that were invalid, memorized, repeated or novel:
    from memorization to creativity, cycle by cycle."""
    cycles = [m.cycle for m in metrics]
    shares = {
        "invalid": [(m.generated - m.ok) / m.generated if m.generated else 0 for m in metrics],
        "memorized": [m.memorized / m.generated if m.generated else 0 for m in metrics],
        "repeated": [m.repeated / m.generated if m.generated else 0 for m in metrics],
        "novel": [m.novel_valid / m.generated if m.generated else 0 for m in metrics],
    }
    fig, axis = plt.subplots(figsize=(max(5, 1.1 * len(cycles) + 3), 3.8), constrained_layout=True)
    bottom = [0.0] * len(cycles)
    for label, values in shares.items():
        axis.bar(cycles, values, bottom=bottom, label=label, color=SHARE_COLOURS[label])
        bottom = [b + v for b, v in zip(bottom, values)]
    axis.set(title="generated candidates per cycle: invalid / memorized / repeated / novel", xlabel="cycle",
             ylabel="share of generated", ylim=(0, 1))
    axis.set_xticks(cycles)
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_accuracy_distribution(metrics: list[CycleMetrics], path: Path) -> Path:
    fig, axis = plt.subplots(figsize=(max(5, 1.4 * len(metrics) + 2), 3.8), constrained_layout=True)
    data = [m.accuracies for m in metrics]
    positions = [m.cycle for m in metrics]
    filled = [(p, d) for p, d in zip(positions, data) if d]
    if filled:
        axis.violinplot([d for _, d in filled], positions=[p for p, _ in filled], showmedians=True)
        for position, values in filled:
            axis.scatter([position] * len(values), values, s=8, alpha=0.5, color="black")
    axis.axhline(metrics[0].share_threshold if metrics else 0.4, linestyle=":", color="grey")
    axis.set(title="first-epoch accuracy of ok candidates per cycle", xlabel="cycle", ylabel="accuracy", ylim=(0, 1))
    axis.set_xticks(positions)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run(metrics: list[CycleMetrics], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        plot_cycle_metrics(metrics, out_dir / "cycle_metrics.png"),
        plot_memorization(metrics, out_dir / "memorization.png"),
        plot_accuracy_distribution(metrics, out_dir / "accuracy_distribution.png"),
    ]

"""Cold start of the bootstrap model, per generation mode: cycle 0 of the loop, without fine-tuning.

    .venv/bin/python bench/bootstrap.py                                  # 128 candidates, crossover, digits32
    .venv/bin/python bench/bootstrap.py --modes crossover mutation delta full --n 64
    .venv/bin/python bench/bootstrap.py --modes crossover --attempts 1 3 --n 64   # rejection sampling on/off

Each row is one `nngpt run` of a single cycle (configs/default.yaml with the mode, n and attempts of
the row) on a fresh store that holds the model's whole training corpus, so a candidate that copies a
training example is counted as memorized, exactly as in the loop. Every completion counts in the
denominator. Columns: valid rate, novel-and-valid rate (both of generated, Wilson 95%), memorized
share of the valid, repeated, novel at the paper's tau = 0.90, mean first-epoch accuracy of the
valid, the other statuses, and the wall time of the run.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from loop_runs import ROOT, fmt_rate, pooled_by_cycle, run_cycle_metrics, run_loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs/default.yaml")
    parser.add_argument("--modes", nargs="+", default=["crossover"], choices=["crossover", "mutation", "delta", "full"])
    parser.add_argument("--attempts", type=int, nargs="+", default=[None], help="Rejection-sampling attempts (default: the config's).")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[None], help="Sampling temperatures (default: the config's).")
    parser.add_argument("--n", type=int, default=128, help="Candidates per row.")
    parser.add_argument("--seed", type=int, default=0, help="Run seed.")
    parser.add_argument("--model", help="Model directory (default: the config's).")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out/bootstrap")
    args = parser.parse_args()
    console = Console(width=240)
    base = yaml.safe_load(args.config.read_text())
    table = Table("mode", "attempts", "temperature", "generated", "valid rate", "novel & valid rate", "memorized share of valid",
                  "repeated", "novel at tau 0.90", "mean acc (valid)", "other statuses", "minutes",
                  title=f"cold start (cycle 0, no fine-tuning) on {base.get('evaluation', {}).get('dataset', 'digits32')}")
    for mode in args.modes:
        for attempts in args.attempts:
            for temperature in args.temperatures:
                config = {**base, "seed": args.seed, "cycles": 1}
                generation = {**config.get("generation", {}), "modes": {mode: 1.0}, "candidates_per_cycle": args.n}
                if attempts is not None:
                    generation["attempts"] = attempts
                if temperature is not None:
                    generation["temperature"] = temperature
                config["generation"] = generation
                config["sft"] = {**config.get("sft", {}), "enabled": False}
                if args.model:
                    config["model"] = {**config.get("model", {}), "name_or_path": args.model}
                label = f"{mode}-a{generation.get('attempts', 1)}-t{generation.get('temperature', 'cfg')}"
                console.log(f"{label}: nngpt run ...")
                url, seconds = run_loop(config, args.out / label, args.out / f"{label}.log")
                metrics = run_cycle_metrics(url)
                row = pooled_by_cycle([metrics])[0]
                statuses = Counter(metrics[0].statuses)
                others = ", ".join(f"{status}={count}" for status, count in statuses.most_common() if status != "ok")
                table.add_row(mode, str(generation.get("attempts", 1)), str(generation.get("temperature", "-")),
                              str(row.generated), fmt_rate(row.rate(row.ok, row.generated)),
                              fmt_rate(row.rate(row.novel, row.generated)), fmt_rate(row.rate(row.memorized, row.ok)),
                              str(row.repeated), str(row.paper_novel),
                              f"{row.mean_accuracy:.3f}" if row.mean_accuracy is not None else "-", others or "-",
                              f"{seconds / 60:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()

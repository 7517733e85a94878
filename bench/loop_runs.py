"""Shared by the loop benchmarks: run `nngpt run` as a user would, and pool cycle metrics over runs.

    from loop_runs import run_loop, pooled_by_cycle, PooledCycle
    store_url = run_loop(config_dict, data_dir, log_path)      # a fresh SQLite store per run
    rows = pooled_by_cycle([store_url, ...])                   # per cycle, summed over the runs

Each run is a separate `nngpt run` process (the README's command) on its own data directory, so
runs share nothing but the model files. Pooling sums counts over runs before taking rates, and
gives every rate its Wilson 95% interval.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nngpt_core.loop.metrics import CycleMetrics, run_metrics  # noqa: E402
from nngpt_core.loop.stats import median, wilson_interval  # noqa: E402
from nngpt_core.store.engine import open_store  # noqa: E402
from nngpt_core.store.models import Run  # noqa: E402


def run_loop(config: dict, data_dir: Path, log: Path) -> tuple[str, float]:
    """Run the loop on `config` in a fresh data dir; returns (store URL, wall seconds). Raises on failure."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = {**config, "store": {**config.get("store", {}), "data_dir": str(data_dir)}}
    config_path = data_dir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_HOME": str(data_dir / "prefect")}
    env.pop("NNGPT_DATABASE_URL", None)
    env.pop("NNGPT_DATA_DIR", None)
    started = time.perf_counter()
    with log.open("w") as handle:
        done = subprocess.run([str(ROOT / ".venv/bin/nngpt"), "run", "--config", str(config_path)], cwd=ROOT,
                              stdout=handle, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"nngpt run failed (exit {done.returncode}); see {log}")
    return f"sqlite:///{(data_dir / 'nngpt.db').resolve()}", seconds


def run_cycle_metrics(url: str) -> list[CycleMetrics]:
    store = open_store(url)
    with store.session() as session:
        run_id = max(run.id for run in session.query(Run).all())
        return run_metrics(session, run_id)


@dataclass
class PooledCycle:
    cycle: int
    runs: int = 0
    generated: int = 0
    ok: int = 0
    memorized: int = 0
    repeated: int = 0
    novel: int = 0
    paper_novel: int = 0
    admitted: int = 0
    sft_examples: int = 0
    accuracies: list[float] = field(default_factory=list)

    def add(self, m: CycleMetrics) -> None:
        self.runs += 1
        self.generated += m.generated
        self.ok += m.ok
        self.memorized += m.memorized
        self.repeated += m.repeated
        self.novel += m.novel_valid
        self.paper_novel += m.paper_novel_valid
        self.admitted += m.novel_admitted
        self.sft_examples += m.sft_examples
        self.accuracies += m.accuracies

    def rate(self, part: int, whole: int) -> tuple[float | None, tuple[float, float] | None]:
        return (part / whole if whole else None), wilson_interval(part, whole)

    @property
    def mean_accuracy(self) -> float | None:
        return sum(self.accuracies) / len(self.accuracies) if self.accuracies else None

    @property
    def median_accuracy(self) -> float | None:
        return median(self.accuracies)

    def share_above(self, threshold: float = 0.4) -> tuple[float | None, tuple[float, float] | None]:
        return self.rate(sum(a >= threshold for a in self.accuracies), len(self.accuracies))


def pooled_by_cycle(metrics_per_run: list[list[CycleMetrics]]) -> list[PooledCycle]:
    pooled: dict[int, PooledCycle] = {}
    for metrics in metrics_per_run:
        for m in metrics:
            pooled.setdefault(m.cycle, PooledCycle(m.cycle)).add(m)
    return [pooled[c] for c in sorted(pooled)]


def fmt_rate(value: tuple[float | None, tuple[float, float] | None]) -> str:
    rate, interval = value
    if rate is None:
        return "-"
    return f"{rate:.1%} [{interval[0]:.1%}, {interval[1]:.1%}]"

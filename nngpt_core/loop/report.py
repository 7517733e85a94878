"""Run reports: the cycle table (terminal and markdown), the best new architectures, plots and code files.

    nngpt report RUN --out reports/run-RUN     # writes summary.md, PNG plots and the best architectures' code
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from nngpt_core.config import RunConfig
from nngpt_core.errors import NngptError
from nngpt_core.loop.metrics import CycleMetrics, run_metrics
from nngpt_core.loop.plots import plot_run
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, Candidate, Cycle, Evaluation, Run

TABLE_COLUMNS = (
    "cycle", "generated", "valid rate [95% CI]", "mean acc", "median acc", "share >= thr",
    "memorized / repeated / novel", "novel valid rate [95% CI]", "novel at tau 0.90", "novel admitted",
    "SFT examples", "cumulative novel",
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def table_rows(metrics: list[CycleMetrics]) -> list[list[str]]:
    return [
        [
            str(m.cycle),
            str(m.generated),
            f"{_pct(m.valid_rate)} [{_pct(m.valid_low)}, {_pct(m.valid_high)}]",
            _pct(m.mean_accuracy),
            _pct(m.median_accuracy),
            _pct(m.share_above),
            f"{m.memorized} / {m.repeated} / {m.novel_valid}",
            f"{_pct(m.novel_valid_rate)} [{_pct(m.novel_low)}, {_pct(m.novel_high)}]",
            str(m.paper_novel_valid),
            str(m.novel_admitted),
            str(m.sft_examples),
            str(m.cumulative_novel),
        ]
        for m in metrics
    ]


def cycle_table(metrics: list[CycleMetrics], title: str = "cycles") -> Table:
    table = Table(*TABLE_COLUMNS, title=title)
    for row in table_rows(metrics):
        table.add_row(*row)
    return table


def markdown_table(metrics: list[CycleMetrics]) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(metrics)]
    return "\n".join(lines)


def best_new_architectures(session: Session, run_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """The run's admitted architectures with the highest first-epoch accuracy."""
    rows = session.execute(
        select(Candidate, Cycle.index, Architecture, Evaluation)
        .join(Cycle, Cycle.id == Candidate.cycle_id)
        .join(Architecture, Architecture.id == Candidate.architecture_id)
        .outerjoin(Evaluation, Evaluation.id == Candidate.evaluation_id)
        .where(Candidate.run_id == run_id, Candidate.admitted.is_(True))
        .order_by(Candidate.accuracy.desc(), Candidate.id)
        .limit(limit)
    ).all()
    return [
        {
            "architecture_id": arch.id,
            "name": arch.name,
            "cycle": cycle_index,
            "accuracy": candidate.accuracy,
            "params": evaluation.params if evaluation else arch.params,
            "flops": evaluation.flops if evaluation else arch.flops,
            "code": arch.code,
        }
        for candidate, cycle_index, arch, evaluation in rows
    ]


@dataclass
class RunReport:
    run_id: int
    metrics: list[CycleMetrics]
    best: list[dict[str, Any]]
    markdown: str
    summary_path: Path | None = None
    plot_paths: list[Path] | None = None


def _markdown(run: Run, metrics: list[CycleMetrics], best: list[dict[str, Any]], plots: list[Path], code_dir: str) -> str:
    lines = [
        f"# Run {run.id}: {run.name}",
        "",
        f"Base model `{run.base_model}` · dataset `{run.dataset}` · seed {run.seed} · status {run.status}",
        "",
        "## Cycle metrics",
        "",
        markdown_table(metrics),
        "",
        "Valid rate = ok / generated with a Wilson 95% interval; accuracies are first-epoch test accuracies of ok "
        f"candidates; share = ok candidates with accuracy >= {run.share_threshold:.0%}. Each ok candidate is memorized "
        "(a copy of the model's training corpus or another known architecture), repeated (a copy of one generated "
        "earlier) or novel, by the project's thresholds; 'novel at tau 0.90' counts ok candidates below the paper's "
        "threshold (exact Jaccard of abstracted token 10-shingles) against the corpus.",
        "",
        "## Best new architectures",
        "",
    ]
    if best:
        lines += ["| architecture | cycle | accuracy | params | FLOPs/sample | code |", "|---|---|---|---|---|---|"]
        for item in best:
            link = f"[{code_dir}/arch_{item['architecture_id']}.py]({code_dir}/arch_{item['architecture_id']}.py)"
            lines.append(
                f"| {item['architecture_id']} {item['name']} | {item['cycle']} | {_pct(item['accuracy'])} | "
                f"{item['params'] or '-'} | {item['flops'] or '-'} | {link} |"
            )
    else:
        lines.append("No architecture admitted yet.")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines) + "\n"


def report_dir(cfg: RunConfig, run_id: int) -> Path:
    """Where run `run_id`'s report goes: orchestration.reports_dir (relative to the data dir)/run-<id>."""
    root = cfg.orchestration.reports_dir
    if not root.is_absolute():
        root = cfg.store.resolved_data_dir() / root
    return root / f"run-{run_id}"


def build_report(store: Store, run_id: int, out_dir: Path | None = None, best_limit: int = 5) -> RunReport:
    """Metrics, best architectures and markdown; with `out_dir`, also the PNG plots, code files and summary.md."""
    with store.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NngptError(f"run {run_id} not found")
        metrics = run_metrics(session, run_id)
        best = best_new_architectures(session, run_id, best_limit)
    plots: list[Path] = []
    code_dir = "code"
    if out_dir is not None and metrics:
        plots = plot_run(metrics, out_dir)
    if out_dir is not None:
        (out_dir / code_dir).mkdir(parents=True, exist_ok=True)
        for item in best:
            (out_dir / code_dir / f"arch_{item['architecture_id']}.py").write_text(item["code"])
    report = RunReport(run_id, metrics, best, _markdown(run, metrics, best, plots, code_dir), plot_paths=plots)
    if out_dir is not None:
        report.summary_path = out_dir / "summary.md"
        report.summary_path.write_text(report.markdown)
    return report

"""Prefect artifacts of a cycle: a markdown report (table, best architectures, plots inline) and a table."""

from __future__ import annotations

import base64
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from nngpt_core.config import RunConfig
from nngpt_core.loop.report import build_report
from nngpt_core.loop.stages import report_dir
from tasks.policy import STAGE_TASK_OPTIONS, store_for


def _inline_png(path: Path) -> str:
    """A PNG as a data URI: the artifact then shows the plot without a file server."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


@task(name="publish-artifacts", **STAGE_TASK_OPTIONS)
def publish_cycle_artifacts(config: RunConfig, run_id: int, index: int) -> None:
    report = build_report(store_for(config), run_id, report_dir(config, run_id))
    markdown = report.markdown
    for plot in report.plot_paths or []:
        markdown = markdown.replace(f"]({plot.name})", f"]({_inline_png(plot)})")
    create_markdown_artifact(
        key=f"nngpt-run-{run_id}-report", markdown=markdown, description=f"run {run_id} after cycle {index}"
    )
    rows = [{k: v for k, v in m.to_json().items() if k not in ("accuracies", "statuses")} for m in report.metrics]
    create_table_artifact(key=f"nngpt-run-{run_id}-cycles", table=rows, description=f"cycle metrics of run {run_id}")

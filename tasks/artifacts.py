"""Prefect artifacts of a run: a markdown report (table, best architectures, plots inline) and a table.

    publish_run_artifacts(config, run_id, "after cycle 1 of 3")   # in the cycle flow, after each cycle
    publish_run_artifacts(config, run_id, "finished")             # in evolve and report, once the run is done

Each publication is a new version of the same two keys (`artifact_key`: store tag, run id, kind),
so the UI's artifact page shows the latest state of the run and its history.
"""

from __future__ import annotations

import base64
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from nngpt_core.config import RunConfig
from nngpt_core.loop.report import build_report
from nngpt_core.loop.report import report_dir
from nngpt_tasks.labels import artifact_key
from nngpt_tasks.policy import STAGE_TASK_OPTIONS, store_for


def _inline_png(path: Path) -> str:
    """A PNG as a data URI: the artifact then shows the plot without a file server."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


@task(name="publish-artifacts", **STAGE_TASK_OPTIONS)
def publish_run_artifacts(config: RunConfig, run_id: int, stage: str) -> str:
    """Publish the run's report and cycle table as they are now; `stage` says when (the artifact's description)."""
    store = store_for(config)
    report = build_report(store, run_id, report_dir(config, run_id))
    markdown = report.markdown
    for plot in report.plot_paths or []:
        markdown = markdown.replace(f"]({plot.name})", f"]({_inline_png(plot)})")
    key = artifact_key(store, run_id, "report")
    create_markdown_artifact(key=key, markdown=markdown, description=f"run {run_id}: {stage}")
    rows = [{k: v for k, v in m.to_json().items() if k not in ("accuracies", "statuses")} for m in report.metrics]
    create_table_artifact(key=artifact_key(store, run_id, "cycles"), table=rows,
                          description=f"cycle metrics of run {run_id}: {stage}")
    return key

"""The `report` flow: plots, markdown summary and artifacts of a run."""

from __future__ import annotations

from prefect import flow

from nngpt_core.config import RunConfig
from nngpt_core.loop.stages import report_dir
from tasks import stages as stage


@flow(name="report", log_prints=True)
def report(config: RunConfig = RunConfig(), run_id: int = 1) -> str:
    """Write the run's report; returns the path of its summary.md."""
    return stage.report(config, run_id, str(report_dir(config, run_id)))

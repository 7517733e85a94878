"""The `report` flow: plots, markdown summary and artifacts of a run."""

from __future__ import annotations

from prefect import flow

from nngpt_core.config import RunConfig
from nngpt_core.loop.report import report_dir
from nngpt_core.loop.runs import latest_run_id, run_progress
from nngpt_flows.cycle import RunId
from nngpt_tasks import stages as stage
from nngpt_tasks.artifacts import publish_run_artifacts
from nngpt_tasks.labels import name_flow_run
from nngpt_tasks.policy import store_for


@flow(name="report", log_prints=True)
def report(config: RunConfig = RunConfig(), run_id: RunId = None) -> str:
    """Write the run's report (plots, summary.md, best code) and publish it as artifacts; returns the summary's path.

    Args:
        config: Where the store is (`store`) and where reports go (`orchestration.reports_dir`).
        run_id: The run to report on; empty = the newest run in the store.
    """
    store = store_for(config)
    run_id = latest_run_id(store) if run_id is None else run_id
    name_flow_run(store, f"run {run_id} · report")
    summary = stage.report(config, run_id, str(report_dir(config, run_id)))
    publish_run_artifacts(config, run_id, f"report: {run_progress(store, run_id)}")
    return summary

"""The dask backend: evaluation shards as tasks on a Dask cluster, through prefect-dask's DaskTaskRunner.

The cycle flow calls `evaluate_on_dask`, which runs the `evaluate-shards` subflow
(flows/evaluate_shards.py) on a DaskTaskRunner.

With orchestration.dask_address the shards go to that cluster's scheduler; without it, a
LocalCluster of orchestration.dask_workers processes (one thread each) is started for the cycle's
evaluation and stopped after it. Every worker process opens the store itself and keeps its own
sandbox pool and dataset cache; only the config and candidate ids cross.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from nngpt_core.config import RunConfig
from nngpt_core.errors import NngptError
from nngpt_flows.evaluate_shards import evaluate_shards


def dask_task_runner(cfg: RunConfig):
    from prefect_dask import DaskTaskRunner

    orchestration = cfg.orchestration
    if orchestration.dask_address:
        return DaskTaskRunner(address=orchestration.dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": orchestration.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": ":0",  # its status page on a free port, not a fixed 8787
        },
    )


@contextlib.contextmanager
def api_reachable_from_workers(cfg: RunConfig) -> Iterator[None]:
    """Make the Prefect API this process uses the one the Dask workers' tasks report to.

    With a server (PREFECT_API_URL) there is nothing to do. In Prefect's ephemeral mode (nngpt run
    without a server) the API is a subprocess on 127.0.0.1: a LocalCluster's workers get its URL
    through the task context, instead of each starting an ephemeral server of its own. Workers on
    other machines (dask_address) cannot reach it.
    """
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    if cfg.orchestration.dask_address:
        raise NngptError(
            "orchestration.dask_address needs a Prefect server the Dask workers can reach: set PREFECT_API_URL"
        )
    with get_client(sync_client=True) as client:
        url = str(client.api_url).rstrip("/")
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


def evaluate_on_dask(cfg: RunConfig, shards: list[list[int]]) -> int:
    """Run the `evaluate-shards` subflow on a DaskTaskRunner; returns how many candidates were evaluated."""
    if not shards:
        return 0
    with api_reachable_from_workers(cfg):
        return evaluate_shards.with_options(task_runner=dask_task_runner(cfg))(config=cfg, shards=shards)

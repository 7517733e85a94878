"""The `evaluate-shards` subflow: evaluate candidate shards as tasks on the task runner the caller picks.

The cycle calls it with `.with_options(task_runner=DaskTaskRunner(...))` when
orchestration.evaluation_backend is dask (see flows/dask_runner.py), so the shards run on Dask
workers. Its parameters are the config and lists of candidate ids only.
"""

from __future__ import annotations

from prefect import flow, unmapped

from nngpt_core.config import RunConfig
from nngpt_tasks.stages import evaluate_shard


@flow(name="evaluate-shards", log_prints=True)
def evaluate_shards(config: RunConfig, shards: list[list[int]]) -> int:
    """Evaluate every shard (one task each); returns how many candidates were evaluated."""
    return sum(evaluate_shard.map(unmapped(config), shards).result())

"""The `cycle` flow: generate -> prepare -> evaluate (fanned out) -> novelty and admission -> select -> fine-tune.

Every stage resumes from what the store already holds, so running a cycle again finishes it without
recomputing or duplicating anything. orchestration.evaluation_backend picks where the evaluation
shards run: local (tasks of this flow run), pool (flow runs of the evaluate deployment on the work
pool, tasks/pool.py) or dask (a DaskTaskRunner subflow, tasks/dask_runner.py).
"""

from __future__ import annotations

from prefect import flow, get_run_logger, unmapped

from nngpt_core.config import RunConfig
from nngpt_core.loop import stages
from nngpt_core.loop.runs import cycle_done, ensure_cycle
from tasks import stages as stage
from tasks.artifacts import publish_cycle_artifacts
from tasks.policy import store_for


def run_evaluation(config: RunConfig, shards: list[list[int]], run_id: int, index: int) -> None:
    backend = config.orchestration.evaluation_backend
    if backend == "pool":
        from tasks.pool import evaluate_on_pool

        evaluate_on_pool(config, shards, run_id, index)
    elif backend == "dask":
        from tasks.dask_runner import evaluate_on_dask

        evaluate_on_dask(config, shards)
    else:
        stage.evaluate_shard.map(unmapped(config), shards).result()


@flow(name="cycle", log_prints=True)
def cycle(config: RunConfig, run_id: int, index: int) -> dict:
    """Run (or finish) cycle `index` of run `run_id`; returns the cycle's metrics."""
    logger = get_run_logger()
    store = store_for(config)
    cycle_id = ensure_cycle(store, run_id, index)
    if not cycle_done(store, cycle_id):
        if config.orchestration.evaluation_backend == "pool":
            from tasks.pool import check_pool

            check_pool(config)  # before generation: a missing deployment fails in seconds
        stage.generate(config, cycle_id)
        ready = stage.prepare(config, cycle_id)
        shards = stages.shard(ready, config.orchestration.shard_size)
        logger.info("cycle %d: evaluating %d candidates in %d shards (%s backend)", index, len(ready), len(shards),
                    config.orchestration.evaluation_backend)
        run_evaluation(config, shards, run_id, index)
        stage.admit(config, cycle_id)
        stage.select_pairs(config, cycle_id)
        stage.finetune(config, cycle_id)
        stages.close_cycle(store, cycle_id)
    metrics = stages.cycle_summary(store, cycle_id)
    publish_cycle_artifacts(config, run_id, index)
    return metrics

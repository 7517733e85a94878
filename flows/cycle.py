"""The `cycle` flow: generate -> prepare -> evaluate (fanned out) -> novelty and admission -> select -> fine-tune.

Every stage resumes from what the store already holds, so running a cycle again finishes it without
recomputing or duplicating anything. orchestration.evaluation_backend picks where the evaluation
shards run: local (tasks of this flow run), pool (flow runs of the evaluate deployment on the work
pool, tasks/pool.py) or dask (a DaskTaskRunner subflow, flows/dask_runner.py).

`evolve` runs its cycles through this flow. Started on its own (the `cycle` deployment's form in the
Prefect UI) it needs nothing but the store: without a run id it continues the store's newest run,
without an index it runs that run's first unfinished cycle (or one cycle more), and it keeps the
run's status and report up to date.
"""

from __future__ import annotations

import contextlib

from prefect import flow, get_run_logger, unmapped

from nngpt_core.config import RunConfig, StoreConfig, optional
from nngpt_core.loop.evaluation import shard
from nngpt_core.loop.runs import (
    close_cycle, cycle_done, cycle_summary, ensure_cycle, failed_on_error, latest_run_id, next_cycle_index,
    planned_cycles, run_progress, set_run_status, settle_run_status, stored_config,
)
from nngpt_tasks import stages as stage
from nngpt_tasks.artifacts import publish_run_artifacts
from nngpt_tasks.concurrency import ensure_device_slots
from nngpt_tasks.labels import is_subflow, name_flow_run
from nngpt_tasks.policy import store_at


def run_evaluation(config: RunConfig, shards: list[list[int]], run_id: int, index: int) -> None:
    backend = config.orchestration.evaluation_backend
    if backend == "pool":
        from nngpt_tasks.pool import evaluate_on_pool

        evaluate_on_pool(config, shards, run_id, index)
    elif backend == "dask":
        from nngpt_flows.dask_runner import evaluate_on_dask

        evaluate_on_dask(config, shards)
    else:
        stage.evaluate_shard.map(unmapped(config), shards).result()


def run_stages(config: RunConfig, run_id: int, index: int) -> int:
    """The stages of cycle `index`, each doing only what the store says is missing; returns the cycle's id."""
    logger = get_run_logger()
    store = store_at(config.store)
    cycle_id = ensure_cycle(store, run_id, index)
    if cycle_done(store, cycle_id):
        return cycle_id
    if config.orchestration.evaluation_backend == "pool":
        from nngpt_tasks.pool import check_pool

        check_pool(config)  # before generation: a missing deployment fails in seconds
    stage.generate(config, cycle_id)
    ready = stage.prepare(config, cycle_id)
    shards = shard(ready, config.orchestration.shard_size)
    logger.info("cycle %d: evaluating %d candidates in %d shards (%s backend)", index, len(ready), len(shards),
                config.orchestration.evaluation_backend)
    run_evaluation(config, shards, run_id, index)
    stage.admit(config, cycle_id)
    stage.select_pairs(config, cycle_id)
    stage.finetune(config, cycle_id)
    close_cycle(store, cycle_id)
    return cycle_id


RunId = optional(int, "run id", "newest run", minimum=1)
CycleIndex = optional(int, "cycle", "next cycle", minimum=0)


@flow(name="cycle", log_prints=True)
def cycle(run_id: RunId = None, index: CycleIndex = None, store: StoreConfig = StoreConfig()) -> dict:
    """Run (or finish) one cycle of a stored run, with the config the run was started with; returns its metrics.

    Args:
        run_id: The run to continue; empty = the newest run in the store. The `evolve` flow run's
            name shows its run id ("run 3 · ..."), and `nngpt db stats` lists the runs.
        index: The cycle to run (0 = the first); empty = the run's first unfinished cycle, or one
            cycle more than it has.
        store: Where the run is stored; NNGPT_DATABASE_URL on the worker overrides it.
    """
    logger = get_run_logger()
    db = store_at(store)
    run_id = latest_run_id(db) if run_id is None else run_id
    index = next_cycle_index(db, run_id) if index is None else index
    config = stored_config(db, run_id).model_copy(update={"store": store})
    name_flow_run(db, f"run {run_id} · cycle {index}")
    on_its_own = not is_subflow()  # else the evolve flow run keeps the run's status
    if on_its_own:
        set_run_status(db, run_id, "running", cycles=max(planned_cycles(db, run_id), index + 1))
        logger.info("run %d, cycle %d (%s)", run_id, index, run_progress(db, run_id))
    ensure_device_slots(config)
    with failed_on_error(db, run_id) if on_its_own else contextlib.nullcontext():
        cycle_id = run_stages(config, run_id, index)
    if on_its_own:
        settle_run_status(db, run_id)
    metrics = cycle_summary(db, cycle_id)
    publish_run_artifacts(config, run_id, f"after cycle {index}: {run_progress(db, run_id)}")
    return metrics

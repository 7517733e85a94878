"""The `cycle` flow: generate -> prepare -> evaluate (fanned out) -> novelty and admission -> select -> fine-tune.

Every stage resumes from what the store already holds, so running a cycle again finishes it without
recomputing or duplicating anything.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, unmapped

from nngpt_core.config import RunConfig
from nngpt_core.loop import stages
from nngpt_core.loop.runs import cycle_done, ensure_cycle
from tasks import stages as stage
from tasks.artifacts import publish_cycle_artifacts
from tasks.policy import store_for


@flow(name="cycle", log_prints=True)
def cycle(config: RunConfig, run_id: int, index: int) -> dict:
    """Run (or finish) cycle `index` of run `run_id`; returns the cycle's metrics."""
    logger = get_run_logger()
    store = store_for(config)
    cycle_id = ensure_cycle(store, run_id, index)
    if not cycle_done(store, cycle_id):
        stage.generate(config, cycle_id)
        ready = stage.prepare(config, cycle_id)
        shards = stages.shard(ready, config.orchestration.shard_size)
        logger.info("cycle %d: evaluating %d candidates in %d shards", index, len(ready), len(shards))
        stage.evaluate_shard.map(unmapped(config), shards).result()
        stage.admit(config, cycle_id)
        stage.select_pairs(config, cycle_id)
        stage.finetune(config, cycle_id)
        stages.close_cycle(store, cycle_id)
    metrics = stages.cycle_summary(store, cycle_id)
    publish_cycle_artifacts(config, run_id, index)
    return metrics

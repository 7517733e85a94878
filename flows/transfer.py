"""The `transfer` flow: a new run that generates with another run's final adapter on another dataset.

    nngpt transfer --run 3 --dataset cifar100 [--cycles 1]
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from nngpt_core.config import RunConfig
from nngpt_core.loop.transfer import transfer_config
from nngpt_flows.evolve import evolve
from nngpt_tasks.policy import store_for


@flow(name="transfer", log_prints=True)
def transfer(config: RunConfig, source_run: int, dataset: str, cycles: int = 1) -> int:
    """Run `cycles` cycles on `dataset` from `source_run`'s configuration and final adapter; returns the new run id."""
    target = transfer_config(store_for(config), source_run, dataset, cycles).model_copy(update={"store": config.store})
    get_run_logger().info("transfer of run %d to %s with adapter %s", source_run, dataset, target.model.adapter_id)
    return evolve(config=target)

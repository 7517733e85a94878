"""The `evaluate` flow: evaluate files, stored architectures or stored candidates on a dataset, in the sandbox.

Exactly what is given is evaluated and stored; the cycle sends its candidate shards here when it
fans out over a work pool.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task

from nngpt_core.config import RunConfig
from nngpt_core.evaluate.batch import evaluate_architectures, evaluate_files
from nngpt_core.loop.evaluation import shard
from nngpt_tasks.policy import STAGE_TASK_OPTIONS, store_for
from nngpt_tasks.stages import evaluate_shard


@task(name="evaluate-files", **STAGE_TASK_OPTIONS)
def evaluate_file_list(config: RunConfig, files: list[str], store_results: bool) -> list[dict]:
    return evaluate_files(config, [Path(f) for f in files], store=store_for(config) if store_results else None)


@task(name="evaluate-architectures", **STAGE_TASK_OPTIONS)
def evaluate_stored(config: RunConfig, architecture_ids: list[int]) -> list[dict]:
    return evaluate_architectures(store_for(config), config, architecture_ids)


@flow(name="evaluate", log_prints=True)
def evaluate(
    config: RunConfig = RunConfig(),
    files: list[str] | None = None,
    architecture_ids: list[int] | None = None,
    candidate_ids: list[int] | None = None,
    store_results: bool = True,
) -> list[dict]:
    """Evaluate `files`, stored `architecture_ids` and pending `candidate_ids` on config.evaluation.dataset.

    Args:
        config: The evaluation settings (`evaluation`), the store (`store`) and the shard size (`orchestration`).
        files: Architecture files on the worker, relative to its NNGPT_WORKDIR or absolute.
        architecture_ids: Stored architectures to evaluate.
        candidate_ids: Stored candidates still to evaluate (what the pool backend sends).
        store_results: Store the evaluations of `files` (stored architectures and candidates always are).
    """
    if store_results or architecture_ids or candidate_ids:
        store_for(config)  # open and migrate the store here: a store this worker cannot use fails the run in one line
    results: list[dict] = []
    if files:
        results += evaluate_file_list(config, files, store_results)
    if architecture_ids:
        results += evaluate_stored(config, architecture_ids)
    if candidate_ids:
        for part in shard(candidate_ids, config.orchestration.shard_size):
            results.append({"candidates": part, "evaluated": evaluate_shard(config, part)})
    return results

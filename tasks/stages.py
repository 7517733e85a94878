"""One thin task per stage of a cycle. Tasks pass ids and configs, never tensors, models or sessions.

A failing candidate is a stored result; a task fails only on a bug or an infrastructure fault, and
retries (with backoff) only on the latter (see tasks/policy.py).
"""

from __future__ import annotations

from pathlib import Path

from prefect import task

from nngpt_core.config import RunConfig
from nngpt_core.loop.admission import judge_and_admit
from nngpt_core.loop.evaluation import evaluate_candidates
from nngpt_core.loop.finetuning import finetune_cycle
from nngpt_core.loop.generation import generate_candidates
from nngpt_core.loop.preparation import prepare_candidates
from nngpt_core.loop.report import build_report
from nngpt_core.loop.selection import select_sft_examples
from nngpt_tasks.concurrency import device_slot_name, ensure_device_slots
from nngpt_tasks.policy import STAGE_TASK_OPTIONS, store_for

SLOT_LEASE_S = 60  # seconds; the shortest lease the Prefect server accepts


@task(name="generate", **STAGE_TASK_OPTIONS)
def generate(cfg: RunConfig, cycle_id: int) -> int:
    return generate_candidates(store_for(cfg), cfg, cycle_id)


@task(name="prepare", **STAGE_TASK_OPTIONS)
def prepare(cfg: RunConfig, cycle_id: int) -> list[int]:
    """Extract code, run static checks and reuse stored evaluations of exact duplicates."""
    return prepare_candidates(store_for(cfg), cfg, cycle_id)


@task(name="evaluate-shard", **STAGE_TASK_OPTIONS)
def evaluate_shard(cfg: RunConfig, candidate_ids: list[int]) -> int:
    """Evaluate the shard's still-pending candidates while holding one of the device's slots.

    Off the local backend this runs on another machine (a pool worker, a Dask worker): the slot
    limit of that machine's device is created there, on first use.
    """
    from prefect.concurrency.sync import concurrency

    if cfg.orchestration.evaluation_backend != "local":
        ensure_device_slots(cfg)
    # the holder renews its lease while it runs; a killed holder's slot is free again after the lease
    # (plus the server's repossessor loop), not after Prefect's default 300 s
    with concurrency(device_slot_name(cfg), occupy=1, lease_duration=SLOT_LEASE_S):
        return evaluate_candidates(store_for(cfg), cfg, candidate_ids)


@task(name="novelty-and-admission", **STAGE_TASK_OPTIONS)
def admit(cfg: RunConfig, cycle_id: int) -> int:
    return judge_and_admit(store_for(cfg), cfg, cycle_id)


@task(name="select-sft-pairs", **STAGE_TASK_OPTIONS)
def select_pairs(cfg: RunConfig, cycle_id: int) -> int:
    return select_sft_examples(store_for(cfg), cfg, cycle_id)


# log_prints off: while trl/datasets fingerprint the SFT data, dill prints bytecode listings
@task(name="fine-tune", log_prints=False, **STAGE_TASK_OPTIONS)
def finetune(cfg: RunConfig, cycle_id: int) -> int | None:
    return finetune_cycle(store_for(cfg), cfg, cycle_id)


@task(name="report", **STAGE_TASK_OPTIONS)
def report(cfg: RunConfig, run_id: int, out_dir: str) -> str:
    return str(build_report(store_for(cfg), run_id, Path(out_dir)).summary_path)

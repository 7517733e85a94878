"""The stages of a cycle, in pipeline order; `tasks/stages.py` wraps each one in a Prefect task.

    generate_candidates -> prepare_candidates -> evaluate_candidates (in shards) -> judge_and_admit
    -> select_sft_examples -> finetune_cycle -> close_cycle

Every stage takes (store, config, ids), does only what the store says is missing, and writes its
results before it returns.
"""

from __future__ import annotations

import logging
import re
import socket
from pathlib import Path

from sqlalchemy import select

from nngpt_core.config import RunConfig
from nngpt_core.loop.admission import judge_and_admit
from nngpt_core.loop.evaluation import evaluate_candidates, shard, unevaluated
from nngpt_core.loop.generation import generate_candidates
from nngpt_core.loop.metrics import cycle_metrics
from nngpt_core.loop.preparation import prepare_candidates
from nngpt_core.loop.report import RunReport, build_report
from nngpt_core.loop.runs import finish_cycle, timed_stage
from nngpt_core.loop.selection import select_sft_examples
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Cycle, Run, SftExample

__all__ = [
    "generate_candidates", "prepare_candidates", "evaluate_candidates", "shard", "unevaluated", "judge_and_admit",
    "select_sft_examples", "finetune_cycle", "close_cycle", "cycle_summary", "report_run", "report_dir",
    "device_slot_name",
]

log = logging.getLogger("nngpt.loop")


def finetune_cycle(store: Store, cfg: RunConfig, cycle_id: int) -> int | None:
    """Train this cycle's adapter on its SFT examples on top of the adapter it generated with.

    Returns the adapter id; None when the cycle selected no examples (the next cycle then keeps
    the current adapter). An adapter already registered for the cycle is never trained twice.
    With sft.cumulative the training set is the original pairs plus every example selected so far.
    """
    from nngpt_core.llm.finetune import cumulative_pairs, finetune

    with store.session() as session:
        cycle = session.get(Cycle, cycle_id)
        if cycle.adapter_out_id is not None:
            return cycle.adapter_out_id
        examples = session.scalars(select(SftExample).where(SftExample.cycle_id == cycle_id).order_by(SftExample.id))
        pairs = [{"prompt": e.prompt, "completion": e.completion} for e in examples]
    if not pairs or not cfg.sft.enabled:
        log.info("cycle %d: %s, so the next cycle keeps adapter %s", cycle.index,
                 "fine-tuning is off (sft.enabled)" if pairs else "no SFT examples were selected", cycle.adapter_in_id)
        return None
    if cfg.sft.cumulative:
        pairs = cumulative_pairs(cfg, store, cycle.run_id, cycle.index)
    with timed_stage(store, cycle_id, "finetune"):
        return finetune(cfg, store, pairs, parent_id=cycle.adapter_in_id, run_id=cycle.run_id, cycle=cycle)


def cycle_summary(store: Store, cycle_id: int) -> dict:
    with store.session() as session:
        cycle = session.get(Cycle, cycle_id)
        metrics = cycle_metrics(session, session.get(Run, cycle.run_id), cycle).to_json()
        metrics["stage_timings"] = dict(cycle.stage_timings or {})
        return metrics


def close_cycle(store: Store, cycle_id: int) -> dict:
    """Recount the cycle's metrics from its candidates, store them on the cycle and mark it done."""
    metrics = cycle_summary(store, cycle_id)
    finish_cycle(store, cycle_id, metrics)
    return metrics


def report_dir(cfg: RunConfig, run_id: int) -> Path:
    root = cfg.orchestration.reports_dir
    if not root.is_absolute():
        root = cfg.store.resolved_data_dir() / root
    return root / f"run-{run_id}"


def report_run(store: Store, run_id: int, out_dir: Path) -> RunReport:
    return build_report(store, run_id, out_dir)


DEVICE_SLOT_PREFIX = "nngpt-device-"


def device_slot_name(cfg: RunConfig) -> str:
    """The Prefect concurrency limit that bounds evaluation shards on this device.

    Prefect's limits are global to the server. Locally one name per device is enough; when shards
    run on several machines (the pool and dask backends), the host name is part of it, so that each
    machine's device has its own `device_slots`.
    """
    from nngpt_core.evaluate.device import resolve_evaluation_device

    device = cfg.evaluation.device
    if device == "auto":  # the device this machine evaluates on
        device = resolve_evaluation_device(device)
    device = device.replace(":", "-")
    if cfg.orchestration.evaluation_backend == "local":
        return DEVICE_SLOT_PREFIX + device
    host = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname()).strip("-") or "host"
    return f"{DEVICE_SLOT_PREFIX}{host}-{device}"

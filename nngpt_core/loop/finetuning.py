"""The fine-tuning stage of a cycle: train the cycle's adapter on the SFT examples it selected.

The stages of a cycle, in pipeline order, each in its own module (tasks/stages.py wraps each in a
Prefect task):

    generation.generate_candidates -> preparation.prepare_candidates -> evaluation.evaluate_candidates
    (in shards) -> admission.judge_and_admit -> selection.select_sft_examples -> finetuning.finetune_cycle
    -> runs.close_cycle

Every stage takes (store, config, ids), does only what the store says is missing, and writes its
results before it returns.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from nngpt_core.config import RunConfig
from nngpt_core.loop.runs import timed_stage
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Cycle, SftExample

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

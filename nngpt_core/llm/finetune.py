"""`nngpt finetune`: one LoRA adapter from a cycle's SFT examples (or a JSONL of pairs), registered in the store.

    from nngpt_core.llm.finetune import finetune, pairs_from_cycle, pairs_from_file
    pairs, cycle = pairs_from_cycle(store, run_id=1, cycle_index=0)
    adapter_id = finetune(cfg, store, pairs, parent_id=cycle.adapter_in_id, run_id=1, cycle=cycle)

The new adapter is trained on the base with its parent's whole chain merged in (sft.chaining:
stack) or from its parent's own weights on the base with only the parent's ancestors applied
(sft.chaining: continue, the paper's), saved under <data_dir>/<sft.output_dir>/, registered with
its parent, and, for a cycle, set as the cycle's adapter_out_id, so the next cycle generates with it.
With `sft.cumulative` a cycle trains on `sft.original_pairs` plus every SFT example selected in its
run so far (`cumulative_pairs`), the paper's growing set, instead of only its own examples.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from nngpt_core.config import RunConfig
from nngpt_core.errors import NngptError
from nngpt_core.llm.adapters import chain_paths, register_adapter
from nngpt_core.llm.loading import load_model
from nngpt_core.llm.sft import train_adapter
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Cycle, SftExample


def pairs_from_file(path: Path) -> list[dict[str, str]]:
    """Prompt/completion pairs from a JSONL file (one object with 'prompt' and 'completion' per line)."""
    if not path.is_file():
        raise NngptError(f"{path}: pairs file not found")
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise NngptError(f"{path}:{number}: not valid JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("prompt"), str) or not isinstance(record.get("completion"), str):
            raise NngptError(f"{path}:{number}: needs string fields 'prompt' and 'completion'")
        pairs.append({"prompt": record["prompt"], "completion": record["completion"]})
    if not pairs:
        raise NngptError(f"{path}: no pairs")
    return pairs


def pairs_from_cycle(store: Store, run_id: int, cycle_index: int) -> tuple[list[dict[str, str]], Cycle]:
    """The SFT examples selected in cycle `cycle_index` of run `run_id`, and the cycle row."""
    with store.session() as session:
        cycle = session.execute(select(Cycle).where(Cycle.run_id == run_id, Cycle.index == cycle_index)).scalar_one_or_none()
        if cycle is None:
            raise NngptError(f"run {run_id} has no cycle {cycle_index}")
        examples = session.execute(select(SftExample).where(SftExample.cycle_id == cycle.id).order_by(SftExample.id)).scalars().all()
        pairs = [{"prompt": e.prompt, "completion": e.completion} for e in examples]
    if not pairs:
        raise NngptError(f"cycle {cycle_index} of run {run_id} selected no SFT examples; nothing to fine-tune on")
    return pairs, cycle


def adapter_directory(cfg: RunConfig, label: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    root = cfg.sft.output_dir if cfg.sft.output_dir.is_absolute() else cfg.store.resolved_data_dir() / cfg.sft.output_dir
    return root / f"{label}-{stamp}"


def cumulative_pairs(cfg: RunConfig, store: Store, run_id: int, cycle_index: int) -> list[dict[str, str]]:
    """The paper's SFT set for a cycle: the original pairs, then every example the run selected up to this cycle."""
    original = pairs_from_file(cfg.sft.original_pairs) if cfg.sft.original_pairs is not None else []
    with store.session() as session:
        examples = session.execute(
            select(SftExample.prompt, SftExample.completion).join(Cycle, SftExample.cycle_id == Cycle.id)
            .where(SftExample.run_id == run_id, Cycle.index <= cycle_index).order_by(Cycle.index, SftExample.id)
        ).all()
    return original + [{"prompt": prompt, "completion": completion} for prompt, completion in examples]


def finetune(cfg: RunConfig, store: Store, pairs: list[dict[str, str]], *, parent_id: int | None,
             run_id: int | None = None, cycle: Cycle | None = None) -> int:
    """Train, save and register an adapter on top of `parent_id`'s chain; returns the new adapter id."""
    continuing = cfg.sft.chaining == "continue" and parent_id is not None
    applied = chain_paths(store, parent_id, cfg.model.name_or_path)
    loaded = load_model(cfg.model, applied[:-1] if continuing else applied)
    label = f"run{run_id}-cycle{cycle.index}" if cycle is not None else "pairs"
    training = train_adapter(loaded, pairs, cfg.sft, adapter_directory(cfg, label), seed=cfg.seed,
                             continue_from=applied[-1] if continuing else None)
    return register_adapter(store, training, base_model=cfg.model.name_or_path, parent_id=parent_id,
                            run_id=run_id, config={**json.loads(cfg.sft.model_dump_json()), "continues_parent": continuing},
                            cycle_id=cycle.id if cycle is not None else None)

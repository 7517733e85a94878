"""The adapter registry: LoRA adapters in the store, chained through their parents.

    from nngpt_core.llm.adapters import adapter_chain, load_with_adapter, register_adapter
    loaded = load_with_adapter(cfg.model, store, adapter_id)       # base + every adapter of the chain
    new_id = register_adapter(store, training, parent_id=adapter_id, run_id=run, base_model=..., config=...)

Each cycle's adapter records the adapter it was trained on as its parent. Stacked (sft.chaining:
stack, the default) it was trained on the base with all earlier adapters merged in, so loading
adapter k merges the whole chain, oldest first, into the base: nothing earlier is dropped.
Continued (sft.chaining: continue, the paper's) it started from its parent's weights and replaces
it: its row's config says `continues_parent`, and the chain applies it in its parent's place. A missing row, a missing directory or a base model
other than the one the chain was trained on is an error, never a silent fallback. Next to the
adapter files, `nngpt_adapter.json` keeps the same metadata as the store row.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session

from nngpt_core.config import ModelConfig
from nngpt_core.errors import NngptError
from nngpt_core.llm.loading import LoadedModel, load_model, resolve_model_path
from nngpt_core.llm.sft import AdapterTraining
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Adapter, Cycle
from nngpt_core.versions import environment_versions

METADATA_FILE = "nngpt_adapter.json"


def adapter_chain(session: Session, adapter_id: int) -> list[Adapter]:
    """The adapters from the root to `adapter_id`, oldest first."""
    chain: list[Adapter] = []
    seen: set[int] = set()
    current: int | None = adapter_id
    while current is not None:
        if current in seen:
            raise NngptError(f"adapter {adapter_id}: its parent chain loops at adapter {current}")
        seen.add(current)
        row = session.get(Adapter, current)
        if row is None:
            missing = "" if current == adapter_id else f" (parent of adapter {chain[0].id})"
            raise NngptError(f"adapter {current} is not in the store{missing}")
        chain.insert(0, row)
        current = row.parent_id
    return chain


def _same_model(a: str, b: str) -> bool:
    return resolve_model_path(a) == resolve_model_path(b)


def continues_parent(row: Adapter) -> bool:
    """Whether this adapter was trained from its parent's weights (it then replaces the parent in the chain)."""
    return bool((row.config or {}).get("continues_parent")) and row.parent_id is not None


def chain_paths(store: Store, adapter_id: int | None, base_model: str) -> list[str]:
    """Adapter directories to apply to `base_model`, oldest first, for `adapter_id` (empty for None), checked."""
    if adapter_id is None:
        return []
    with store.session() as session:
        chain = adapter_chain(session, adapter_id)
        paths: list[str] = []
        for row in chain:
            if not _same_model(row.base_model, base_model):
                raise NngptError(f"adapter {row.id} was trained on base model '{row.base_model}', "
                                 f"but model.name_or_path is '{base_model}'")
            if continues_parent(row):
                paths[-1] = row.path
            else:
                paths.append(row.path)
        return paths


def load_with_adapter(model_cfg: ModelConfig, store: Store, adapter_id: int | None) -> LoadedModel:
    """The base model with adapter `adapter_id` and all its ancestors merged in (oldest first)."""
    return load_model(model_cfg, chain_paths(store, adapter_id, model_cfg.name_or_path))


def register_adapter(store: Store, training: AdapterTraining, *, base_model: str, parent_id: int | None,
                     run_id: int | None, config: dict, cycle_id: int | None = None) -> int:
    """Insert the adapter's row and write its metadata file; returns the new adapter id.

    With `cycle_id`, the row and the cycle's adapter_out_id are committed together: a run killed in
    between can leave neither an adapter without its cycle nor a cycle that trains a second one."""
    versions = environment_versions()
    losses = {"steps": training.losses, "completion_before": training.loss_before, "completion_after": training.loss_after}
    with store.session() as session:
        row = Adapter(run_id=run_id, parent_id=parent_id, base_model=base_model,
                      path=str(Path(training.path).resolve()), n_examples=training.n_examples,
                      losses=training.losses, config={**config, "loss_before": training.loss_before,
                                                      "loss_after": training.loss_after, "steps": training.steps},
                      versions=versions)
        session.add(row)
        session.flush()
        adapter_id = row.id
        if cycle_id is not None:
            session.get(Cycle, cycle_id).adapter_out_id = adapter_id
    metadata = {"id": adapter_id, "run_id": run_id, "parent_id": parent_id, "base_model": base_model,
                "n_examples": training.n_examples, "losses": losses, "config": config, "versions": versions}
    (Path(training.path) / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return adapter_id

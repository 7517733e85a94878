"""Cross-dataset transfer, as in the paper's study: generate with a run's final adapter on another dataset.

    from nngpt_core.loop.transfer import transfer_config, transfer_rows
    cfg = transfer_config(store, source_run=3, dataset="cifar100", cycles=1)    # then run it like any run
    rows = transfer_rows(store, source_run=3, target_run=7)                     # both runs' cycles, side by side

The transfer run starts from the source run's configuration (model, generation, selection, fine-tuning)
with the adapter chain the source run ended with, and evaluates on the other dataset; its cycles
report the same figures, so the two runs read side by side.
"""

from __future__ import annotations

from sqlalchemy import select

from nngpt_core.config import RunConfig
from nngpt_core.errors import NngptError
from nngpt_core.loop.metrics import CycleMetrics, run_metrics
from nngpt_core.loop.runs import stored_config
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Cycle, Run


def final_adapter(store: Store, run_id: int) -> int | None:
    """The adapter the run's last cycle generated with or produced (None: the run trained none)."""
    with store.session() as session:
        cycles = session.scalars(select(Cycle).where(Cycle.run_id == run_id).order_by(Cycle.index.desc())).all()
    for cycle in cycles:
        if cycle.adapter_out_id or cycle.adapter_in_id:
            return cycle.adapter_out_id or cycle.adapter_in_id
    return stored_config(store, run_id).model.adapter_id


def transfer_config(store: Store, source_run: int, dataset: str, cycles: int) -> RunConfig:
    """The configuration of a transfer run of `source_run` to `dataset` (NngptError for an unknown dataset)."""
    from nngpt_core.data.registry import get_spec

    get_spec(dataset)
    source = stored_config(store, source_run)
    with store.session() as session:
        if session.get(Run, source_run).status != "done":
            raise NngptError(f"run {source_run} has not finished; transfer from a finished run (nngpt status {source_run})")
    return source.model_copy(update={
        "name": f"{source.name}-to-{dataset}",
        "cycles": cycles,
        "model": source.model.model_copy(update={"adapter_id": final_adapter(store, source_run)}),
        "evaluation": source.evaluation.model_copy(update={"dataset": dataset}),
    })


def transfer_rows(store: Store, source_run: int, target_run: int) -> list[tuple[str, str, list[CycleMetrics]]]:
    """(run label, dataset, cycle metrics) of the source run, then of the transfer run."""
    rows = []
    with store.session() as session:
        for label, run_id in (("source", source_run), ("transfer", target_run)):
            run = session.get(Run, run_id)
            if run is None:
                raise NngptError(f"run {run_id} not found")
            rows.append((f"{label} run {run_id}", run.dataset, run_metrics(session, run_id)))
    return rows

"""What the Prefect UI calls a run: flow-run names and artifact keys that say which store, run and cycle.

    name_flow_run(store, "run 3 · cycle 1")      # the current flow run becomes "run 3 · cycle 1 · store a3f09c1e"
    artifact_key(store, 3, "report")             # 'nngpt-a3f09c1e-run-3-report'

Run ids count from 1 in every store, so two stores that report to one Prefect server both have a
run 1: the store's tag (nngpt_core/store/identity.py) keeps their artifacts and names apart.
"""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext

from nngpt_core.store.engine import Store
from nngpt_core.store.identity import store_tag


def artifact_key(store: Store, run_id: int, kind: str) -> str:
    """A Prefect artifact key (lowercase letters, digits and dashes) unique to this store's run."""
    return f"nngpt-{store_tag(store)}-run-{run_id}-{kind}"


def name_flow_run(store: Store, name: str) -> str:
    """Rename the current flow run to `name` plus the store's tag; returns the new name.

    Flows that find their run and cycle only once they run (a UI-triggered `cycle` with no run id,
    a new `evolve` run) cannot name the flow run up front with Prefect's flow_run_name."""
    context = FlowRunContext.get()
    full = f"{name} · store {store_tag(store)}"
    if context is not None:
        with get_client(sync_client=True) as client:
            client.update_flow_run(context.flow_run.id, name=full)
    return full


def is_subflow() -> bool:
    """Whether the current flow run was started by another flow run (the cycles of an `evolve`)."""
    context = FlowRunContext.get()
    return context is not None and context.flow_run.parent_task_run_id is not None

"""Flows as the Prefect UI starts them: a `cycle` with empty fields, a `report` with no run id, truthful names and artifacts.

The bookkeeping (newest run, next cycle, a run's status after a cycle on its own or a crash) on
SQLite and PostgreSQL; artifact keys of two stores that share one Prefect server; and, with the echo
model (tests/flow_helpers.py) on the session's Prefect harness, a one-cycle `evolve` continued by a
`cycle` started with no run id and no index, then a `report` with no run id.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nngpt_core.config import config_from_dict
from nngpt_core.errors import NngptError
from nngpt_core.loop.runs import (
    failed_on_error, latest_run_id, next_cycle_index, run_progress, set_run_status, settle_run_status,
)
from nngpt_core.store.engine import open_store
from nngpt_core.store.identity import store_tag
from nngpt_core.store.migrate import upgrade
from nngpt_core.store.models import Cycle, Run
from tests.flow_helpers import run_config
from tests.prefect_harness import prefect_harness  # noqa: F401  (the one session harness)


def _run(session, name: str, cycles: int, done: int, running: int = 0) -> int:
    run = Run(name=name, base_model="m", dataset="digits", config={"cycles": cycles})
    session.add(run)
    session.flush()
    statuses = ["done"] * done + ["running"] * running
    session.add_all(Cycle(run_id=run.id, index=i, status=status) for i, status in enumerate(statuses))
    return run.id


def test_newest_run_next_cycle_and_status_after_a_cycle_on_its_own(store):
    with pytest.raises(NngptError, match="holds no run yet") as empty:
        latest_run_id(store)
    assert "\n" not in str(empty.value)
    with store.session() as session:
        finished, partial, fresh = _run(session, "a", 2, 2), _run(session, "b", 3, 1, 1), _run(session, "c", 2, 0)
    assert latest_run_id(store) == fresh
    assert (next_cycle_index(store, finished), next_cycle_index(store, partial), next_cycle_index(store, fresh)) == (2, 1, 0)
    with pytest.raises(NngptError, match="run 99 not found"):
        next_cycle_index(store, 99)
    assert (settle_run_status(store, partial), settle_run_status(store, finished)) == ("stopped", "done")
    assert run_progress(store, partial) == "1 of 3 cycles done, status stopped"

    set_run_status(store, fresh, "running")
    with pytest.raises(RuntimeError), failed_on_error(store, fresh):
        raise RuntimeError("the worker lost its GPU")
    assert run_progress(store, fresh) == "0 of 2 cycles done, status failed"  # never "running" after a crash


def test_artifact_keys_of_two_stores_on_one_server_do_not_collide(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from nngpt_tasks.artifacts import publish_run_artifacts

    keys = {}
    for name in ("first", "second"):
        cfg = config_from_dict({"name": name, "store": {"data_dir": str(tmp_path / name)}})
        store = open_store(cfg.store.resolved_url())
        upgrade(store)
        with store.session() as session:
            assert _run(session, name, 1, 0) == 1  # both stores have a run 1
        keys[name] = publish_run_artifacts(cfg, 1, "a test")
        assert keys[name] == f"nngpt-{store_tag(store)}-run-1-report"
        store.dispose()
    assert keys["first"] != keys["second"]
    with get_client(sync_client=True) as client:
        for name, key in keys.items():
            published = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            assert len(published) == 1 and f"# Run 1: {name}" in published[0].data, key


@pytest.mark.timeout(900)
def test_cycle_with_empty_fields_continues_the_newest_run(prefect_harness, echo_model, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterName

    from nngpt_flows.cycle import cycle
    from nngpt_flows.evolve import evolve
    from nngpt_flows.report import report

    url = f"sqlite:///{tmp_path / 'nngpt.db'}"  # fresh: the flow migrates it
    cfg = config_from_dict(run_config(echo_model, tmp_path / "data", url, cycles=1))
    state = evolve(config=cfg, return_state=True)
    assert state.is_completed(), state
    run_id = state.result()

    continued = cycle(store=cfg.store, return_state=True)  # the UI's form, left empty
    assert continued.is_completed(), continued
    assert continued.result()["cycle"] == 1
    store = open_store(url)
    tag = store_tag(store)
    with store.session() as session:
        run = session.get(Run, run_id)
        cycles = session.scalars(select(Cycle).where(Cycle.run_id == run_id).order_by(Cycle.index)).all()
        assert [(c.index, c.status) for c in cycles] == [(0, "done"), (1, "done")]
        assert cycles[1].adapter_in_id == cycles[0].adapter_out_id is not None  # it went on from cycle 0's adapter
        assert run.status == "done" and run.config["cycles"] == 2  # the run grew by the cycle, and says so

    summary = report(config=cfg, return_state=True)  # no run id: the newest run
    assert summary.is_completed() and summary.result().endswith(f"run-{run_id}/summary.md")

    with get_client(sync_client=True) as client:
        def named(name):
            return client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))

        for name in (f"run {run_id} · loop-test · store {tag}", f"run {run_id} · cycle 0 · store {tag}",
                     f"run {run_id} · cycle 1 · store {tag}", f"run {run_id} · report · store {tag}"):
            assert len(named(name)) == 1, name
        reports = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"nngpt-{tag}-run-{run_id}-report"])))
        reports = sorted(reports, key=lambda a: a.created)  # the server's order is not creation order
        descriptions = [artifact.description for artifact in reports]
    assert descriptions == [
        f"run {run_id}: after cycle 0: 1 of 1 cycles done, status running",
        f"run {run_id}: finished: 1 of 1 cycles done, status done",
        f"run {run_id}: after cycle 1: 2 of 2 cycles done, status done",
        f"run {run_id}: report: 2 of 2 cycles done, status done",
    ]
    assert "status done" in reports[-1].data
    store.dispose()

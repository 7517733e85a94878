"""The pool backend's Prefect edge (nngpt_tasks.pool.PrefectShardRuns) against a real Prefect API, with no worker.

A deployment of the `evaluate` flow is registered without a work pool, so its flow runs stay
Scheduled: the test plays the worker's part by setting states and emitting a heartbeat itself.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from nngpt_core.config import RunConfig, load_config
from nngpt_core.errors import NngptError
from nngpt_core.loop.shards import OrphanRun, shard_tags
from nngpt_tasks.concurrency import device_slot_name
from tests.prefect_harness import prefect_harness  # noqa: F401  (session fixture)


def test_device_slots_are_per_host_off_the_local_backend():
    assert device_slot_name(load_config(None, {"evaluation.device": "cpu"})) == "nngpt-device-cpu"
    from nngpt_core.evaluate.device import resolve_evaluation_device

    # auto is named after the device this machine resolves it to
    assert device_slot_name(load_config(None)) == f"nngpt-device-{resolve_evaluation_device('auto')}"
    name = device_slot_name(load_config(None, {"orchestration.evaluation_backend": "pool", "evaluation.device": "cuda:1"}))
    assert name.startswith("nngpt-device-") and name.endswith("-cuda-1") and name != "nngpt-device-cuda-1"


def test_shard_runs_start_read_states_heartbeats_and_mark_crashed(prefect_harness):
    from prefect.client.orchestration import get_client
    from prefect.events import emit_event
    from prefect.states import Running

    from nngpt_flows.evaluate import evaluate
    from nngpt_tasks.pool import PrefectShardRuns, check_pool

    cfg = load_config(None, {"orchestration.evaluation_backend": "pool",
                             "orchestration.evaluate_deployment": "evaluate/edge-test"})
    with pytest.raises(NngptError, match="'evaluate/edge-test' .* is not on the Prefect server .* nngpt deploy"):
        check_pool(cfg)
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow(evaluate)
        client.create_deployment(flow_id=flow_id, name="edge-test", entrypoint="nngpt_flows.evaluate:evaluate")
    check_pool(cfg)

    created = datetime(2026, 1, 2, 3, 4, 5, 678901)
    runs = PrefectShardRuns(cfg, shard_tags(1, created, 0))
    run_id = runs.start("r1c0-shard0-attempt1", [3, 5])
    other_cycle = PrefectShardRuns(cfg, shard_tags(1, created, 1))
    other_store = PrefectShardRuns(cfg, shard_tags(1, created.replace(microsecond=1), 0))  # run 1 of another store
    other_cycle.start("r1c1-shard0-attempt1", [7])
    other_store.start("r1c0-shard0-attempt1", [3])
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(run_id))
    assert flow_run.name == "r1c0-shard0-attempt1"
    assert set(flow_run.tags) >= {"nngpt-shard", "nngpt-run-1-20260102T030405678901", "nngpt-cycle-0"}
    assert runs.tagged() == [OrphanRun(run_id, "r1c0-shard0-attempt1", [3, 5], "SCHEDULED")]  # found again by its tags
    assert set(flow_run.parameters) == {"config", "candidate_ids"} and flow_run.parameters["candidate_ids"] == [3, 5]
    assert RunConfig.model_validate(flow_run.parameters["config"]) == cfg  # plain JSON, the same config
    assert runs.states([run_id])[run_id].type == "SCHEDULED"
    assert runs.heartbeats(run_id) is None

    with get_client(sync_client=True) as client:  # a worker takes it
        client.set_flow_run_state(run_id, Running(), force=True)
    assert runs.states([run_id])[run_id].type == "RUNNING"
    for seconds_ago in (780, 600):  # two heartbeats 180 s apart, the last one 600 s ago
        emit_event(event="prefect.flow-run.heartbeat", resource={"prefect.resource.id": f"prefect.flow-run.{run_id}"},
                   occurred=datetime.now(timezone.utc) - timedelta(seconds=seconds_ago))
    deadline = time.monotonic() + 30
    while (beats := runs.heartbeats(run_id)) is None and time.monotonic() < deadline:
        time.sleep(0.5)  # events reach the store after the server's persister flushes
    assert beats is not None and 590 < beats[0] < 700 and 179 < beats[1] < 181

    runs.mark_crashed(run_id, "nngpt: sent no heartbeat for 600 s")
    state = runs.states([run_id])[run_id]
    assert (state.type, state.name) == ("CRASHED", "Crashed")

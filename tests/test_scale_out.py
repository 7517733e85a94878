"""Scaling out (issue 6): an `evolve` run triggered through the API, its evaluation shards on two pool workers.

Real components on loopback: the session's throwaway PostgreSQL holds two databases, the Prefect
server's own and the nngpt store; `prefect server start` runs on the first; `nngpt deploy` creates
the `gpu` process pool and registers the deployments; two `nngpt worker --limit 2` processes serve
the pool. The test triggers an `evolve` flow run of the deployment with a full RunConfig as its
`config` parameter, as the UI does (Prefect replaces a deployment's default parameters, it does not
merge them), with orchestration.evaluation_backend = pool: the run itself occupies a slot of one
worker, and its cycle sends each evaluation shard (one candidate each) to the `evaluate` deployment.
The model is the echo model of tests/flow_helpers.py, so generation is quick and its candidates
reach evaluation.

Which worker ran which flow run: a worker that wins a flow run (its Pending proposal is accepted)
labels the run with its name (`prefect.worker.name`, read back from the server) before it starts
the process; each worker prints its name when it starts ("Worker 'ProcessWorker …' started!") and
names every flow run it submits in its own log, which the test checks too. While the run goes on,
the test also reads each worker's process tree: a flow-run process carries PREFECT__FLOW_RUN_ID in
its environment.

The second test kills the worker that does not run the `evolve` flow run, with every process it
started (the machine dies: nobody reports the run), while one of its shard runs evaluates and holds
the device slot. Prefect keeps that run Running; the waiting cycle notices that its heartbeats have
stopped (PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30 on the workers, Prefect's minimum; 3 missed periods),
marks it Crashed and runs the shard again on the surviving worker, once the dead holder's slot
lease has expired. To be sure the killed run has sent two heartbeats (run_shards leaves a run with
fewer to the deadline, never killing a live run on a guess), the test itself holds the machine's
only device slot until the victim's shard runs have been Running for a heartbeat period.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nngpt_tasks.concurrency import device_slot_name
from nngpt_core.store.models import Candidate, Evaluation, Run
from tests.prefect_server import cmdline, descendants
from tests.scale_out_helpers import (
    HEARTBEAT_S, check_attribution, check_store, cycle_warnings, evolve_config, flow_run_logs, kill_machine,
    scale_out, shard_runs, trigger_evolve, wait_final, wait_until, worker_of,
)


pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the process helpers read /proc")


@pytest.mark.timeout(600)
def test_evolve_from_the_api_evaluates_on_two_pool_workers(tmp_path: Path, postgres, echo_model: Path):
    with scale_out(tmp_path, postgres) as setup:
        config = evolve_config(echo_model, setup, cycles=2)
        seen: dict[str, set[str]] = {w.label: set() for w in setup.workers}

        def watch():
            for worker in setup.workers:
                seen[worker.label] |= set(worker.flow_run_processes())

        mark = time.monotonic()
        flow_run = trigger_evolve(setup, config)
        finished = wait_final(setup, flow_run.id, timeout_s=420, watch=watch)
        setup.timings["evolve"] = time.monotonic() - mark
        assert finished.state.type.value == "COMPLETED", (
            f"{finished.state.name}: {finished.state.message}\n{flow_run_logs(setup, flow_run.id)}")

        runs = shard_runs(setup)
        assert len(runs) >= 3, f"only {len(runs)} evaluate flow runs"
        assert all(r.state.type.value == "COMPLETED" for r in runs), [(r.name, r.state.name) for r in runs]
        assert all(r.parent_task_run_id is not None for r in runs)  # subflows of the cycle
        by_worker = check_attribution(setup, runs, seen)
        assert all(by_worker.values()), {k: [r.name for r in v] for k, v in by_worker.items()}
        for label, ran in by_worker.items():  # each lasted seconds: the test saw its process under that worker
            assert all(str(r.id) in seen[label] for r in ran), (label, [r.name for r in ran], seen)
        evolve_worker = worker_of(finished, setup.workers)
        assert evolve_worker is not None and str(flow_run.id) in seen[evolve_worker.label]

        with setup.store.session() as session:
            run_id = session.scalar(select(func.max(Run.id)))
        counts = check_store(setup, run_id, config)
        # every shard run evaluated what it was sent: shard candidate ids partition the evaluated ones
        sent = sorted(i for r in runs for i in r.parameters["candidate_ids"])
        assert len(sent) == len(set(sent)) == len(runs)
        with setup.store.session() as session:
            statuses = dict(session.execute(select(Candidate.id, Candidate.status).where(Candidate.id.in_(sent))).all())
        assert all(statuses[i] != "pending" for i in sent)
        print("shard runs by worker:", {k: sorted(r.name for r in v) for k, v in by_worker.items()},
              "evolve on:", evolve_worker.label, "store:", counts)


@pytest.mark.timeout(600)
def test_a_worker_killed_mid_evaluation_its_shards_rerun_on_the_survivor(tmp_path: Path, postgres, echo_model: Path):
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from nngpt_core.config import RunConfig
    from nngpt_tasks.pool import HEARTBEAT_MISSES, PrefectShardRuns

    with scale_out(tmp_path, postgres) as setup:
        config = evolve_config(echo_model, setup)
        cfg = RunConfig.model_validate(config)
        slot = device_slot_name(cfg)  # the workers run on this host: their shards share its slots
        assert cfg.orchestration.device_slots == 1
        with SyncPrefectClient(setup.server.api_url) as client:
            client.upsert_global_concurrency_limit_by_name(slot, 1)
            held = client.increment_concurrency_slots_with_lease(
                names=[slot], slots=1, mode="concurrency", lease_duration=300).json()["lease_id"]

        mark = time.monotonic()
        flow_run = trigger_evolve(setup, config)
        evolve_id = str(flow_run.id)
        survivor = wait_until(
            lambda: next((w for w in setup.workers if evolve_id in w.flow_run_processes()), None),
            120, "a worker to start the evolve flow run", alive=setup)
        victim = next(w for w in setup.workers if w is not survivor)

        with temporary_settings({PREFECT_API_URL: setup.server.api_url}):
            edge = PrefectShardRuns(cfg)  # the cycle's own reading of heartbeats

            def victim_run_with_two_heartbeats():
                for run in shard_runs(setup):
                    if run.state.type.value == "RUNNING" and worker_of(run, setup.workers) is victim:
                        beats = edge.heartbeats(str(run.id))
                        if beats is not None:
                            return run, beats
                return None

            _, (_, period) = wait_until(
                victim_run_with_two_heartbeats, 240, "a shard run Running on the victim with two heartbeats",
                every=2.0, alive=setup)
        setup.timings["until two heartbeats"] = time.monotonic() - mark
        assert HEARTBEAT_S - 5 <= period <= HEARTBEAT_S + 10, f"heartbeat period {period:.0f} s: not set on the workers?"

        with SyncPrefectClient(setup.server.api_url) as client:  # let the shards evaluate
            client.release_concurrency_slots_with_lease(held)

        def victim_evaluating():
            """The flow run whose process on the victim has sandbox processes: it holds the device slot."""
            for run_id, pids in victim.flow_run_processes().items():
                for pid in pids:
                    if any("nngpt_core.sandbox.zygote" in " ".join(cmdline(child)) for child in descendants(pid)):
                        return run_id
            return None

        killed_id = wait_until(victim_evaluating, 240, "a shard run evaluating on the victim", every=0.2, alive=setup)
        running_on_victim = set(victim.flow_run_processes())
        kill_machine(victim)
        killed_at = time.monotonic()
        with SyncPrefectClient(setup.server.api_url) as client:  # the dead run holds the slot until its lease expires
            assert client.read_global_concurrency_limit_by_name(slot).active_slots == 1
        setup.timings["until kill"] = killed_at - mark
        assert evolve_id not in running_on_victim

        finished = wait_final(setup, flow_run.id, timeout_s=420)
        setup.timings["evolve"] = time.monotonic() - mark
        setup.timings["kill to end"] = time.monotonic() - killed_at
        assert finished.state.type.value == "COMPLETED", (
            f"{finished.state.name}: {finished.state.message}\n{flow_run_logs(setup, flow_run.id)}")

        runs = shard_runs(setup)
        by_id = {str(r.id): r for r in runs}
        seen = {survivor.label: set(), victim.label: running_on_victim}
        by_worker = check_attribution(setup, runs, seen)
        assert by_worker[victim.label] and by_worker[survivor.label]
        # the runs that were Running on the dead worker: marked Crashed by the waiting cycle, after 3 missed heartbeats
        assert killed_id in by_id
        for run_id in running_on_victim:
            run = by_id[run_id]
            assert run.state.type.value == "CRASHED", (run.name, run.state.name, run.state.message)
            assert run.state.message.startswith("nngpt: sent no heartbeat"), run.state.message
            assert f"{HEARTBEAT_MISSES} times its period" in run.state.message
        # each shard's last attempt completed, and the reruns ran on the survivor
        last: dict[str, object] = {}
        for run in runs:
            shard, attempt = re.fullmatch(r"(r\d+c\d+-shard\d+)-attempt(\d+)", run.name).groups()
            if shard not in last or int(attempt) > int(last[shard].name.rsplit("attempt", 1)[1]):
                last[shard] = run
        assert all(r.state.type.value == "COMPLETED" for r in last.values()), [(r.name, r.state.name) for r in last.values()]
        reruns = [r for r in runs if not r.name.endswith("-attempt1")]
        assert len(reruns) == len(running_on_victim)
        assert all(worker_of(r, setup.workers) is survivor for r in reruns)
        warnings = cycle_warnings(setup, flow_run.id)
        assert sum("presumed dead" in line and "starting it again" in line for line in warnings) == len(reruns), warnings
        victim_completed = [r for r in by_worker[victim.label] if r.state.type.value == "COMPLETED"]
        assert all(str(r.id) not in running_on_victim for r in victim_completed)

        with setup.store.session() as session:
            run_id = session.scalar(select(func.max(Run.id)))
        counts = check_store(setup, run_id, config)
        # the killed shard's candidate was evaluated once, after the kill, by its rerun
        killed_ids = by_id[killed_id].parameters["candidate_ids"]
        with setup.store.session() as session:
            rows = session.execute(select(Candidate.status, Evaluation.id).join(Evaluation, Candidate.evaluation_id == Evaluation.id)
                                   .where(Candidate.id.in_(killed_ids))).all()
        assert len(rows) == len(killed_ids) and all(status != "pending" for status, _ in rows)
        # the dead holder's slot lease expired: nothing holds the device slot now
        with SyncPrefectClient(setup.server.api_url) as client:
            assert client.read_global_concurrency_limit_by_name(slot).active_slots == 0
        print("shard runs by worker:", {k: sorted(f"{r.name}:{r.state.name}" for r in v) for k, v in by_worker.items()},
              "killed:", by_id[killed_id].name, "store:", counts)

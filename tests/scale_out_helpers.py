"""Helpers of tests/test_scale_out.py: the scale-out setup (PostgreSQL, Prefect server, deployments,
two pool workers), triggering evolve through the API, reading flow runs, killing a worker machine,
and the store checks (no duplicates, metrics equal a recount)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text

from nngpt_core.config import config_from_dict
from nngpt_core.store.engine import Store, open_store
from nngpt_core.store.migrate import upgrade
from nngpt_core.store.models import Candidate, Cycle, Evaluation, Run
from tests.flow_helpers import recount, run_config, same
from tests.prefect_server import (
    PrefectServer, WorkerProcess, descendants, nngpt_deploy, prefect_server, start_worker,
)

ROOT = Path(__file__).resolve().parent.parent
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
HEARTBEAT_S = 30  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY on the workers: Prefect 3.9.1 accepts nothing lower
_databases = iter(range(10**6))



# ------------------------------------------------------------------------------------------------ set-up


@dataclass
class Worker:
    label: str
    process: WorkerProcess
    name: str = ""  # the name the worker gave itself, as it labels flow runs

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")

    def flow_run_processes(self) -> dict[str, set[int]]:
        """{flow run id: pids} of the flow-run processes this worker runs now (found by PREFECT__FLOW_RUN_ID)."""
        found: dict[str, set[int]] = {}
        for pid in descendants(self.process.process.pid):
            with contextlib.suppress(OSError):
                for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                        found.setdefault(item.split(b"=", 1)[1].decode(), set()).add(pid)
        return found


@dataclass
class ScaleOut:
    server: PrefectServer
    store: Store
    store_url: str
    data_dir: Path
    workers: list[Worker]
    deployments: dict[str, object]
    timings: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def scale_out(tmp_path: Path, postgres) -> Iterator[ScaleOut]:
    """PostgreSQL (two databases), a Prefect server on one, the deployments, two workers on the pool."""
    from prefect.client.orchestration import SyncPrefectClient

    started = time.monotonic()
    n = next(_databases)
    prefect_db = postgres.create_database(f"nngpt_scale_prefect_{os.getpid()}_{n}")
    store_url = postgres.create_database(f"nngpt_scale_store_{os.getpid()}_{n}")
    store = open_store(store_url)
    upgrade(store)
    worker_dir = tmp_path / "worker-cwd"  # not the checkout: the pull step enters NNGPT_WORKDIR
    worker_dir.mkdir()
    timings = {}
    try:
        with prefect_server(tmp_path, database_url=prefect_db) as server:
            timings["server"] = server.started_s
            env = {**server.env, "NNGPT_WORKDIR": str(ROOT)}
            timings["deploy"] = nngpt_deploy(env, worker_dir, timeout_s=240)
            with SyncPrefectClient(server.api_url) as client:
                deployments = {name: client.read_deployment_by_name(f"{name}/{name}") for name in ("evolve", "evaluate")}
            worker_env = {
                **env,
                "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),
                "HF_HUB_OFFLINE": "1",
                "TMPDIR": str(tmp_path),
            }
            mark = time.monotonic()
            workers = [
                Worker(label, start_worker(server, tmp_path / f"worker-{label}.log", pool="gpu", via="nngpt",
                                           limit=2, env=worker_env, cwd=worker_dir))
                for label in ("a", "b")
            ]
            for worker in workers:
                worker.name = _wait_for_name(worker)
            timings["workers"] = time.monotonic() - mark
            setup = ScaleOut(server, store, store_url, tmp_path / "data", workers, deployments, timings)
            try:
                yield setup
            except BaseException:
                for worker in workers:
                    print(f"--- worker {worker.label} ({worker.name}) log tail\n{worker.process.log_tail(80)}")
                raise
    finally:
        store.dispose()
        timings["total"] = time.monotonic() - started
        print("timings (s):", {key: round(value, 1) for key, value in timings.items()})


def _wait_for_name(worker: Worker, timeout_s: float = 120.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(r"Worker '([^']+)' started!", worker.log())
        if found:
            return found.group(1)
        assert worker.process.process.poll() is None, f"worker {worker.label} exited:\n{worker.process.log_tail()}"
        time.sleep(0.5)
    raise AssertionError(f"worker {worker.label} did not start:\n{worker.process.log_tail()}")


def evolve_config(echo_model: Path, setup: ScaleOut, **overrides) -> dict:
    """The whole RunConfig (as JSON) an `evolve` run of the deployment gets: pool backend, CPU, digits."""
    config = run_config(
        echo_model, setup.data_dir, setup.store_url,
        **{
            "cycles": 1,
            "generation.candidates_per_cycle": 8,
            "generation.batch_size": 8,
            "evaluation.device": "cpu",
            "evaluation.data_dir": str(setup.data_dir / "datasets"),
            "model.device": "cpu",
            "orchestration.evaluation_backend": "pool",
            "orchestration.shard_size": 1,
            "orchestration.shard_timeout_s": 360,
            "orchestration.shard_attempts": 3,
            **overrides,
        },
    )
    return config_from_dict(config).model_dump(mode="json")  # validated, complete: nothing left to defaults


def trigger_evolve(setup: ScaleOut, config: dict):
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(setup.server.api_url) as client:
        flow_run = client.create_flow_run_from_deployment(setup.deployments["evolve"].id, parameters={"config": config})
    assert flow_run.parameters["config"] == config
    return flow_run


def read_flow_run(setup: ScaleOut, flow_run_id):
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(setup.server.api_url) as client:
        return client.read_flow_run(flow_run_id)


def shard_runs(setup: ScaleOut) -> list:
    """Every flow run of the evaluate deployment (the shards), oldest first."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    with SyncPrefectClient(setup.server.api_url) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[setup.deployments["evaluate"].id])),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=200,
        )


def flow_run_logs(setup: ScaleOut, flow_run_id) -> str:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with SyncPrefectClient(setup.server.api_url) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return "\n".join(f"{log.level} {log.message}" for log in logs)[-5000:]


def cycle_warnings(setup: ScaleOut, evolve_id) -> list[str]:
    """The warnings logged by the cycle subflow runs of an evolve flow run (run_shards' reruns among them)."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import (
        FlowRunFilter, FlowRunFilterParentFlowRunId, LogFilter, LogFilterFlowRunId, LogFilterLevel,
    )

    with SyncPrefectClient(setup.server.api_url) as client:
        cycles = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[evolve_id])))
        logs = client.read_logs(log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[evolve_id, *(run.id for run in cycles)]), level=LogFilterLevel(ge_=30)))
    return [log.message for log in logs]


def wait_final(setup: ScaleOut, flow_run_id, timeout_s: float, watch=None):
    """Poll the flow run until it is final; `watch()` runs on every poll (sampling process trees)."""
    deadline = time.monotonic() + timeout_s
    while True:
        flow_run = read_flow_run(setup, flow_run_id)
        if watch is not None:
            watch()
        if flow_run.state is not None and flow_run.state.type.value in FINAL:
            return flow_run
        assert time.monotonic() < deadline, (
            f"evolve still {flow_run.state and flow_run.state.name} after {timeout_s:.0f} s:\n"
            f"{flow_run_logs(setup, flow_run_id)}"
        )
        time.sleep(1.0)


def wait_until(predicate, timeout_s: float, what: str, every: float = 1.0, alive: ScaleOut | None = None):
    """Poll `predicate()` until it returns something truthy; fail after timeout_s (or when a worker exits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for worker in (alive.workers if alive else []):
            assert worker.process.process.poll() is None, f"worker {worker.label} exited:\n{worker.process.log_tail()}"
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def kill_machine(worker: Worker) -> set[int]:
    """SIGKILL the worker and everything it started, as if its machine died: nobody reports its runs.

    The flow-run processes (and the sandbox processes under them) run in sessions of their own, so
    killing the worker's process group alone would leave them running: the tree is frozen with
    SIGSTOP first (so that nothing forks or is re-parented), then killed."""
    root = worker.process.process.pid
    frozen: set[int] = set()
    while True:
        tree = ({root} | descendants(root)) - frozen
        if not tree:
            break
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        frozen |= tree
    with contextlib.suppress(ProcessLookupError):
        os.killpg(root, signal.SIGKILL)
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.process.process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in frozen):
        assert time.monotonic() < deadline, "the killed worker's processes did not go away"
        time.sleep(0.2)
    return frozen


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def worker_of(run, workers: list[Worker]) -> Worker | None:
    name = (run.labels or {}).get("prefect.worker.name")
    return next((w for w in workers if w.name == name), None)


# ---------------------------------------------------------------------------------------------- checks


def check_store(setup: ScaleOut, run_id: int, config: dict) -> dict:
    """Every candidate stored once with a final status, one evaluation per architecture, metrics = recount."""
    cycles_wanted, per_cycle = config["cycles"], config["generation"]["candidates_per_cycle"]
    with setup.store.session() as session:
        run = session.get(Run, run_id)
        assert run.status == "done"
        cycles = session.scalars(select(Cycle).where(Cycle.run_id == run_id).order_by(Cycle.index)).all()
        assert [(c.index, c.status) for c in cycles] == [(i, "done") for i in range(cycles_wanted)]
        candidates = session.scalars(select(Candidate).where(Candidate.run_id == run_id)).all()
        keys = [(c.cycle_id, c.index) for c in candidates]
        assert not [k for k, count in Counter(keys).items() if count > 1], "a candidate was stored twice"
        assert sorted(keys) == [(c.id, i) for c in cycles for i in range(per_cycle)]
        assert all(c.status != "pending" for c in candidates), [(c.id, c.status) for c in candidates]
        evaluated = [c for c in candidates if c.evaluation_id is not None]
        # one evaluation per (architecture, dataset, recipe); each evaluated candidate points at its own
        groups = session.execute(text(
            "SELECT architecture_id, dataset, recipe, count(*) AS n FROM evaluations GROUP BY 1, 2, 3 HAVING count(*) > 1"
        )).all()
        assert not groups, f"duplicate evaluations: {groups}"
        evaluations = {e.id: e for e in session.scalars(select(Evaluation))}
        assert all(evaluations[c.evaluation_id].architecture_id == c.architecture_id for c in evaluated)
        assert sorted(e.architecture_id for e in evaluations.values()) == sorted({c.architecture_id for c in evaluated})
        view = {row.cycle: row._asdict() for row in session.execute(
            text("SELECT * FROM cycle_metrics WHERE run_id = :run"), {"run": run_id})}
        for cycle in cycles:
            counted = recount(session, run, cycle)
            assert same(counted, cycle.metrics), (counted, cycle.metrics)
            assert same(counted, view[cycle.index]), (counted, view[cycle.index])
        return {
            "candidates": len(candidates),
            "evaluations": len(evaluations),
            "statuses": dict(Counter(c.status for c in candidates)),
            "evaluated_candidate_ids": sorted(c.id for c in evaluated),
        }


def check_attribution(setup: ScaleOut, runs: list, seen: dict[str, set[str]]) -> dict[str, list]:
    """Each shard run that started ran on exactly one worker: its label, its worker's log and (when the
    test saw its process) the process tree agree. Returns {worker label: [runs]}."""
    by_worker: dict[str, list] = {w.label: [] for w in setup.workers}
    for run in runs:
        worker = worker_of(run, setup.workers)
        assert worker is not None, f"shard run {run.name} has no worker label: {run.labels}"
        by_worker[worker.label].append(run)
        assert f"submitting flow run '{run.id}'" in worker.log(), f"{run.name} is not in worker {worker.label}'s log"
        others = [w for w in setup.workers if w is not worker]
        for other in others:
            assert str(run.id) not in seen[other.label], f"{run.name} was seen in worker {other.label}'s process tree"
    return by_worker


# ----------------------------------------------------------------------------------------------- tests

"""The deployments on a real Prefect server: `nngpt deploy` registers them, a process worker runs one.

A `prefect server start` on 127.0.0.1 (SQLite in a temporary PREFECT_HOME); `nngpt deploy` creates
the `gpu` process pool and registers evolve, cycle, evaluate and report from deployments/prefect.yaml; one
`evaluate` flow run is created through the API and picked up by `nngpt worker`, which runs it with
this virtual environment's Python in NNGPT_WORKDIR (the pull step); it migrates the fresh store, and the
evaluation lands in it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from nngpt_core.store.engine import open_store
from nngpt_core.store.models import Architecture, Evaluation
from tests.prefect_server import cmdline, descendants, nngpt_deploy, prefect_server, start_worker

ROOT = Path(__file__).resolve().parent.parent
SEED = "nngpt_core/corpus/seeds/mlp.py"  # relative: it only resolves if the flow run works in NNGPT_WORKDIR
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the process helpers read /proc")


def test_pull_step_enters_nngpt_workdir_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import yaml
    from prefect.utilities.importtools import import_object

    from nngpt_flows.steps import enter_workdir

    spec = yaml.safe_load((ROOT / "deployments/prefect.yaml").read_text())
    assert spec["pull"] == [{"nngpt_flows.steps.enter_workdir": {}}]
    assert import_object("nngpt_flows.steps.enter_workdir") is enter_workdir  # how Prefect finds the step
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NNGPT_WORKDIR", str(ROOT))
    assert enter_workdir() == {"directory": str(ROOT)} and Path.cwd() == ROOT
    monkeypatch.delenv("NNGPT_WORKDIR")
    monkeypatch.chdir(tmp_path)
    assert Path(enter_workdir()["directory"]).resolve() == ROOT  # default: the package's source tree
    monkeypatch.setenv("NNGPT_WORKDIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="NNGPT_WORKDIR"):
        enter_workdir()


def _flow_run_logs(client, flow_run_id) -> str:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return "\n".join(f"{log.level} {log.message}" for log in logs)[-4000:]


@pytest.mark.timeout(300)
def test_deploy_then_a_process_worker_runs_an_evaluate_flow_run(tmp_path: Path):
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    store_url = f"sqlite:///{tmp_path / 'results.db'}"
    store = open_store(store_url)  # a fresh store, never migrated: the flow run brings it to the schema itself
    worker_dir = tmp_path / "worker-cwd"  # not the checkout: only the pull step gets the run there
    worker_dir.mkdir()
    timings: dict[str, float] = {}
    started = time.monotonic()

    with prefect_server(tmp_path) as server:
        timings["server"] = server.started_s
        env = {**server.env, "NNGPT_WORKDIR": str(ROOT)}

        timings["deploy"] = nngpt_deploy(env, worker_dir, timeout_s=180)

        with SyncPrefectClient(server.api_url) as client:
            pool = client.read_work_pool("gpu")
            assert pool.type == "process"
            deployments = {name: client.read_deployment_by_name(f"{name}/{name}") for name in ("evolve", "cycle", "evaluate", "report")}
            for deployment in deployments.values():
                assert deployment.work_pool_name == "gpu"
                # NNGPT_WORKDIR is read when the flow run starts, on the worker, not baked in at deploy time
                assert deployment.pull_steps == [{"nngpt_flows.steps.enter_workdir": {}}]
            evolve = deployments["evolve"]
            assert len(evolve.schedules) == 1
            schedule = evolve.schedules[0]
            assert schedule.schedule.cron == "0 2 * * *" and schedule.active is False  # defined, paused
            assert not deployments["cycle"].schedules
            # no default forces a device: the flows' own defaults (evaluation.device auto) apply
            assert all(not deployment.parameters for deployment in deployments.values())

            # Prefect replaces a top-level parameter wholesale (no deep merge with the flow's defaults)
            config = {
                "evaluation": {"dataset": "digits", "device": "cpu", "workers": 1, "timeout_s": 120},
                "store": {"url": store_url, "data_dir": str(tmp_path / "nngpt-data")},
            }
            flow_run = client.create_flow_run_from_deployment(
                deployments["evaluate"].id,
                parameters={"config": config, "files": [SEED], "store_results": True},
            )
            assert flow_run.parameters["config"] == config

            mark = time.monotonic()
            worker = start_worker(server, tmp_path / "worker.log", pool="gpu", via="nngpt", env=env, cwd=worker_dir)
            engine_pythons: set[str] = set()
            deadline = time.monotonic() + 200
            while True:
                state = client.read_flow_run(flow_run.id).state
                for pid in descendants(worker.process.pid):  # the flow-run process, while it lives
                    command = cmdline(pid)
                    if "prefect.engine" in command:
                        engine_pythons.add(command[0])
                if state is not None and state.type.value in FINAL:
                    break
                assert worker.process.poll() is None, f"worker exited:\n{worker.log_tail()}"
                assert time.monotonic() < deadline, f"flow run still {state and state.name}:\n{worker.log_tail()}"
                time.sleep(0.25)
            timings["flow run"] = time.monotonic() - mark
            assert state.type.value == "COMPLETED", (
                f"{state.name}: {state.message}\n--- flow run logs\n{_flow_run_logs(client, flow_run.id)}"
                f"\n--- worker log\n{worker.log_tail()}"
            )
            finished = client.read_flow_run(flow_run.id)
            assert finished.deployment_id == deployments["evaluate"].id and finished.work_pool_name == "gpu"
            # The worker (and so the flow-run process it starts with sys.executable) is this venv's Python.
            venv_bin = Path(sys.executable).parent  # python, python3.11: links in the venv, not resolved
            assert worker.interpreters() and {Path(p).parent for p in worker.interpreters()} == {venv_bin}, worker.interpreters()
            assert {Path(p).parent for p in engine_pythons} <= {venv_bin}, engine_pythons
            evolve_runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[evolve.id]))
            )
            assert not evolve_runs, "the paused evolve schedule created flow runs"

    timings["total"] = time.monotonic() - started
    print("timings (s):", {key: round(value, 1) for key, value in timings.items()}, "flow-run pythons:", engine_pythons)

    with store.session() as session:
        rows = session.execute(select(Architecture, Evaluation).join(Evaluation)).all()
    store.dispose()
    assert len(rows) == 1
    architecture, evaluation = rows[0]
    assert architecture.name == "mlp" and architecture.origin == "seed"
    assert evaluation.status == "ok", evaluation.error
    assert evaluation.dataset == "digits" and evaluation.device == "cpu"
    assert 0.0 < evaluation.accuracy <= 1.0


@pytest.mark.timeout(180)
def test_server_on_postgresql_keeps_its_state_there(tmp_path: Path, postgres_url: str):
    """The Docker set-up: the Prefect server's own database on PostgreSQL (through asyncpg)."""
    import psycopg2
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.actions import WorkPoolCreate
    from sqlalchemy.engine import make_url

    with prefect_server(tmp_path, database_url=postgres_url, services=False) as server:
        with SyncPrefectClient(server.api_url) as client:
            client.create_work_pool(WorkPoolCreate(name="gpu", type="process"))
            assert client.read_work_pool("gpu").type == "process"
        server_pid = server.process.pid
    assert server.process.returncode is not None and not Path(f"/proc/{server_pid}").exists()

    url = make_url(postgres_url)
    conn = psycopg2.connect(host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name, type FROM work_pool WHERE name = 'gpu'")
            assert cur.fetchall() == [("gpu", "process")]
    finally:
        conn.close()

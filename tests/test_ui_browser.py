"""The Prefect UI as a user meets it, in a real browser: a Custom run of `evolve` on a fresh store.

A `prefect server start` with its web UI on 127.0.0.1, `nngpt deploy`, and `nngpt worker` whose store
is a fresh SQLite file (NNGPT_DATABASE_URL, never migrated) on a CPU-only machine. Chromium (Debian's
package, driven by Playwright from PyPI) opens the evolve deployment's Custom run form and checks that
every RunConfig field is a usable control showing its default (choices as selects, lists with their
items, fields that may be empty with a named switch). Then, as an operator would, the test points
the deployment's default config at the echo model (tests/flow_helpers.py: a tiny real LLM that makes
the run fast and deterministic), and the user changes cycles, candidates per cycle, dataset and device
in the form and submits. The flow run must migrate the store, complete, name itself after the run,
and publish a report artifact whose table and plots the browser shows. Screenshots of the default and
the filled form, the finished run and the report go to tests' output directory (the test's tmp_path,
`screenshots/`), and the test prints where.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from nngpt_core.config import RunConfig, config_from_dict, field_title
from nngpt_core.store.engine import open_store
from nngpt_core.store.identity import store_tag
from nngpt_core.store.migrate import current_revision, head_revision
from nngpt_core.store.models import Candidate, Cycle, Evaluation, Run
from tests.flow_helpers import run_config
from tests.prefect_server import nngpt_deploy, prefect_server, start_worker
from tests.ui_helpers import (
    chromium, choose, compare_controls, expected_controls, form_controls, page_kept_on_failure, set_number,
)

ROOT = Path(__file__).resolve().parent.parent
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# What the user changes in the form, from the operator's defaults (left) to the run's (right).
OPERATOR = {"cycles": 2, "generation.candidates_per_cycle": 4, "evaluation.dataset": "digits32", "evaluation.device": "auto"}
USER = {"cycles": 1, "generation.candidates_per_cycle": 3, "evaluation.dataset": "digits", "evaluation.device": "cpu"}

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the process helpers read /proc")


def _shoot(page, path: Path, height: int = 900) -> Path:
    """A screenshot `height` pixels tall: Prefect's pages scroll inside a container, which full_page misses."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def _wait_for_flow_run(client, flow_run_id, worker, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while True:
        flow_run = client.read_flow_run(flow_run_id)
        if flow_run.state is not None and flow_run.state.type.value in FINAL:
            return flow_run
        assert worker.process.poll() is None, f"worker exited:\n{worker.log_tail()}"
        assert time.monotonic() < deadline, f"flow run still {flow_run.state and flow_run.state.name}:\n{worker.log_tail()}"
        time.sleep(1)


def _created_flow_run(client, page, deployment_id, api_errors: list[str], timeout_s: float = 120):
    """The one flow run of the deployment, once the submitted form has created it."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    deadline = time.monotonic() + timeout_s
    while not (runs := client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))):
        if time.monotonic() > deadline:
            said = [line for line in page.inner_text("body").splitlines()
                    if any(word in line.lower() for word in ("error", "invalid", "must", "required", "failed"))]
            raise AssertionError(f"submitting the form created no flow run; the page ({page.url}) says:\n"
                                 + "\n".join(said[:20]) + "\nthe UI's API errors:\n" + "\n".join(api_errors))
        time.sleep(0.5)
    assert len(runs) == 1, [run.name for run in runs]
    return runs[0].id


def _flow_run_logs(client, flow_run_ids) -> str:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=list(flow_run_ids))))
    return "\n".join(f"{log.level} {log.message}" for log in logs)[-5000:]


@pytest.mark.timeout(1500)
def test_custom_run_from_the_ui_on_a_fresh_store(tmp_path: Path, echo_model: Path):
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    shots = tmp_path / "screenshots"
    shots.mkdir()
    store_url = f"sqlite:///{tmp_path / 'store' / 'nngpt.db'}"
    worker_dir = tmp_path / "worker-cwd"  # not the checkout: the pull step takes flow runs to NNGPT_WORKDIR
    worker_dir.mkdir()
    # the operator's defaults: the echo model's tiny run (its store comes from the worker's environment)
    operator = run_config(echo_model, tmp_path / "data", **OPERATOR)
    del operator["store"]["data_dir"]

    with prefect_server(tmp_path / "prefect", ui=True, startup_timeout_s=600) as server:  # the UI adds to its start-up
        env = {**server.env, "NNGPT_WORKDIR": str(ROOT)}
        nngpt_deploy(env, worker_dir, timeout_s=600)
        worker_env = {**env, "NNGPT_DATABASE_URL": store_url, "NNGPT_DATA_DIR": str(tmp_path / "data")}
        worker = start_worker(server, tmp_path / "worker.log", pool="gpu", via="nngpt", env=worker_env, cwd=worker_dir)

        with SyncPrefectClient(server.api_url) as client, chromium() as browser:
            evolve = client.read_deployment_by_name("evolve/evolve")
            assert not evolve.parameters, "the evolve deployment must not force parameters (a Quick run takes the flow's defaults)"
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            api_errors: list[str] = []  # what the UI's API calls answered with an error, for the failure messages
            page.on("response", lambda r: api_errors.append(f"{r.status} {r.request.method} {r.url}: {r.text()[:300]}")
                    if r.status >= 400 and "/api/" in r.url else None)
            with page_kept_on_failure(page, shots):

                # the deployment page, its Run menu, Custom run: a form of every RunConfig field with its default
                page.goto(f"{server.ui_url}/deployments/deployment/{evolve.id}")
                page.get_by_role("button", name="Run", exact=True).click()
                page.get_by_text("Custom run", exact=True).click()
                page.wait_for_url("**/run**")
                schema = RunConfig.model_json_schema()
                default = RunConfig().model_dump(mode="json")
                problems = compare_controls(form_controls(page), expected_controls(schema, "config", default, field_title))
                _shoot(page, shots / "1-form-defaults.png", height=12000)
                assert not problems, "\n".join(problems)

                # the operator points the deployment at the echo model; the user opens Custom run again
                client.update_deployment(evolve.id, DeploymentUpdate(parameters={"config": operator}))
                page.goto(f"{server.ui_url}/deployments/deployment/{evolve.id}/run")
                rendered = form_controls(page)
                assert float(rendered[("config", "Cycles")]["value"]) == OPERATOR["cycles"]
                set_number(page, ["config", "Cycles"], USER["cycles"])
                set_number(page, ["config", "Generation", "Candidates per cycle"], USER["generation.candidates_per_cycle"])
                choose(page, ["config", "Evaluation", "Dataset"], USER["evaluation.dataset"])
                choose(page, ["config", "Evaluation", "Device"], USER["evaluation.device"])
                rendered = form_controls(page)
                assert float(rendered[("config", "Cycles")]["value"]) == USER["cycles"]
                assert rendered[("config", "Evaluation", "Dataset")]["value"] == USER["evaluation.dataset"]
                assert rendered[("config", "Evaluation", "Device")]["value"] == USER["evaluation.device"]
                _shoot(page, shots / "2-form-filled.png", height=12000)
                page.get_by_role("button", name="Submit", exact=True).click()
                flow_run_id = _created_flow_run(client, page, evolve.id, api_errors)

                flow_run = _wait_for_flow_run(client, flow_run_id, worker, timeout_s=900)  # about 1 min on an idle machine
                children = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run.id])))
                assert flow_run.state.type.value == "COMPLETED", (
                    f"{flow_run.state.name}: {flow_run.state.message}\n--- flow run logs\n"
                    f"{_flow_run_logs(client, [flow_run.id, *(c.id for c in children)])}\n--- worker log\n{worker.log_tail()}")

                # the store was migrated by the flow run, and holds the run the form described
                store = open_store(store_url)
                assert current_revision(store) == head_revision()
                tag = store_tag(store)
                with store.session() as session:
                    run = session.scalars(select(Run)).one()
                    config = config_from_dict(run.config)
                    assert run.status == "done"
                    assert (config.cycles, config.generation.candidates_per_cycle, config.evaluation.dataset,
                            config.evaluation.device) == tuple(USER.values())
                    assert config.model.name_or_path == str(echo_model)
                    cycles = session.scalars(select(Cycle).where(Cycle.run_id == run.id)).all()
                    assert [(c.index, c.status) for c in cycles] == [(0, "done")]
                    candidates = session.scalars(select(Candidate).where(Candidate.run_id == run.id)).all()
                    assert len(candidates) == USER["generation.candidates_per_cycle"]
                    evaluations = session.scalars(select(Evaluation)).all()
                    assert evaluations and {(e.dataset, e.device) for e in evaluations} == {("digits", "cpu")}
                store.dispose()

                # flow-run names say which run, cycle and store they are
                assert flow_run.name == f"run {run.id} · loop-test · store {tag}"
                assert sorted(c.name for c in children) == [f"run {run.id} · cycle 0 · store {tag}"]

                # the finished run in the UI: the deployment's Runs tab lists it by its new name; open it
                page.goto(f"{server.ui_url}/deployments/deployment/{evolve.id}?tab=Runs")
                page.get_by_role("link", name=flow_run.name).first.click()
                page.wait_for_url(f"**/runs/flow-run/{flow_run_id}**")
                page.get_by_text("Completed").first.wait_for()
                _shoot(page, shots / "3-run-finished.png")

                # its report artifact: opened from the run's Artifacts tab, the table and the plots shown
                page.get_by_text("Artifacts", exact=True).first.click()
                key = f"nngpt-{tag}-run-{run.id}-report"
                page.get_by_text(key).first.click()
                page.wait_for_url("**/artifacts/**")
                report = page.locator(".markdown-renderer").filter(has=page.locator("table")).first
                report.wait_for()
                assert page.get_by_text("run 1: finished: 1 of 1 cycles done, status done").count() == 1  # its description
                header = report.locator("table").first.locator("th").all_inner_texts()
                assert header[:2] == ["cycle", "generated"], header
                rows = report.locator("table").first.locator("tbody tr").all_inner_texts()
                assert len(rows) == 1 and rows[0].split()[:2] == ["0", str(USER["generation.candidates_per_cycle"])], rows
                assert "status done" in report.inner_text()  # the final report says the run finished
                images = report.locator("img")
                assert images.count() >= 2
                for index in range(images.count()):
                    image = images.nth(index)
                    image.scroll_into_view_if_needed()
                    assert image.evaluate("img => img.complete && img.naturalWidth > 0"), image.get_attribute("alt")
                _shoot(page, shots / "4-report.png", height=2400)

    print(f"screenshots: {shots}")
    assert sorted(p.name for p in shots.iterdir()) == ["1-form-defaults.png", "2-form-filled.png", "3-run-finished.png",
                                                       "4-report.png"]

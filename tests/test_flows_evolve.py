"""The `evolve` flow end to end in Prefect (the session's test harness), on SQLite and on PostgreSQL.

Two cycles with the echo model (tests/flow_helpers.py): real generation, sandboxed evaluation,
novelty, admission, LoRA SFT and the report. Cycle 0 writes width variants of ECHO_A, admits the
first (the others are its near-duplicates) and trains adapter 1 on it; cycle 1 generates with
adapter 1, prompted with that ECHO_A (now the store's only corpus architecture), and admits ECHO_B.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

from nngpt_core.config import config_from_dict
from nngpt_core.loop.report import report_dir
from nngpt_core.store.engine import open_store
from nngpt_core.store.identity import store_tag
from nngpt_core.store.migrate import upgrade
from nngpt_core.store.models import Adapter, Architecture, Candidate, Cycle, Evaluation, Run
from tests.flow_helpers import ECHO_A, ECHO_B, recount, run_config, same
from tests.prefect_harness import prefect_harness  # noqa: F401  (the one session harness)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
def prefect_records(evolve_flow_run_id):
    """(cycle flow runs by index, artifacts of those runs, log lines of each cycle's generate task)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterParentFlowRunId, LogFilter,
        LogFilterTaskRunId, TaskRunFilter, TaskRunFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # log lines are sent in the background, in batches
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[evolve_flow_run_id])))
        cycles = {run.parameters["index"]: run for run in children if "index" in run.parameters}
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in cycles.values()])))
        generate_logs = {}
        for index, run in cycles.items():
            tasks = client.read_task_runs(task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[run.id])))
            generate = [t.id for t in tasks if t.task_key.startswith("generate") or t.name.startswith("generate")]
            logs = client.read_logs(log_filter=LogFilter(task_run_id=LogFilterTaskRunId(any_=generate))) if generate else []
            generate_logs[index] = [log.message for log in logs]
    return cycles, artifacts, generate_logs


@pytest.mark.timeout(420)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_evolve_two_cycles_admits_fine_tunes_and_reports(backend, request, prefect_harness, echo_model, tmp_path):
    from nngpt_flows.evolve import evolve

    url = request.getfixturevalue(f"{backend}_url")
    store = open_store(url)
    upgrade(store)  # as `nngpt run` does (cli.common.connect) before it hands over to the flow
    cfg = config_from_dict(run_config(echo_model, tmp_path / "data", url))

    state = evolve(config=cfg, return_state=True)
    assert state.is_completed(), state
    run_id = state.result()

    with store.session() as session:
        run = session.get(Run, run_id)
        assert run.status == "done"
        cycles = session.scalars(select(Cycle).where(Cycle.run_id == run_id).order_by(Cycle.index)).all()
        assert [(c.index, c.status) for c in cycles] == [(0, "done"), (1, "done")]

        # every candidate once, each stored with a final status
        candidates = session.scalars(select(Candidate).where(Candidate.run_id == run_id)).all()
        assert sorted((c.cycle_id, c.index) for c in candidates) == [(c.id, i) for c in cycles for i in range(4)]
        assert all(c.status != "pending" for c in candidates)

        # the stored metrics (cycles.metrics and the cycle_metrics view) equal a recount of the candidates
        view = {row.cycle: row._asdict() for row in session.execute(
            text("SELECT * FROM cycle_metrics WHERE run_id = :run"), {"run": run_id})}
        recounted = []
        for cycle in cycles:
            counted = recount(session, run, cycle)
            recounted.append(counted)
            assert same(counted, cycle.metrics), (counted, cycle.metrics)
            assert same(counted, view[cycle.index]), (counted, view[cycle.index])
            assert counted["novel_admitted"] >= 1 and counted["sft_examples"] >= 1
        assert [view[i]["cumulative_novel"] for i in (0, 1)] == [c.metrics["cumulative_novel"] for c in cycles] == [1, 2]

        # what was admitted: ECHO_A in cycle 0 (prompted with seeds), ECHO_B in cycle 1 (prompted with ECHO_A)
        admitted = {c.cycle_id: session.get(Architecture, c.architecture_id) for c in candidates if c.admitted}
        first, second = admitted[cycles[0].id], admitted[cycles[1].id]
        assert first.code in ECHO_A and second.code == ECHO_B
        assert first.in_corpus and second.in_corpus and first.origin == second.origin == "generated"
        assert {tuple(c.reference_ids) for c in candidates if c.cycle_id == cycles[1].id} == {(first.id,)}
        # one evaluation per architecture: exact duplicates within a cycle reuse it
        evaluations = session.scalars(select(Evaluation.architecture_id)).all()
        assert sorted(evaluations) == sorted({c.architecture_id for c in candidates})

        # cycle 1 generated with the adapter cycle 0 trained, and trained its own on top of it
        assert cycles[0].adapter_in_id is None and cycles[0].adapter_out_id is not None
        assert cycles[1].adapter_in_id == cycles[0].adapter_out_id
        second_adapter = session.get(Adapter, cycles[1].adapter_out_id)
        assert second_adapter.parent_id == cycles[0].adapter_out_id
        for cycle, count in zip(cycles, recounted):
            adapter = session.get(Adapter, cycle.adapter_out_id)
            assert adapter.n_examples == count["sft_examples"] and adapter.run_id == run_id
            assert (Path(adapter.path) / "adapter_config.json").is_file()
        assert {"generate", "prepare", "evaluate", "admit", "select", "finetune"} <= set(cycles[1].stage_timings)

    # Prefect: one subflow run per cycle; cycle 1's generate task loaded one adapter, cycle 0's none
    flow_runs, artifacts, generate_logs = prefect_records(state.state_details.flow_run_id)
    assert sorted(flow_runs) == [0, 1]
    assert any("0 adapter(s)" in line for line in generate_logs[0]), generate_logs[0]
    assert any("1 adapter(s)" in line for line in generate_logs[1]), generate_logs[1]

    # the artifacts: a markdown report with the plots inline and the cycle table, after each cycle
    keys = [a.key for a in artifacts]
    tag = store_tag(store)  # the store's id: two stores on one Prefect server never share a key
    assert keys.count(f"nngpt-{tag}-run-{run_id}-report") == 2 and keys.count(f"nngpt-{tag}-run-{run_id}-cycles") == 2
    tables = sorted((a for a in artifacts if a.key.endswith("-cycles")), key=lambda a: a.created)
    final_rows = tables[-1].data if isinstance(tables[-1].data, list) else json.loads(tables[-1].data)
    assert [row["cycle"] for row in final_rows] == [0, 1]
    for row, counted in zip(final_rows, recounted):
        assert same(counted, row), (counted, row)
    reports = [a for a in artifacts if a.key.endswith("-report")]
    assert all("data:image/png;base64," in a.data for a in reports)

    # the report on disk
    out = report_dir(cfg, run_id)
    for name in ("cycle_metrics.png", "memorization.png", "accuracy_distribution.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert (out / "summary.md").is_file()
    store.dispose()


@pytest.mark.timeout(420)
def test_a_model_that_memorized_its_training_corpus_admits_nothing(sqlite_url, prefect_harness, echo_model, tmp_path):
    """The echo model writes only what it was trained on; with its training corpus in the store (what
    `nngpt run` imports before cycle 0), every valid candidate is memorized and nothing is admitted."""
    from nngpt_flows.evolve import evolve

    store = open_store(sqlite_url)
    upgrade(store)
    cfg = config_from_dict(run_config(echo_model, tmp_path / "data", sqlite_url, **{"store.import_training_corpus": True}))
    state = evolve(config=cfg, return_state=True)
    assert state.is_completed(), state
    run_id = state.result()
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run.training_corpus["counts"]["synthetic"] == len(ECHO_A) + 1
        cycles = session.scalars(select(Cycle).where(Cycle.run_id == run_id).order_by(Cycle.index)).all()
        ok = session.scalars(select(Candidate).where(Candidate.run_id == run_id, Candidate.status == "ok")).all()
        assert ok and all(c.memorization == "memorized" and not c.admitted for c in ok)
        assert all(session.get(Architecture, c.similar_to_id).origin == "synthetic" for c in ok)
        assert all(c.paper_similarity == 1.0 for c in ok)  # exact copies are copies for the paper's test too
        for cycle in cycles:
            counted = recount(session, run, cycle)
            assert same(counted, cycle.metrics) and counted["novel_admitted"] == counted["novel_valid"] == 0
            assert cycle.adapter_out_id is None  # nothing novel, nothing to learn from
    store.dispose()


def test_report_plots_cycles_where_every_or_no_candidate_was_valid(tmp_path):
    """Regression: the Wilson bounds of 6/6 and 0/11 fell a rounding error outside the observed rate,
    and the report (and with it the run) failed on a negative error bar."""
    from nngpt_core.loop.metrics import CycleMetrics
    from nngpt_core.loop.plots import plot_run
    from nngpt_core.loop.stats import wilson_interval

    metrics = []
    for index, (ok, generated) in enumerate([(6, 6), (0, 11)]):
        low, high = wilson_interval(ok, generated)
        assert 0 <= low <= ok / generated <= high <= 1
        metrics.append(CycleMetrics(run_id=1, cycle=index, generated=generated, ok=ok, valid_rate=ok / generated,
                                    valid_low=low, valid_high=high, mean_accuracy=0.5 if ok else None,
                                    median_accuracy=0.5 if ok else None, share_threshold=0.4,
                                    share_above=1.0 if ok else None, novel_admitted=1 if ok else 0, sft_examples=0,
                                    cumulative_novel=1, accuracies=[0.5] * ok))
    for path in plot_run(metrics, tmp_path):
        assert path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.timeout(600)
def test_transfer_generates_with_the_final_adapter_on_another_dataset(sqlite_url, prefect_harness, echo_model, tmp_path):
    """The paper's cross-dataset study on this machine: a run on digits, then one cycle on digits32 with its adapter."""
    from nngpt_flows.evolve import evolve
    from nngpt_flows.transfer import transfer
    from nngpt_core.errors import NngptError
    from nngpt_core.loop.transfer import final_adapter, transfer_config, transfer_rows

    store = open_store(sqlite_url)
    upgrade(store)
    cfg = config_from_dict(run_config(echo_model, tmp_path / "data", sqlite_url))
    source = evolve(config=cfg)
    adapter = final_adapter(store, source)
    assert adapter is not None
    with pytest.raises(NngptError, match="unknown dataset .nope."):
        transfer_config(store, source, "nope", 1)
    target = transfer(config=cfg, source_run=source, dataset="digits32", cycles=1)
    with store.session() as session:
        run = session.get(Run, target)
        assert (run.dataset, run.status, run.name) == ("digits32", "done", "loop-test-to-digits32")
        cycle = session.scalar(select(Cycle).where(Cycle.run_id == target))
        assert cycle.adapter_in_id == adapter  # it generated with the source run's final adapter chain
        candidates = session.scalars(select(Candidate).where(Candidate.run_id == target)).all()
        assert len(candidates) == 4 and all("# Dataset: digits32, input batch shape (N, 3, 32, 32)" in c.prompt
                                            for c in candidates)
        assert all(c.status != "pending" for c in candidates)  # the echo model knows only digits: mostly no code
        evaluated = session.scalars(select(Evaluation.dataset).join(Candidate, Candidate.evaluation_id == Evaluation.id)
                                    .where(Candidate.run_id == target)).all()
        assert set(evaluated) <= {"digits32"}
    rows = transfer_rows(store, source, target)
    assert [(label.split()[0], dataset, len(metrics)) for label, dataset, metrics in rows] == [
        ("source", "digits", 2), ("transfer", "digits32", 1)]
    store.dispose()

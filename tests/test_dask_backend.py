"""The dask evaluation backend: stored candidates evaluated through prefect-dask on a 2-worker LocalCluster.

The candidates are written to the store directly (as prepare leaves them: pending, one per
architecture); the cycle's evaluation step (nngpt_flows.cycle.run_evaluation) sends their shards to the
`evaluate-shards` subflow on a DaskTaskRunner. Every candidate must end evaluated, with exactly one
stored evaluation per architecture, and the evaluation must have run in the Dask worker processes.
"""

from __future__ import annotations

from sqlalchemy import func, select

from nngpt_core.config import load_config
from nngpt_core.loop.evaluation import shard
from nngpt_core.store.engine import open_store
from nngpt_core.store.models import Candidate, Evaluation
from tests.evaluator_helpers import pending_candidates, read_fixture
from tests.prefect_harness import prefect_harness  # noqa: F401  (session fixture)

WIDTHS = (8, 12, 16, 24)  # four distinct architectures: the small control CNN at four widths


def _stored_candidates(url: str) -> list[int]:
    code = read_fixture("evaluate/small_cnn.py")
    variants = [code.replace("16", str(width)).replace(f"{width} * {width}", f"{width} * 16") for width in WIDTHS]
    return pending_candidates(url, variants, run_name="dask")


def test_dask_backend_evaluates_each_candidate_once_on_dask_workers(prefect_harness, tmp_path):
    from nngpt_flows.cycle import run_evaluation
    from nngpt_flows.dask_runner import dask_task_runner
    from nngpt_tasks.policy import _store

    url = f"sqlite:///{tmp_path / 'nngpt.db'}"
    cfg = load_config(None, {
        "store.url": url, "store.data_dir": str(tmp_path),
        "evaluation.dataset": "digits", "evaluation.train_subset": 200, "evaluation.test_subset": 100,
        "evaluation.workers": 1, "evaluation.timeout_s": 60,
        "orchestration.evaluation_backend": "dask", "orchestration.dask_workers": 2,
        "orchestration.shard_size": 2, "orchestration.device_slots": 2,
    })
    assert dask_task_runner(cfg).cluster_kwargs["n_workers"] == 2
    ids = _stored_candidates(url)
    _store.cache_clear()

    run_evaluation(cfg, shard(ids, cfg.orchestration.shard_size), run_id=1, index=0)

    # the shard tasks opened the store in the Dask worker processes, never in this one
    assert _store.cache_info().currsize == 0
    store = open_store(url)
    with store.session() as session:
        candidates = session.scalars(select(Candidate).order_by(Candidate.id)).all()
        assert [c.status for c in candidates] == ["ok"] * len(WIDTHS)
        assert all(c.evaluation_id is not None and c.accuracy is not None for c in candidates)
        per_architecture = session.execute(
            select(Evaluation.architecture_id, func.count()).group_by(Evaluation.architecture_id)
        ).all()
        assert sorted(n for _, n in per_architecture) == [1] * len(WIDTHS)
        assert {c.architecture_id for c in candidates} == {a for a, _ in per_architecture}
    store.dispose()

"""Shared pieces of the evaluator and sandbox tests: a fast evaluation config, fixture paths, and cleanliness checks.

    cfg = fast_config(timeout_s=4)
    with Evaluator(cfg, progress=False) as evaluator:
        result = evaluator.evaluate(read_fixture("hostile/fork_bomb.py"))
        assert_sandbox_clean(evaluator)
"""

from __future__ import annotations

from pathlib import Path

from nngpt_core.config import EvaluationConfig
from nngpt_core.evaluate import Evaluator
from nngpt_core.sandbox.processes import leftover_pids
from nngpt_core.sandbox.settings import UNPRIVILEGED_LAYERS

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "hostile"
EVALUATE = FIXTURES / "evaluate"
CONTROL = EVALUATE / "small_cnn.py"


def fast_config(*, without: tuple[str, ...] = (), **overrides) -> EvaluationConfig:
    """Digits (8x8) with 200 training and 100 test images (10 per class): a candidate takes well under a second.

    `without`: layers a test switches off (Evaluator's disabled_layers), left out of sandbox.require
    together with the default layers that depend on them, so the evaluator accepts the degraded sandbox."""
    settings = dict(dataset="digits", train_subset=200, test_subset=100, timeout_s=5, memory_limit_mb=512, workers=1)
    if without:
        lost = set(without) | ({"read-only-root"} if "mount-ns" in without else set())
        settings["sandbox"] = {"require": [layer for layer in UNPRIVILEGED_LAYERS if layer not in lost]}
    settings.update(overrides)
    return EvaluationConfig(**settings)


def read_fixture(relative: str) -> str:
    return (FIXTURES / relative).read_text()


def assert_sandbox_clean(evaluator: Evaluator) -> None:
    """No process of any candidate is left, no file in the sandbox directory but the worker logs, workers alive.

    In resident mode the worker's one sandboxed process may be alive (with its monitor and its empty
    scratch directory): that is the design; anything beyond it is a leftover.
    """
    pool = evaluator.pool
    resident = pool.settings.resident
    for worker in pool.workers:
        assert worker.process.poll() is None, "a warm worker died"
        alive = leftover_pids(worker.pid, worker.uid)
        assert len(alive) <= (2 if resident else 0), f"leftover processes: {alive}"
    leftovers = [p for p in Path(pool.base_dir).rglob("*") if p.is_file() and not p.name.endswith(".log")]
    assert leftovers == []
    for worker in pool.workers:
        scratch = list(Path(worker.scratch_root).iterdir())
        assert len(scratch) <= (1 if resident else 0), "a candidate's scratch directory was left behind"
    assert sorted(p.name for p in Path(pool.base_dir).glob("worker-*-*")) == sorted(
        Path(worker.work_dir).name for worker in pool.workers), "a replaced worker's directory was left behind"


def pending_candidates(url: str, codes: list[str], run_name: str = "test") -> list[int]:
    """A migrated store with a run, its cycle 0 and one pending candidate per code, each its own
    architecture, as the prepare stage leaves them for evaluation; returns the candidate ids."""
    from nngpt_core.store.engine import open_store
    from nngpt_core.store.migrate import upgrade
    from nngpt_core.store.models import Candidate, Cycle, Run
    from nngpt_core.store.repo import add_architecture

    store = open_store(url)
    upgrade(store)
    with store.session() as session:
        run = Run(name=run_name, base_model="none", dataset="digits")
        session.add(run)
        session.flush()
        cycle = Cycle(run_id=run.id, index=0)
        session.add(cycle)
        session.flush()
        ids = []
        for index, code in enumerate(codes):
            architecture, created = add_architecture(session, code, name=f"{run_name}{index}", origin="generated",
                                                     run_id=run.id, cycle_id=cycle.id, in_corpus=False)
            assert created, "the codes must be distinct architectures"
            candidate = Candidate(run_id=run.id, cycle_id=cycle.id, index=index, prompt="p", completion="c",
                                  code=code, architecture_id=architecture.id)
            session.add(candidate)
            session.flush()
            ids.append(candidate.id)
    store.dispose()
    return ids

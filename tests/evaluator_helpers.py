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

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "hostile"
EVALUATE = FIXTURES / "evaluate"
CONTROL = EVALUATE / "small_cnn.py"


def fast_config(**overrides) -> EvaluationConfig:
    """Digits (8x8) with 200 training and 100 test images (10 per class): a candidate takes well under a second."""
    settings = dict(dataset="digits", train_subset=200, test_subset=100, timeout_s=5, memory_limit_mb=512, workers=1)
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

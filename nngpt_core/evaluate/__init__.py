"""Sandboxed low-fidelity evaluation of candidate architectures.

    from nngpt_core.evaluate import Evaluator, EvalResult, record_evaluation
    with Evaluator(cfg.evaluation) as evaluator:
        results = evaluator.evaluate_many([code, ...])       # list[EvalResult], order kept
    with store.session() as session:
        record_evaluation(session, architecture_id, results[0])

See docs/evaluation.md. The names are resolved lazily: the sandboxed runner lives in this package
too, and a warm worker importing it must not pull in the parent's machinery (SQLAlchemy, the
dataset loaders, the pool).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nngpt_core.evaluate.evaluator import Evaluator
    from nngpt_core.evaluate.record import record_evaluation
    from nngpt_core.evaluate.result import EvalResult

_EXPORTS = {
    "Evaluator": "nngpt_core.evaluate.evaluator",
    "EvalResult": "nngpt_core.evaluate.result",
    "record_evaluation": "nngpt_core.evaluate.record",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nngpt_core.evaluate' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)

"""Stage 3, evaluate: run candidates through the sandboxed evaluator and store each result at once.

Results are committed chunk by chunk, so a run killed mid-evaluation loses at most one chunk; the
evaluation is written to the candidate's architecture and copied to every pending candidate of that
architecture (exact duplicates in the same cycle are evaluated once).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from nngpt_core.config import RunConfig
from nngpt_core.loop.preparation import apply_evaluation
from nngpt_core.loop.runs import timed_stage
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, Candidate

log = logging.getLogger("nngpt.loop")


def shard(candidate_ids: list[int], size: int) -> list[list[int]]:
    return [candidate_ids[i : i + size] for i in range(0, len(candidate_ids), size)]


def unevaluated(store: Store, candidate_ids: list[int]) -> list[int]:
    """The ids among `candidate_ids` whose candidates the store has not evaluated yet (status still pending)."""
    if not candidate_ids:
        return []
    with store.session() as session:
        return list(session.scalars(
            select(Candidate.id).where(Candidate.id.in_(candidate_ids), Candidate.status == "pending").order_by(Candidate.id)
        ))


def _still_pending(store: Store, candidate_ids: list[int]) -> list[tuple[int, int, str]]:
    """(candidate id, cycle id, code of its architecture) for the candidates not yet evaluated."""
    with store.session() as session:
        rows = session.execute(
            select(Candidate.id, Candidate.cycle_id, Architecture.code)
            .join(Architecture, Architecture.id == Candidate.architecture_id)
            .where(Candidate.id.in_(candidate_ids), Candidate.status == "pending")
            .order_by(Candidate.id)
        ).all()
    return [tuple(row) for row in rows]


def evaluate_candidates(store: Store, cfg: RunConfig, candidate_ids: list[int], progress: bool = True) -> int:
    """Evaluate the candidates among `candidate_ids` that are still pending; returns how many.

    Safe to call again with the same ids (a shard rerun after its worker died): what the store
    already holds is not evaluated again.
    """
    from nngpt_core.evaluate import Evaluator, record_evaluation

    pending = _still_pending(store, candidate_ids)
    if not pending:
        return 0
    chunk = max(cfg.evaluation.workers, 1) * 2
    with timed_stage(store, pending[0][1], "evaluate"), Evaluator(cfg.evaluation, progress=progress) as evaluator:
        for start in range(0, len(pending), chunk):
            part = pending[start : start + chunk]
            results = evaluator.evaluate_many([code for _, _, code in part])
            with store.session() as session:
                for (candidate_id, cycle_id, _), result in zip(part, results):
                    architecture_id = session.get(Candidate, candidate_id).architecture_id
                    evaluation = record_evaluation(session, architecture_id, result)
                    evaluation.structural_tokens = result.structural_tokens
                    same_architecture = session.scalars(select(Candidate).where(
                        Candidate.architecture_id == architecture_id, Candidate.status == "pending",
                        Candidate.cycle_id == cycle_id,
                    ))
                    for candidate in same_architecture:
                        apply_evaluation(candidate, evaluation)
            log.info("evaluated %d/%d candidates", min(start + chunk, len(pending)), len(pending))
    return len(pending)

"""Stage 3, evaluate: run candidates through the sandboxed evaluator and store each result at once.

Results are committed candidate by candidate, so a run killed mid-evaluation loses at most the chunk
in flight; the evaluation is written to the candidate's architecture and copied to every pending
candidate of that architecture (exact duplicates in the same cycle are evaluated once). Two
processes evaluating the same candidates never write twice: the first result stored wins.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from nngpt_core.config import RunConfig
from nngpt_core.loop.runs import timed_stage
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, Candidate

if TYPE_CHECKING:
    from nngpt_core.evaluate.result import EvalResult

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


def _still_pending(store: Store, candidate_ids: list[int]) -> list[tuple[int, int, int, str]]:
    """(candidate id, cycle id, architecture id, code) for the candidates not yet evaluated."""
    with store.session() as session:
        rows = session.execute(
            select(Candidate.id, Candidate.cycle_id, Architecture.id, Architecture.code)
            .join(Architecture, Architecture.id == Candidate.architecture_id)
            .where(Candidate.id.in_(candidate_ids), Candidate.status == "pending")
            .order_by(Candidate.id)
        ).all()
    return [tuple(row) for row in rows]


def evaluate_candidates(store: Store, cfg: RunConfig, candidate_ids: list[int], progress: bool = True) -> int:
    """Evaluate the candidates among `candidate_ids` that are still pending; returns how many it stored.

    Safe to call again with the same ids (a shard rerun after its worker died), and at the same time
    from two processes (a shard declared dead that was alive after all, and its rerun): each chunk
    skips what another process stored meanwhile, and a result is stored only where none is
    (`store_first_result`), so every architecture keeps one evaluation and nothing is written twice.
    """
    from nngpt_core.evaluate import Evaluator

    pending = _still_pending(store, candidate_ids)
    if not pending:
        return 0
    chunk = max(cfg.evaluation.workers, 1) * 2
    stored = 0
    with timed_stage(store, pending[0][1], "evaluate"), Evaluator(cfg.evaluation, progress=progress) as evaluator:
        for start in range(0, len(pending), chunk):
            part = pending[start : start + chunk]
            still = set(unevaluated(store, [candidate_id for candidate_id, *_ in part]))
            if len(still) < len(part):
                log.warning("%d of %d candidates were evaluated elsewhere meanwhile: skipped", len(part) - len(still), len(part))
            part = [item for item in part if item[0] in still]
            results = evaluator.evaluate_many([code for *_, code in part])
            stored += sum(store_first_result(store, candidate_id, cycle_id, architecture_id, result)
                          for (candidate_id, cycle_id, architecture_id, _), result in zip(part, results))
            log.info("evaluated %d/%d candidates", min(start + chunk, len(pending)), len(pending))
    return stored


def store_first_result(store: Store, candidate_id: int, cycle_id: int, architecture_id: int, result: EvalResult) -> bool:
    """Store `result` for the architecture unless an evaluation is already there, and give it to the cycle's
    still-pending candidates of that architecture. False when another process got there first.

    The transaction writes before it reads (see record_first_evaluation)."""
    from nngpt_core.evaluate.record import record_first_evaluation

    with store.session() as session:
        evaluation = record_first_evaluation(session, architecture_id, result)
        assigned = session.execute(
            update(Candidate)
            .where(Candidate.architecture_id == architecture_id, Candidate.cycle_id == cycle_id, Candidate.status == "pending")
            .values(evaluation_id=evaluation.id, status=evaluation.status, error=evaluation.error, accuracy=evaluation.accuracy)
        ).rowcount
    if not assigned:
        log.warning("candidate %d: another process stored its evaluation first; this result is not written", candidate_id)
    return bool(assigned)

"""Stage 2, prepare: static checks, the candidate's architecture row, and reuse of stored evaluations.

Every candidate that passes the static checks gets an architecture (found or created by its
normalized-code hash; created ones stay out of the corpus until admitted, with their lineage: the
parents of the prompt that made them, in their roles). A candidate whose
architecture was already stored is an `exact_duplicate` of it, and when that architecture has an
evaluation under the same dataset and recipe, the evaluation is reused, not recomputed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from nngpt_core.config import RunConfig
from nngpt_core.loop.runs import timed_stage
from nngpt_core.novelty.compare import EXACT_DUPLICATE
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, Candidate, Cycle, Evaluation, Lineage
from nngpt_core.store.repo import add_architecture


def recipe_hash(cfg: RunConfig) -> str:
    from nngpt_core.evaluate.recipe import Recipe

    return Recipe.from_config(cfg.evaluation).hash


def stored_evaluation(session: Session, architecture_id: int, dataset: str, recipe: str) -> Evaluation | None:
    return session.scalar(select(Evaluation).where(
        Evaluation.architecture_id == architecture_id, Evaluation.dataset == dataset, Evaluation.recipe == recipe
    ))


def record_lineage(session: Session, architecture_id: int, candidate: Candidate) -> None:
    """The new architecture's parents: the references of the prompt that made it, in their roles."""
    from nngpt_core.llm.modes import parent_roles

    mode = candidate.mode or "full"
    architecture = session.get(Architecture, architecture_id)
    architecture.operation = mode
    parents = list(dict.fromkeys(candidate.reference_ids or []))
    for parent_id, role in zip(parents, parent_roles(mode, len(parents))):
        session.add(Lineage(child_id=architecture_id, parent_id=parent_id, operation=mode, role=role))
    if parents:
        architecture.parent_id = parents[0]


def apply_evaluation(candidate: Candidate, evaluation: Evaluation) -> None:
    candidate.evaluation_id = evaluation.id
    candidate.status = evaluation.status
    candidate.error = evaluation.error
    candidate.accuracy = evaluation.accuracy


def prepare_candidates(store: Store, cfg: RunConfig, cycle_id: int) -> list[int]:
    """Check and resolve the cycle's pending candidates; returns one pending candidate id per
    architecture that still needs an evaluation."""
    from nngpt_core.sandbox.static import check_source

    dataset, recipe = cfg.evaluation.dataset, recipe_hash(cfg)
    with timed_stage(store, cycle_id, "prepare"), store.session() as session:
        cycle = session.get(Cycle, cycle_id)
        pending = session.scalars(
            select(Candidate).where(Candidate.cycle_id == cycle_id, Candidate.status == "pending").order_by(Candidate.index)
        ).all()
        needs_evaluation: dict[int, int] = {}
        for candidate in pending:
            if candidate.architecture_id is None:
                refusal = check_source(candidate.code, cfg.evaluation.allowed_imports)
                if refusal is not None:
                    candidate.status, candidate.error = refusal.status, refusal.error
                    continue
                architecture, created = add_architecture(
                    session, candidate.code, name=f"r{cycle.run_id}c{cycle.index}n{candidate.index}",
                    origin="generated", run_id=cycle.run_id, cycle_id=cycle_id, in_corpus=False,
                )
                candidate.architecture_id = architecture.id
                if created:
                    record_lineage(session, architecture.id, candidate)
                else:
                    candidate.novelty, candidate.similar_to_id, candidate.similarity = EXACT_DUPLICATE, architecture.id, 1.0
            evaluation = stored_evaluation(session, candidate.architecture_id, dataset, recipe)
            if evaluation is not None:
                apply_evaluation(candidate, evaluation)
            else:
                needs_evaluation.setdefault(candidate.architecture_id, candidate.id)
        return list(needs_evaluation.values())

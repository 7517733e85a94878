"""Storing an evaluation: one Evaluation row per architecture x dataset x recipe.

    from nngpt_core.evaluate import record_evaluation
    with store.session() as session:
        evaluation = record_evaluation(session, architecture.id, result)

Re-evaluating with the same dataset and recipe updates the row. The architecture's parameter and
FLOP counts are filled from the first evaluation that measured them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from nngpt_core.errors import NngptError
from nngpt_core.evaluate.result import EvalResult
from nngpt_core.store.models import Architecture, Evaluation
from nngpt_core.versions import environment_versions


def record_evaluation(session: Session, architecture_id: int, result: EvalResult) -> Evaluation:
    """Insert or update the Evaluation of `architecture_id` on result.dataset under result.recipe."""
    architecture = session.get(Architecture, architecture_id)
    if architecture is None:
        raise NngptError(f"architecture {architecture_id} is not in the store")
    if not result.dataset or not result.recipe:
        raise NngptError("an evaluation result without dataset and recipe cannot be stored")
    evaluation = session.scalar(
        select(Evaluation).where(
            Evaluation.architecture_id == architecture_id,
            Evaluation.dataset == result.dataset,
            Evaluation.recipe == result.recipe,
        )
    )
    if evaluation is None:
        evaluation = Evaluation(architecture_id=architecture_id, dataset=result.dataset, recipe=result.recipe)
        session.add(evaluation)
    evaluation.recipe_config = result.recipe_config
    evaluation.status = result.status
    evaluation.error = result.error
    evaluation.accuracy = result.accuracy
    evaluation.train_loss = result.train_loss
    evaluation.duration_s = result.duration_s
    evaluation.phase_durations = result.phase_durations
    evaluation.params = result.params
    evaluation.flops = result.flops
    evaluation.device = result.device
    evaluation.seed = result.seed
    evaluation.versions = environment_versions()
    if architecture.params is None:
        architecture.params = result.params
    if architecture.flops is None:
        architecture.flops = result.flops
    session.flush()
    return evaluation

"""Storing an evaluation: one Evaluation row per architecture x dataset x recipe.

    from nngpt_core.evaluate import record_evaluation
    with store.session() as session:
        evaluation = record_evaluation(session, architecture.id, result)          # insert or update
        evaluation = record_first_evaluation(session, architecture.id, result)    # insert unless one is there

Re-evaluating with the same dataset and recipe updates the row (`nngpt eval --store`). The loop uses
`record_first_evaluation`: when two processes evaluated the same architecture (a shard declared dead
that was alive after all, and its rerun), the first result stored is kept and the second writes
nothing, decided by the database on the unique key. The architecture's parameter and FLOP counts are
filled from the first evaluation that measured them.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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


def record_first_evaluation(session: Session, architecture_id: int, result: EvalResult) -> Evaluation:
    """The stored Evaluation of `architecture_id` under result's dataset and recipe, inserted from `result`
    unless one is there already (INSERT ... ON CONFLICT DO NOTHING on the unique key: safe when another
    process stores the same evaluation at the same moment). The statement is the transaction's first
    write, so on SQLite it waits for the write lock instead of failing on a stale snapshot."""
    if not result.dataset or not result.recipe:
        raise NngptError("an evaluation result without dataset and recipe cannot be stored")
    values = dict(
        architecture_id=architecture_id, dataset=result.dataset, recipe=result.recipe,
        recipe_config=result.recipe_config, status=result.status, error=result.error, accuracy=result.accuracy,
        train_loss=result.train_loss, duration_s=result.duration_s, phase_durations=result.phase_durations,
        params=result.params, flops=result.flops, device=result.device, seed=result.seed,
        structural_tokens=result.structural_tokens, versions=environment_versions(),
    )
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Evaluation).values(**values).on_conflict_do_nothing(
        index_elements=["architecture_id", "dataset", "recipe"]))
    evaluation = session.scalar(select(Evaluation).where(
        Evaluation.architecture_id == architecture_id, Evaluation.dataset == result.dataset,
        Evaluation.recipe == result.recipe,
    ).execution_options(populate_existing=True))
    for column in ("params", "flops"):  # only where no evaluation filled them yet
        session.execute(update(Architecture).where(Architecture.id == architecture_id, getattr(Architecture, column).is_(None))
                        .values({column: getattr(evaluation, column)}))
    return evaluation

"""Storing evaluations: one row per architecture x dataset x recipe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from nngpt_core.errors import NngptError
from nngpt_core.evaluate import EvalResult, record_evaluation
from nngpt_core.store.models import Architecture, Evaluation
from nngpt_core.store.repo import add_architecture
from tests.evaluator_helpers import CONTROL


def _result(**changes) -> EvalResult:
    fields = dict(
        status="ok", accuracy=0.9, train_loss=0.4, duration_s=1.5, phase_durations={"train": 1.0}, params=2762,
        flops=23552, device="cpu", seed=0, structural_tokens=["conv2d#1"], dataset="digits", recipe="abc123",
        recipe_config={"epochs": 1}, hyperparameters={"lr": 0.01},
    )
    fields.update(changes)
    return EvalResult(**fields)


def test_results_round_trip_through_json():
    result = _result()
    assert EvalResult.from_json(result.to_json()) == result


def test_record_inserts_then_updates_the_same_row(store):
    with store.session() as session:
        architecture, _ = add_architecture(session, CONTROL.read_text(), name="small_cnn", origin="seed")
        first = record_evaluation(session, architecture.id, _result())
        assert (first.status, first.accuracy, first.params, first.phase_durations) == ("ok", 0.9, 2762, {"train": 1.0})
        assert first.versions["torch"] and architecture.params == 2762 and architecture.flops == 23552
        again = record_evaluation(session, architecture.id, _result(status="timeout", accuracy=None, error="slow"))
        assert again.id == first.id
        other_recipe = record_evaluation(session, architecture.id, _result(recipe="def456"))
        assert other_recipe.id != first.id
    with store.session() as session:
        rows = session.scalars(select(Evaluation).order_by(Evaluation.id)).all()
        assert [(row.recipe, row.status, row.error) for row in rows] == [("abc123", "timeout", "slow"), ("def456", "ok", None)]
        assert session.scalar(select(func.count()).select_from(Architecture)) == 1


def test_recording_needs_a_stored_architecture_and_a_recipe(store):
    with store.session() as session:
        with pytest.raises(NngptError, match="not in the store"):
            record_evaluation(session, 12345, _result())
        architecture, _ = add_architecture(session, CONTROL.read_text(), name="small_cnn", origin="seed")
        with pytest.raises(NngptError, match="dataset and recipe"):
            record_evaluation(session, architecture.id, _result(recipe=None))

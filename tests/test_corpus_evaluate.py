"""Every hand-written seed and a sample of expanded variants evaluate `ok` in the sandbox on digits and digits32.

    .venv/bin/pytest tests/test_corpus_evaluate.py

About two and a half minutes on two cores: digits trains on its full training set (a candidate's cost
there is mostly the sandbox round trip), digits32 on a subset, enough to prove a file builds, trains
and predicts. `nngpt corpus check --evaluate` runs the full recipe on any dataset (docs/corpus.md).
"""

from __future__ import annotations

import statistics

import pytest

from nngpt_core.config import EvaluationConfig
from nngpt_core.corpus import expanded_sources, seed_sources
from nngpt_core.evaluate import EvalResult, Evaluator

SEEDS = seed_sources()
EXPANDED_SAMPLE = 20
SUBSETS = {"digits": (None, 200), "digits32": (160, 100)}  # (train, test) images; None = all


@pytest.fixture(scope="module")
def files() -> list[tuple[str, str]]:
    return SEEDS + list(expanded_sources(EXPANDED_SAMPLE, seed=11))


def _evaluate(dataset: str, files: list[tuple[str, str]]) -> dict[str, EvalResult]:
    train, test = SUBSETS[dataset]
    cfg = EvaluationConfig(dataset=dataset, train_subset=train, test_subset=test, workers=2, timeout_s=60)
    with Evaluator(cfg, progress=False) as evaluator:
        outcomes = evaluator.evaluate_many([code for _, code in files])
    return dict(zip([name for name, _ in files], outcomes))


@pytest.fixture(scope="module")
def digits(files) -> dict[str, EvalResult]:
    return _evaluate("digits", files)


@pytest.fixture(scope="module")
def digits32(files) -> dict[str, EvalResult]:
    return _evaluate("digits32", files)


@pytest.mark.parametrize("dataset", list(SUBSETS))
def test_every_seed_and_sampled_variant_is_ok(request, dataset):
    outcomes = request.getfixturevalue(dataset)
    assert len(outcomes) == len(SEEDS) + EXPANDED_SAMPLE
    failures = {name: f"{result.status}: {result.error}" for name, result in outcomes.items() if not result.ok}
    assert failures == {}


def test_every_seed_learns_digits_in_one_epoch(digits):
    accuracies = {name: digits[name].accuracy for name, _ in SEEDS}
    assert {name: accuracy for name, accuracy in accuracies.items() if accuracy <= 0.2} == {}, "2x chance"
    assert statistics.median(accuracies.values()) >= 0.8

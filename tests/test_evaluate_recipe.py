"""The recipe: LEMUR's hyperparameter spellings, the values each key gets, and the recipe hash."""

from __future__ import annotations

import pytest

from nngpt_core.config import EvaluationConfig, load_config
from nngpt_core.errors import ConfigError
from nngpt_core.evaluate.recipe import HyperparameterError, Recipe, fill_hyperparameters, requested_keys


@pytest.mark.parametrize(("declared", "keys"), [
    ({"momentum", "lr"}, ["lr", "momentum"]),
    (frozenset({"dropout", "lr"}), ["dropout", "lr"]),
    (["lr", "momentum", "lr"], ["lr", "momentum"]),
    (("lr", "dropout"), ["lr", "dropout"]),
    ({"lr": (1e-4, 1e-1), "momentum": 0.9}, ["lr", "momentum"]),
    ("lr, momentum dropout", ["lr", "momentum", "dropout"]),
    ((key for key in ("lr", "norm_eps")), ["lr", "norm_eps"]),
    ([], []),
])
def test_every_lemur_spelling_names_its_keys(declared, keys):
    assert requested_keys(declared) == keys


@pytest.mark.parametrize("declared", [42, None, ["lr", 3], ["x" * 101], [""], [f"k{i}" for i in range(300)]])
def test_declarations_that_name_no_usable_keys_are_refused(declared):
    with pytest.raises(HyperparameterError):
        requested_keys(declared)


def test_known_keys_get_documented_defaults_and_others_the_neutral_value():
    cfg = EvaluationConfig()
    recipe = Recipe.from_config(cfg)
    prm = fill_hyperparameters(["lr", "dropout", "width_mult", "attention_dropout"], recipe.hyperparameters,
                               cfg.neutral_value, recipe.batch_size)
    assert prm["lr"] == 0.01 and prm["momentum"] == 0.9 and prm["dropout"] == 0.2
    assert prm["attention_dropout"] == cfg.hyperparameters["attention_dropout"]
    assert prm["width_mult"] == cfg.neutral_value and 0 <= prm["width_mult"] <= 1
    assert prm["batch"] == 32 and isinstance(prm["batch"], int)
    assert prm["read_but_never_declared"] == cfg.neutral_value  # LEMUR models read keys directly
    assert prm.get("absent", "default") == "default"  # .get keeps its usual meaning


def test_recipe_hash_is_stable_and_tracks_every_setting():
    base = Recipe.from_config(EvaluationConfig())
    assert base.hash == Recipe.from_config(EvaluationConfig()).hash and len(base.hash) == 16
    variants = [
        EvaluationConfig(epochs=2), EvaluationConfig(seed=1), EvaluationConfig(dataset="digits"),
        EvaluationConfig(neutral_value=0.3), EvaluationConfig(train_subset=100), EvaluationConfig(augment=True),
        EvaluationConfig(hyperparameters={**EvaluationConfig().hyperparameters, "lr": 0.1}),
    ]
    hashes = {Recipe.from_config(cfg).hash for cfg in variants}
    assert len(hashes) == len(variants) and base.hash not in hashes
    assert Recipe.from_config(EvaluationConfig(workers=7, timeout_s=3)).hash == base.hash  # limits are not the recipe


@pytest.mark.parametrize("batch", [0, 2.5, -8])
def test_the_batch_size_must_be_a_whole_positive_number(batch):
    with pytest.raises(ConfigError, match="batch must be a whole number"):
        load_config(None, {"evaluation.hyperparameters": {"lr": 0.01, "batch": batch}})

"""The evaluation recipe: LEMUR's training contract, the hyperparameter values a candidate gets, and the recipe hash.

    from nngpt_core.evaluate.recipe import Recipe, requested_keys
    recipe = Recipe.from_config(cfg.evaluation)
    recipe.hash            # '3f2a...' (16 hex digits): evaluations with equal hashes are comparable
    requested_keys({"lr", "momentum"}) == ["lr", "momentum"]

A candidate names its hyperparameters in `supported_hyperparameters()` (a set, list, tuple, dict,
or a comma-separated string: LEMUR's spellings). Every named key gets a value: keys with a
documented default in `EvaluationConfig.hyperparameters` (the paper's SGD recipe) get that default,
any other key gets `neutral_value` from [0, 1], because LEMUR draws every hyperparameter from [0, 1]
and each model scales it itself. Keys a model reads without naming them get the same values, so
LEMUR's published models, which read `prm['dropout']` directly, run unchanged. This module is pure
Python: it also runs inside the sandbox.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sandboxed runner imports this module without the config machinery
    from nngpt_core.config import EvaluationConfig

RECIPE_VERSION = "lemur-sgd-1"
_LATER_FIELDS = {"image_size": None, "random_flip": False, "precision": "float32"}  # fields added after evaluations were stored
MAX_KEYS = 256
MAX_KEY_LENGTH = 100


class HyperparameterError(ValueError):
    """supported_hyperparameters() returned something that names no keys."""


def requested_keys(declared: Any) -> list[str]:
    """The hyperparameter names in any of LEMUR's spellings, in a stable order, without duplicates."""
    if isinstance(declared, str):
        items: Iterable[Any] = [part for part in declared.replace(",", " ").split() if part]
    elif isinstance(declared, Mapping):
        items = list(declared.keys())
    elif isinstance(declared, (set, frozenset)):
        items = sorted(declared, key=str)
    elif isinstance(declared, Iterable):
        items = list(declared)
    else:
        raise HyperparameterError(f"supported_hyperparameters() returned {type(declared).__name__}, not a set of names")
    keys: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item or len(item) > MAX_KEY_LENGTH:
            raise HyperparameterError(f"supported_hyperparameters() names a key that is not a short string: {item!r:.60}")
        if item not in keys:
            keys.append(item)
    if len(keys) > MAX_KEYS:
        raise HyperparameterError(f"supported_hyperparameters() names {len(keys)} keys (at most {MAX_KEYS})")
    return keys


class Hyperparameters(dict):
    """The `prm` dict a candidate receives: a key it reads without naming it gets the neutral value."""

    def __init__(self, values: Mapping[str, Any], neutral: float):
        super().__init__(values)
        self.neutral = neutral

    def __missing__(self, key: str) -> float:
        self[key] = self.neutral
        return self.neutral


def fill_hyperparameters(keys: list[str], known: Mapping[str, float], neutral: float, batch_size: int) -> Hyperparameters:
    """`prm` for a candidate naming `keys`: every known default, then each named key (known or neutral)."""
    values: dict[str, Any] = dict(known)
    values["batch"] = batch_size
    for key in keys:
        values.setdefault(key, neutral)
    return Hyperparameters(values, neutral)


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a candidate's score besides its code; hashed into Evaluation.recipe."""

    dataset: str
    epochs: int
    seed: int
    batch_size: int
    hyperparameters: dict[str, float] = field(default_factory=dict)
    neutral_value: float = 0.5
    train_subset: int | None = None
    test_subset: int | None = None
    augment: bool = False
    image_size: int | None = None  # batches resized on the device (LEMUR's transform size); None = the dataset's
    random_flip: bool = False  # training images flipped left-right at random (LEMUR's *_flip transforms)
    precision: str = "float32"  # autocast dtype of training and prediction
    version: str = RECIPE_VERSION

    @classmethod
    def from_config(cls, cfg: EvaluationConfig) -> Recipe:
        """The recipe of an EvaluationConfig."""
        known = {key: float(value) for key, value in cfg.hyperparameters.items() if key != "batch"}
        return cls(
            dataset=cfg.dataset, epochs=cfg.epochs, seed=cfg.seed, batch_size=int(cfg.hyperparameters.get("batch", 32)),
            hyperparameters=dict(sorted(known.items())), neutral_value=cfg.neutral_value,
            train_subset=cfg.train_subset, test_subset=cfg.test_subset, augment=cfg.augment,
            image_size=cfg.image_size, random_flip=cfg.random_flip, precision=cfg.resolved_precision(),
        )

    def with_hyperparameters(self, values: Mapping[str, float]) -> Recipe:
        """This recipe with some hyperparameter values replaced (`batch` sets the batch size)."""
        known = {key: float(value) for key, value in values.items() if key != "batch"}
        batch = int(values.get("batch", self.batch_size))
        return replace(self, batch_size=batch, hyperparameters=dict(sorted({**self.hyperparameters, **known}.items())))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def hash(self) -> str:
        fields = self.to_dict()
        for name, default in _LATER_FIELDS.items():  # absent at their default: earlier hashes stay valid
            if fields[name] == default:
                del fields[name]
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

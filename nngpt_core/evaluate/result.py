"""`EvalResult`: what one evaluation of one candidate produced, as other stages and the store see it.

    result = EvalResult(status="ok", accuracy=0.91, ...)
    result.to_json()                     # plain dict, JSON-serializable (Prefect passes it between tasks)
    EvalResult.from_json(result.to_json()) == result

`status` is one of the candidate statuses (docs/evaluation.md); `error` is a short, scrubbed text for every
status but `ok`. `accuracy` is computed by the parent from the returned predictions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class EvalResult:
    status: str
    error: str | None = None
    accuracy: float | None = None
    train_loss: float | None = None
    duration_s: float = 0.0
    phase_durations: dict[str, float] = field(default_factory=dict)
    params: int | None = None
    flops: int | None = None  # per sample, torch.utils.flop_counter
    device: str | None = None
    seed: int | None = None
    structural_tokens: list[str] | None = None
    dataset: str | None = None
    recipe: str | None = None  # Recipe.hash
    recipe_config: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # the keys the candidate named, as filled

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvalResult:
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

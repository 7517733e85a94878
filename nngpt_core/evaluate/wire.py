"""The result a sandboxed candidate sends back: one JSON line, then its predictions as raw little-endian int64.

    payload = encode_result({"status": "ok", ...}, predictions)        # in the sandbox
    report, predictions = decode_result(payload, expected=360, num_classes=10)   # in the parent

The parent treats the payload as hostile: the header must be a JSON object with exactly the known
fields, each of the right type and within bounds; predictions must be exactly `expected` class
indices. Anything else raises MalformedResult. Nothing is unpickled or evaluated.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HEADER_LIMIT = 4 * 2**20
MAX_ERROR_CHARS = 2000
MAX_TOKENS = 20_000
MAX_TOKEN_CHARS = 512
PHASES = ("load", "build", "check", "train", "predict")
_DTYPE = np.dtype("<i8")


class MalformedResult(ValueError):
    """The sandbox sent something that is not a well-formed result."""


@dataclass
class ChildReport:
    """The validated header of a candidate's result."""

    status: str
    error: str | None = None
    train_loss: float | None = None
    params: int | None = None
    flops: int | None = None
    phases: dict[str, float] = field(default_factory=dict)
    tokens: list[str] | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    predictions: int = 0


def result_limit(test_samples: int) -> int:
    """The most bytes a well-formed result for `test_samples` predictions can take."""
    return HEADER_LIMIT + 1 + _DTYPE.itemsize * test_samples


def encode_result(report: ChildReport, predictions: np.ndarray | None) -> bytes:
    data = b"" if predictions is None else np.asarray(predictions, dtype=_DTYPE).tobytes()
    report.predictions = 0 if predictions is None else len(predictions)
    header = json.dumps(report.__dict__, separators=(",", ":"), allow_nan=False).encode()
    return header + b"\n" + data


def _optional(value: Any, kind: type, name: str) -> Any:
    if value is None:
        return None
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise MalformedResult(f"{name} is not a non-negative integer")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise MalformedResult(f"{name} is not a finite number")
        return float(value)
    if kind is str and not isinstance(value, str):
        raise MalformedResult(f"{name} is not text")
    return value


def _phases(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not set(value) <= set(PHASES):
        raise MalformedResult("phases are not a mapping of known phase names")
    return {name: _optional(seconds, float, f"phase {name}") for name, seconds in value.items()}


def _tokens(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_TOKENS:
        raise MalformedResult("structural tokens are not a bounded list")
    if not all(isinstance(token, str) and len(token) <= MAX_TOKEN_CHARS for token in value):
        raise MalformedResult("a structural token is not a short string")
    return value


def _hyperparameters(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) > 512:
        raise MalformedResult("hyperparameters are not a bounded mapping")
    for key, item in value.items():
        if len(key) > 100 or isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise MalformedResult("a hyperparameter is not a finite number under a short name")
    return value


def decode_result(payload: bytes, expected: int, num_classes: int) -> tuple[ChildReport, np.ndarray | None]:
    """The validated report and predictions (None unless status is ok); MalformedResult otherwise."""
    from nngpt_core.store.models import CANDIDATE_STATUSES

    end = payload.find(b"\n", 0, HEADER_LIMIT + 1)
    if end < 0:
        raise MalformedResult("no header line")
    try:
        header = json.loads(payload[:end])
    except (ValueError, RecursionError):
        raise MalformedResult("header is not JSON") from None
    if not isinstance(header, dict) or set(header) != set(ChildReport.__dataclass_fields__):
        raise MalformedResult("header fields differ from a result's")
    if header["status"] not in CANDIDATE_STATUSES:
        raise MalformedResult("unknown status")
    error = _optional(header["error"], str, "error")
    report = ChildReport(
        status=header["status"], error=error[:MAX_ERROR_CHARS] if error else None,
        train_loss=_optional(header["train_loss"], float, "train_loss"),
        params=_optional(header["params"], int, "params"), flops=_optional(header["flops"], int, "flops"),
        phases=_phases(header["phases"]), tokens=_tokens(header["tokens"]),
        hyperparameters=_hyperparameters(header["hyperparameters"]),
        predictions=_optional(header["predictions"], int, "predictions") or 0,
    )
    body = payload[end + 1:]
    if report.status != "ok":
        if body or report.predictions:
            raise MalformedResult("predictions sent with a failure status")
        return report, None
    if report.predictions != expected or len(body) != expected * _DTYPE.itemsize:
        raise MalformedResult(f"expected {expected} predictions")
    predictions = np.frombuffer(body, dtype=_DTYPE)
    if predictions.size and (predictions.min() < 0 or predictions.max() >= num_classes):
        raise MalformedResult("a prediction is not a class index")
    return report, predictions

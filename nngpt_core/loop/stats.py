"""Small statistics for the cycle metrics: the Wilson score interval and the median."""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.96  # the same z as the SQL view cycle_metrics


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """95% Wilson score interval of a proportion, or None for zero trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

"""Small statistics for the cycle metrics: the Wilson score interval and the median."""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.96  # the same z as the SQL view cycle_metrics


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """95% Wilson score interval of a proportion, or None for zero trials.

    The interval always holds the observed proportion; the bounds are clamped to it and to [0, 1],
    since rounding can put them a hair outside (e.g. 0.9999999999999999 for 6 of 6), which made the
    report's error bars negative."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

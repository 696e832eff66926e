"""R19: the average on-site defense score given to village-stationed applicants."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal


def defense_average(scores: Iterable[float]) -> float:
    """The mean of the on-site scores, rounded half up to 2 decimals (as scores are read)."""
    values = [Decimal(str(score)) for score in scores]
    if not values:
        raise ValueError("no on-site defense score yet: the average needs at least one")
    mean = sum(values, Decimal(0)) / len(values)
    return float(mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))

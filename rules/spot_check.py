"""R22 spot checks and R8 integrity-archive periods: pure and reproducible."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from datetime import date

from models.round import Ratio


def sample_size(population: int, ratio: Ratio, minimum: int = 1) -> int:
    """ceil(population × ratio), at least `minimum`, at most the population."""
    share = -(-population * ratio.numerator // ratio.denominator)
    return min(population, max(share, minimum))


def population_digest(workflow_ids: Iterable[str]) -> str:
    """SHA-256 of the sorted ids, one per line: what a recheck compares the population with."""
    text = "\n".join(sorted(workflow_ids))
    return hashlib.sha256(text.encode()).hexdigest()


def draw_sample(workflow_ids: Iterable[str], count: int, seed: int) -> list[str]:
    """The same seed over the same population always draws the same ids (sorted for reading).

    The population is sorted first, so the order in which it was listed does not matter."""
    population = sorted(set(workflow_ids))
    if count > len(population):
        raise ValueError(f"cannot sample {count} of {len(population)} declarations")
    return sorted(random.Random(seed).sample(population, count))


def integrity_blocked_until(revoked_on: date, years: int = 3) -> date:
    """R8: the record lasts `years` years from the revocation (Feb 29 → Feb 28)."""
    try:
        return revoked_on.replace(year=revoked_on.year + years)
    except ValueError:
        return revoked_on.replace(year=revoked_on.year + years, day=28)

"""A round's figures from its declarations' facts: pure, so the command line, the portal and
the tests count the same way (models/statistics.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from models.common import ENDINGS, Stage
from models.statistics import DeclarationFacts, Dimension, Figures, RoundFigures

# each ending's counter (an approved title later revoked counts as approved and revoked)
_ENDING_COUNTERS = {
    Stage.abandoned.value: "abandoned",
    Stage.locked.value: "locked",
    Stage.approved.value: "approved",
}
_ENDED = {stage.value for stage in ENDINGS}


def _add(figures: Figures, facts: DeclarationFacts) -> None:
    figures.declared += 1
    figures.recommended += facts.recommended
    figures.returned += facts.returns > 0
    figures.returns += facts.returns
    figures.passed += facts.passed
    figures.overdue += facts.overdue
    counter = _ENDING_COUNTERS.get(facts.stage)
    if counter:
        setattr(figures, counter, getattr(figures, counter) + 1)
    if facts.stage == Stage.revoked.value:
        figures.revoked += 1
        figures.approved += 1
    if facts.stage not in _ENDED:
        figures.in_progress += 1


def round_figures(year: int, facts: Iterable[DeclarationFacts], as_of: datetime) -> RoundFigures:
    figures = RoundFigures(year=year, as_of=as_of, total=Figures())
    groups: dict[Dimension, dict[str, Figures]] = {dimension: {} for dimension in Dimension}
    for declaration in facts:
        _add(figures.total, declaration)
        figures.by_stage[declaration.stage] = figures.by_stage.get(declaration.stage, 0) + 1
        for dimension, key in (
            (Dimension.level, declaration.level),
            (Dimension.jurisdiction, declaration.jurisdiction),
            (Dimension.employer, declaration.employer),
        ):
            _add(groups[dimension].setdefault(key, Figures()), declaration)
    figures.by = {dimension: dict(sorted(found.items())) for dimension, found in groups.items()}
    figures.by_stage = dict(sorted(figures.by_stage.items()))
    return figures

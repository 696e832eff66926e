"""What the competent unit's binding needs of a declaration (portal/routers/competent_unit.py:
its competent unit, named in the workflow's input only), read once from the start event of
the workflow's history and kept in the app (`app.state.bound_inputs`): the competent unit's
pages and the lists searched by it (portal/routers/search.py) use it."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from temporalio.service import RPCError

from models.common import Level
from portal.context import Portal, Refusal, log
from portal.materials import started_input

BOUND_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Bound:
    """What the competent unit needs of a declaration's input (nothing else is kept)."""

    competent_unit: str | None
    applicant_name: str
    employer_name: str
    level: Level
    round_year: int


def unit_name(text: str | None) -> str:
    return (text or "").strip()


class BoundInputs:
    """Each declaration's `Bound`, read from its workflow's start event once; at most
    `size` are kept (the oldest read goes first)."""

    def __init__(self, size: int = BOUND_CACHE_SIZE) -> None:
        self.size = size
        self._cache: OrderedDict[str, Bound] = OrderedDict()

    async def get(self, portal: Portal, workflow_id: str) -> Bound:
        """The declaration's competent unit (and names for attachment 4)."""
        if workflow_id in self._cache:
            return self._cache[workflow_id]
        try:
            declaration = await started_input(await portal.temporal(), workflow_id)
        except (RPCError, RuntimeError, LookupError, ValueError) as exc:
            log.warning("input of %s not read: %s", workflow_id, type(exc).__name__)
            raise Refusal("暂时无法读取申报信息，请稍后刷新。", type(exc).__name__, 503) from None
        employer = declaration.applicant.employer
        found = Bound(
            competent_unit=unit_name(employer.competent_unit) or None,
            applicant_name=declaration.applicant.name,
            employer_name=employer.name,
            level=declaration.level,
            round_year=declaration.round.year,
        )
        self._cache[workflow_id] = found
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return found


def bound_inputs(request: Request) -> BoundInputs:
    return request.app.state.bound_inputs


Inputs = Annotated[BoundInputs, Depends(bound_inputs)]


def is_ours(account: Any, of: Bound) -> bool:
    return of.competent_unit is not None and of.competent_unit == unit_name(account.display_name)

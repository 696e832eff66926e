"""Experts for the pool's tests (store/experts.py, the command line, the portal)."""

from __future__ import annotations

from datetime import date
from typing import Any

from stdnum.cn import uscc

from models.common import Actor, Role
from models.experts import ExpertProfile, PastEmployer, Relation

SUPERVISOR = Actor(role=Role.supervisor, id="supervisor:zhao")


def uscc_of(serial: int) -> str:
    """A valid 统一社会信用代码 per serial (its check digit computed)."""
    body = f"91650100000{serial:06d}"
    return body + uscc.calc_check_digit(body)


def profile(
    name: str = "王建国",
    *,
    employer: int = 1,
    specialty: str = "光伏硅基",
    past: list[tuple[int, date]] | None = None,
    relations: list[tuple[str, str]] | None = None,
    **fields: Any,
) -> ExpertProfile:
    """An expert working for employer `uscc_of(employer)`; `past`: (employer serial, left
    on); `relations`: (ID card, relation)."""
    values: dict[str, Any] = {
        "name": name,
        "employer_uscc": uscc_of(employer),
        "employer_name": f"示例单位{employer}",
        "specialty": specialty,
        "title": "正高级工程师",
        "mobile": "13800138000",
        "email": "expert@example.com",
        "past_employers": [
            PastEmployer(uscc=uscc_of(e), name=f"示例单位{e}", left_on=left_on)
            for e, left_on in past or []
        ],
        "relations": None
        if relations is None
        else [Relation(id_card=card, relation=text) for card, text in relations],
    }
    values.update(fields)
    return ExpertProfile(**values)

"""Arguments and results of the round's coordination activities (activities/coordination.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from models.common import Actor, Stage, Strict
from models.round import ListingSource, Ratio

# Activity names (activities/coordination.py, activities/publish.py): the Round and
# RoundLauncher workflows call them by name through workflows/calls.py. Names are in recorded
# histories: they never change.
ACT_ON_DECLARATIONS = "act_on_declarations"
DRAW_SPOT_CHECK = "draw_spot_check"
ROUND_STATISTICS = "round_statistics"
DEFENSE_SCORES = "defense_scores"
REVOKE_DECLARATION = "revoke_declaration"
RECORD_ROUND_EVENT = "record_round_event"
PREPARE_ROUND = "prepare_round"
PUBLISH_RESULT_LIST = "publish_result_list"
EVALUATION_DIGEST = "queue_evaluation_digest"


class Target(Strict):
    workflow_id: str
    payload: dict[str, Any] = Field(default_factory=dict)  # merged over the batch's payload


class DeclarationBatch(Strict):
    """One page of one coordination operation: list declarations (or take the given
    targets) and send each the same Declaration update."""

    year: int
    update: str  # a Declaration update: change_windows, supply_defense_average, committee_vote
    payload: dict[str, Any] = Field(default_factory=dict)
    listing: ListingSource = ListingSource.visibility
    stages: list[Stage] | None = None  # list the round's declarations in these stages
    open_only: bool = False  # ... or every declaration not yet ended
    targets: list[Target] | None = None  # ... or exactly these
    cursor: str | None = None
    page_size: int = Field(default=200, ge=1, le=1000)
    concurrency: int = Field(default=20, ge=1, le=200)


class BatchResult(Strict):
    cursor: str | None  # the next page; None when the listing is exhausted
    listed: int = 0
    done: int = 0
    skipped: int = 0  # refused by the declaration (wrong stage, not village-stationed, ended)
    failed: int = 0  # anything else (the operation reports them; a rerun is safe)
    outcomes: dict[str, int] = Field(default_factory=dict)
    failures: list[str] = Field(default_factory=list)
    skips: list[str] = Field(default_factory=list)
    latest: dict[str, str] = Field(default_factory=dict)  # deadline name -> latest ISO value


class StatisticsRequest(Strict):
    year: int


class DigestRequest(Strict):
    """The evaluation body's daily digest (docs/delivery.md, "The daily digest"): the
    declarations of round `year` that reached it in (`since`, `until`]."""

    year: int
    since: datetime
    until: datetime
    review_closes_at: datetime


class DigestResult(Strict):
    arrived: int  # declarations that reached the evaluation body in the period
    open: int  # declarations with it now (evaluation_review)
    queued: bool  # a message was queued (none when nothing arrived)


class DefenseScoresRequest(Strict):
    year: int


class DefenseScores(Strict):
    count: int
    scores: list[float]


class SpotCheckDraw(Strict):
    year: int
    seed: int
    ratio: Ratio
    minimum: int
    listing: ListingSource


class SpotCheckSample(Strict):
    population: int
    population_sha256: str
    sample: list[str]


class RevokeRequest(Strict):
    year: int
    workflow_id: str
    actor: Actor
    reason: str
    revoked_at: datetime
    integrity_years: int = 3


class RevokeResult(Strict):
    workflow_id: str
    applicant_key: str
    level: str
    blocked_until: date
    already_revoked: bool


class RoundEventRecord(Strict):
    chain_id: str
    round_year: int
    seq: int
    at: datetime
    actor: Actor
    action: str
    details: dict[str, Any] = Field(default_factory=dict)


class PrepareRound(Strict):
    year: int
    listing: ListingSource = ListingSource.visibility


class ResultListRequest(Strict):
    """R20: publish the result-publicity list of one committee session's batch: the passed
    among `workflow_ids` (their names and employers come from the record database)."""

    year: int
    session_id: str
    operation_id: int
    workflow_ids: list[str]
    issued_at: datetime
    starts_at: datetime
    ends_at: datetime
    working_days: int = 5

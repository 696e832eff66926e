"""The expert pool (store/experts.py, R27) on SQLite and PostgreSQL (the `database`
fixture): codes given out once, also when added at once; every change audited with its actor
and the names of the fields, never their values; related persons kept only as applicant keys;
and the pool as a committee session's draw sees it, with its conflicts."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import select

from models.committee import ConflictReason, PoolConflict, PoolSnapshotRequest
from models.experts import ImportRow
from rules.committee import pool_digest
from store.db import get_engine
from store.experts import (
    ExpertChange,
    ExpertNotFound,
    ExpertRelation,
    ImportRefused,
    add_expert,
    expert_changes,
    expert_contact,
    expert_names,
    get_expert,
    import_experts,
    list_experts,
    pool_snapshot,
    recent_cutoff,
    set_active,
    update_expert,
)
from tests.helpers.experts import SUPERVISOR, profile, uscc_of
from tests.helpers.projection import id_card, put
from tests.helpers.samples import TEST_SECRET

TODAY = date(2026, 12, 2)


async def test_codes_follow_each_other_and_the_audit_names_fields_not_values(
    database: str,
) -> None:
    engine = get_engine(database)
    first = await add_expert(engine, profile("王建国"), SUPERVISOR, TEST_SECRET, note="首批入库")
    second = await add_expert(
        engine, profile("李秀英", relations=[(id_card(1), "配偶")]), SUPERVISOR, TEST_SECRET
    )
    assert (first, second) == ("E0001", "E0002")
    view = await get_expert(engine, second)
    assert view is not None and view.relations == 1 and view.mobile == "+8613800138000"
    assert "relations" in (await expert_changes(engine, second))[0].fields

    changed = await update_expert(
        engine, first, profile("王建国", title="教授级高级工程师"), SUPERVISOR, TEST_SECRET
    )
    assert changed == ["title"]
    # the same again changes nothing and writes nothing
    assert (
        await update_expert(
            engine, first, profile("王建国", title="教授级高级工程师"), SUPERVISOR, TEST_SECRET
        )
        == []
    )
    # relations not given: kept; given: replaced as a whole
    assert await update_expert(engine, second, profile("李秀英"), SUPERVISOR, TEST_SECRET) == []
    replaced = await update_expert(
        engine, second, profile("李秀英", relations=[]), SUPERVISOR, TEST_SECRET
    )
    assert replaced == ["relations"]
    assert (await get_expert(engine, second)).relations == 0  # type: ignore[union-attr]

    assert await set_active(engine, first, False, SUPERVISOR, note="退休")
    assert not await set_active(engine, first, False, SUPERVISOR)  # already out
    with pytest.raises(ExpertNotFound):
        await set_active(engine, "E0099", True, SUPERVISOR)
    with pytest.raises(ExpertNotFound):
        await update_expert(engine, "E0099", profile(), SUPERVISOR, TEST_SECRET)

    history = await expert_changes(engine, first)
    assert [(c.action, c.fields) for c in history] == [
        (
            "created",
            [
                "name",
                "employer_uscc",
                "employer_name",
                "specialty",
                "title",
                "mobile",
                "email",
                "active",
            ],
        ),
        ("updated", ["title"]),
        ("deactivated", ["active"]),
    ]
    assert {(c.actor_role, c.actor_id) for c in history} == {("supervisor", "supervisor:zhao")}
    assert [c.note for c in history] == ["首批入库", None, "退休"]
    assert len(await expert_changes(engine)) == 5
    async with engine.connect() as conn:
        stored = " ".join(str(row) for row in await conn.execute(select(ExpertChange)))
        keys = list(await conn.scalars(select(ExpertRelation.applicant_key)))
    assert "教授级" not in stored and "王建国" not in stored  # names of fields, never values
    assert keys == []  # replaced by none

    assert [v.code for v in await list_experts(engine, active=True)] == [second]
    assert [v.code for v in await list_experts(engine, query="建国")] == [first]
    assert [v.code for v in await list_experts(engine, query="e0002")] == [second]
    assert await list_experts(engine, specialty="建筑") == []
    assert await expert_names(engine, [first, second, "E0099"]) == {
        first: "王建国",
        second: "李秀英",
    }
    contact = await expert_contact(engine, second)
    assert contact is not None and contact.email == "expert@example.com"
    assert await expert_contact(engine, "E0099") is None


async def test_the_id_card_of_a_related_person_is_never_stored(database: str) -> None:
    engine = get_engine(database)
    card = id_card(7)
    code = await add_expert(engine, profile(relations=[(card, "近亲属")]), SUPERVISOR, TEST_SECRET)
    async with engine.connect() as conn:
        rows = [tuple(r) for r in await conn.execute(select(ExpertRelation))]
        changes = [tuple(r) for r in await conn.execute(select(ExpertChange))]
    assert len(rows) == 1 and rows[0][1] == code
    assert card not in repr(rows) + repr(changes)
    assert card not in repr(profile(relations=[(card, "近亲属")]))  # nor in a log line


async def test_codes_added_at_once_are_unique(database: str) -> None:
    engine = get_engine(database)
    codes = await asyncio.gather(
        *(add_expert(engine, profile(f"专家{i}"), SUPERVISOR, TEST_SECRET) for i in range(12))
    )
    assert sorted(codes) == [f"E{i:04d}" for i in range(1, 13)]


async def test_an_import_is_all_or_nothing(database: str) -> None:
    engine = get_engine(database)
    code = await add_expert(engine, profile("王建国"), SUPERVISOR, TEST_SECRET)
    rows = [
        ImportRow(line=2, code=code, profile=profile("王建国", title="研究员")),
        ImportRow(line=3, profile=profile("新专家")),
        ImportRow(line=4, code="E0042", profile=profile("无此人")),
        ImportRow(line=5, code=code, profile=profile("王建国")),
    ]
    with pytest.raises(ImportRefused) as refused:
        await import_experts(engine, rows, SUPERVISOR, TEST_SECRET)
    assert refused.value.errors == [
        "第4行 专家编号：专家库中没有 E0042",
        "第5行 专家编号：E0001 在文件中出现了不止一次",
    ]
    assert [v.code for v in await list_experts(engine)] == [code]  # nothing written
    summary = await import_experts(engine, rows[:2], SUPERVISOR, TEST_SECRET, note="导入")
    assert summary.added == ["E0002"] and summary.updated == {code: ["title"]}
    assert [c.note for c in await expert_changes(engine)][-2:] == ["导入", "导入"]


async def test_the_pool_snapshot_finds_every_conflict(database: str) -> None:
    engine = get_engine(database)
    employer_a, employer_b = uscc_of(1), uscc_of(2)
    # declarations in the committee stage of 2026, one of another stage, one of 2025
    same_employer = await put(
        database, TEST_SECRET, "甲", serial=1, stage="committee", employer_uscc=employer_a
    )
    earlier_employer = await put(
        database, TEST_SECRET, "乙", serial=2, stage="committee", employer_uscc=employer_b
    )
    related = await put(
        database, TEST_SECRET, "丙", serial=3, stage="committee", employer_uscc=uscc_of(9)
    )
    await put(database, TEST_SECRET, "丁", serial=4, stage="defense", employer_uscc=employer_a)
    await put(
        database,
        TEST_SECRET,
        "戊",
        serial=5,
        year=2025,
        stage="committee",
        employer_uscc=employer_a,
    )
    now_at_a = await add_expert(engine, profile("现任", employer=1), SUPERVISOR, TEST_SECRET)
    left_b_recently = await add_expert(
        engine,
        profile("近三年", employer=3, past=[(2, recent_cutoff(TODAY))]),  # the last day counted
        SUPERVISOR,
        TEST_SECRET,
    )
    left_b_long_ago = await add_expert(
        engine,
        profile("三年前", employer=4, past=[(2, date(2023, 12, 1))]),
        SUPERVISOR,
        TEST_SECRET,
    )
    relative = await add_expert(
        engine,
        profile("亲属", employer=5, relations=[(related.id_card, "配偶")]),
        SUPERVISOR,
        TEST_SECRET,
    )
    other_specialty = await add_expert(
        engine, profile("建筑", employer=1, specialty="建筑"), SUPERVISOR, TEST_SECRET
    )
    inactive = await add_expert(engine, profile("退出", employer=1), SUPERVISOR, TEST_SECRET)
    await set_active(engine, inactive, False, SUPERVISOR)

    request = PoolSnapshotRequest(year=2026, specialty="光伏硅基")
    snapshot = await pool_snapshot(engine, request, TODAY)
    assert snapshot.declarations == sorted(
        [same_employer.workflow_id, earlier_employer.workflow_id, related.workflow_id]
    )
    assert snapshot.experts == [now_at_a, left_b_recently, left_b_long_ago, relative]
    assert snapshot.conflicts == sorted(
        [
            PoolConflict(
                code=now_at_a, workflow_id=same_employer.workflow_id, reason=ConflictReason.employer
            ),
            PoolConflict(
                code=left_b_recently,
                workflow_id=earlier_employer.workflow_id,
                reason=ConflictReason.employer,
            ),
            PoolConflict(
                code=relative, workflow_id=related.workflow_id, reason=ConflictReason.relation
            ),
        ],
        key=lambda c: (c.code, c.workflow_id),
    )
    assert snapshot.sha256 == pool_digest(
        snapshot.declarations, snapshot.experts, snapshot.conflicts
    )
    assert other_specialty not in snapshot.experts and inactive not in snapshot.experts
    # the same pool gives the same digest; any specialty takes every active expert
    assert (await pool_snapshot(engine, request, TODAY)).sha256 == snapshot.sha256
    everyone = await pool_snapshot(engine, PoolSnapshotRequest(year=2026), TODAY)
    assert other_specialty in everyone.experts
    # a session's own declarations, one of them not projected: its id still has its key
    unprojected = f"decl-2026-{'0' * 16}"
    given = await pool_snapshot(
        engine,
        PoolSnapshotRequest(year=2026, declarations=[related.workflow_id, unprojected]),
        TODAY,
    )
    assert given.declarations == sorted([related.workflow_id, unprojected])
    assert [(c.code, c.reason) for c in given.conflicts] == [(relative, ConflictReason.relation)]

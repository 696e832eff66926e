"""`expert list|show|add|activate|deactivate|import|export|changes`: the expert pool (R27,
store/experts.py) in the record database, for the centre's staff; the operator (the OS user,
or --actor-id) is the supervisor who changes it, on every audit row."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.common import record_errors
from cli.exits import EXIT_OK, bad_input, unavailable
from cli.output import print_json, table
from models.common import Actor, Role
from settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from models.experts import ExpertView


def operator(args: argparse.Namespace) -> Actor:
    return Actor(role=Role.supervisor, id=f"cli:{args.actor_id or getpass.getuser()}")


@asynccontextmanager
async def pool(args: argparse.Namespace, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The record database's engine; its errors as one line (cli/common.py record_errors)."""
    from sqlalchemy.exc import SQLAlchemyError

    from store.db import dispose_engines, ensure_schema, get_engine
    from store.experts import ExpertNotFound

    url = args.database_url or settings.database_url
    try:
        await ensure_schema(url)
        yield get_engine(url)
    except ExpertNotFound as exc:
        raise unavailable(f"专家库中没有 {exc.code}") from None
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc, args.database_url) from None
    finally:
        await dispose_engines(url)


def _line(view: ExpertView) -> list[str]:
    return [
        view.code,
        view.name,
        view.specialty,
        view.title,
        view.employer_name,
        "在库" if view.active else "已停用",
    ]


async def cmd_expert_list(args: argparse.Namespace, settings: Settings) -> int:
    from store.experts import list_experts

    async with pool(args, settings) as engine:
        views = await list_experts(
            engine,
            specialty=args.specialty,
            active=None if args.inactive else True,
            query=args.query,
        )
    if args.json:
        print_json([v.model_dump(mode="json") for v in views])
        return EXIT_OK
    for line in table([["编号", "姓名", "专业", "职称", "工作单位", "状态"], *map(_line, views)]):
        print(line)
    print(f"共 {len(views)} 位专家")
    return EXIT_OK


async def cmd_expert_show(args: argparse.Namespace, settings: Settings) -> int:
    from store.experts import get_expert

    async with pool(args, settings) as engine:
        view = await get_expert(engine, args.code)
    if view is None:
        raise unavailable(f"专家库中没有 {args.code}")
    print_json(view)
    return EXIT_OK


def _profile(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from models.experts import ExpertProfile

    def parts(values: list[str] | None, names: tuple[str, ...], flag: str) -> list[dict[str, str]]:
        found = []
        for value in values or []:
            items = [p.strip() for p in value.split("|")]
            if len(items) != len(names):
                raise bad_input(f"{flag} {value!r}: give {'|'.join(names)}")
            found.append(dict(zip(names, items, strict=True)))
        return found

    try:
        return ExpertProfile(
            name=args.name,
            employer_uscc=args.uscc,
            employer_name=args.employer,
            specialty=args.specialty,
            title=args.title,
            mobile=args.mobile,
            email=args.email,
            past_employers=parts(
                args.past_employer, ("uscc", "name", "left_on"), "--past-employer"
            ),
            relations=parts(args.relation, ("id_card", "relation"), "--relation") or None,
        )
    except ValidationError as exc:
        from models.validation import validation_summary

        raise bad_input(validation_summary(exc)) from None


async def cmd_expert_add(args: argparse.Namespace, settings: Settings) -> int:
    from store.experts import add_expert

    profile = _profile(args)
    async with pool(args, settings) as engine:
        code = await add_expert(
            engine, profile, operator(args), settings.applicant_key_secret, args.note
        )
    print(f"已加入专家库：{code}")
    return EXIT_OK


async def _set_active(args: argparse.Namespace, settings: Settings, active: bool) -> int:
    from store.experts import set_active

    async with pool(args, settings) as engine:
        changed = await set_active(engine, args.code, active, operator(args), args.note)
    state = "在库" if active else "已停用"
    print(f"{args.code}：{state}" if changed else f"{args.code} 已是{state}，未改动")
    return EXIT_OK


async def cmd_expert_activate(args: argparse.Namespace, settings: Settings) -> int:
    return await _set_active(args, settings, True)


async def cmd_expert_deactivate(args: argparse.Namespace, settings: Settings) -> int:
    return await _set_active(args, settings, False)


async def cmd_expert_import(args: argparse.Namespace, settings: Settings) -> int:
    from documents.expert_sheets import SheetError, read_sheet
    from store.experts import ImportRefused, import_experts

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise bad_input(f"{path}: {exc.strerror}") from None
    try:
        rows = read_sheet(data, path.name)
        async with pool(args, settings) as engine:
            summary = await import_experts(
                engine, rows, operator(args), settings.applicant_key_secret, args.note
            )
    except (SheetError, ImportRefused) as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        raise bad_input(f"{path}: 未导入任何一行（{len(exc.errors)} 处错误）") from None
    print(
        f"已导入：新增 {len(summary.added)} 位，修改 {len(summary.updated)} 位，"
        f"未变 {len(summary.unchanged)} 位"
    )
    return EXIT_OK


async def cmd_expert_export(args: argparse.Namespace, settings: Settings) -> int:
    from documents.expert_sheets import SheetError, sheet_kind, write_sheet
    from store.experts import list_experts
    from store.files import synced_temporary

    path = Path(args.file)
    try:
        kind = sheet_kind(path.name)
    except SheetError as exc:
        raise bad_input(f"{path}: give a .xlsx or .csv file name ({exc.errors[0]})") from None
    async with pool(args, settings) as engine:
        views = await list_experts(engine)
    data = write_sheet(views, kind)
    try:  # whole or not at all: written beside it, then moved into place
        os.replace(synced_temporary(path.resolve().parent, data), path)
    except OSError as exc:
        raise bad_input(f"{path}: {exc.strerror}") from None
    print(f"已导出 {len(views)} 位专家：{path}")
    return EXIT_OK


async def cmd_expert_changes(args: argparse.Namespace, settings: Settings) -> int:
    from rules.timezone import to_shanghai
    from store.experts import expert_changes

    async with pool(args, settings) as engine:
        changes = await expert_changes(engine, args.code)
    rows = [
        [
            f"{to_shanghai(c.changed_at):%Y-%m-%d %H:%M}",
            c.code,
            c.action,
            ",".join(c.fields),
            c.actor_id,
            c.note or "",
        ]
        for c in changes
    ]
    for line in table([["时间（北京时间）", "编号", "操作", "字段", "操作人", "备注"], *rows]):
        print(line)
    return EXIT_OK


HANDLERS: dict[str, Callable[[argparse.Namespace, Settings], Any]] = {
    "list": cmd_expert_list,
    "show": cmd_expert_show,
    "add": cmd_expert_add,
    "activate": cmd_expert_activate,
    "deactivate": cmd_expert_deactivate,
    "import": cmd_expert_import,
    "export": cmd_expert_export,
    "changes": cmd_expert_changes,
}

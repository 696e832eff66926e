"""`account create`: a portal account (portal/accounts.py), in the record database."""

from __future__ import annotations

import argparse
import getpass
import os

from cli.common import record_errors
from cli.exits import EXIT_OK, bad_input, refused
from settings import Settings


async def cmd_account_create(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from rules.identity import applicant_key
    from store.accounts import AccountError, create_account
    from store.db import dispose_engines, ensure_schema, get_engine

    password = args.password or os.environ.get("ZHICHENG_ACCOUNT_PASSWORD")
    if not password:
        password = getpass.getpass(f"password for {args.username}: ")
    key = sealed = None
    if args.id_card:
        from client.codec import ID_CARD_PURPOSE, FieldCipher
        from models.declaration import valid_id_card

        try:
            id_card = valid_id_card(args.id_card)
        except ValueError as exc:
            raise bad_input(f"--id-card: {exc}") from None
        key = applicant_key(id_card, settings.applicant_key_secret)
        # sealed at rest, to prefill the applicant's declaration form (docs/security.md)
        sealed = FieldCipher.from_settings(settings, ID_CARD_PURPOSE).seal(id_card, bound_to=key)
    try:
        await ensure_schema()
        created = await create_account(
            get_engine(),
            role=args.role,
            username=args.username,
            password=password,
            display_name=args.name,
            employer_uscc=args.uscc,
            applicant_key=key,
            id_card_sealed=sealed,
            expert_code=args.expert_code,
        )
    except AccountError as exc:
        raise bad_input(str(exc)) from None
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc) from None
    finally:
        await dispose_engines()
    if not created:
        raise refused("Exists", f"account {args.username!r} exists already (nothing changed)")
    print(f"account {args.username} created ({args.role})")
    return EXIT_OK

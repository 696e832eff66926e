"""`python -m portal.demo`: demo accounts for every role (scripts/run.sh), created only when
missing, and printed. The employer and applicant are bound to examples/declaration.json's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from client.codec import ID_CARD_PURPOSE, FieldCipher
from models.common import Role
from rules.identity import applicant_key
from settings import ROOT, load_settings
from store.accounts import create_account
from store.db import dispose_engines, ensure_schema, get_engine

DEMO_PASSWORD = "zhicheng-demo"  # a demo account's, printed on purpose
# A competent-unit account stands for the unit its display name names
# (portal/routers/competent_unit.py): declarations whose employer gives this `competent_unit`
# reach its queue.
DEMO_COMPETENT_UNIT = "甘泉堡经济技术开发区（工业区）管理委员会"


def demo_accounts(secret: str, id_cards: FieldCipher) -> list[dict[str, str | None]]:
    example = json.loads(Path(ROOT / "examples" / "declaration.json").read_text("utf-8"))
    applicant = example["applicant"]
    key = applicant_key(applicant["id_card"], secret)
    return [
        {"role": Role.applicant, "username": "demo-applicant", "name": applicant["name"],
         "applicant_key": key, "id_card_sealed": id_cards.seal(applicant["id_card"], key)},
        {"role": Role.employer, "username": "demo-employer", "name": applicant["employer"]["name"],
         "employer_uscc": applicant["employer"]["uscc"]},
        {"role": Role.competent_unit, "username": "demo-competent-unit",
         "name": DEMO_COMPETENT_UNIT},  # the binding: its display name
        {"role": Role.evaluation_body, "username": "demo-evaluation", "name": "评审机构审核员"},
        {"role": Role.committee, "username": "demo-committee", "name": "评委会秘书"},
        {"role": Role.supervisor, "username": "demo-supervisor", "name": "人力资源服务中心"},
    ]  # fmt: skip


async def main() -> None:
    settings = load_settings()
    await ensure_schema(settings.database_url)
    engine = get_engine(settings.database_url)
    print(f"Portal demo accounts (password {DEMO_PASSWORD!r} for those created now):")
    id_cards = FieldCipher.from_settings(settings, ID_CARD_PURPOSE)
    for spec in demo_accounts(settings.applicant_key_secret, id_cards):
        created = await create_account(
            engine,
            role=spec["role"],  # type: ignore[arg-type]
            username=str(spec["username"]),
            password=DEMO_PASSWORD,
            display_name=str(spec["name"]),
            employer_uscc=spec.get("employer_uscc"),
            applicant_key=spec.get("applicant_key"),
            id_card_sealed=spec.get("id_card_sealed"),
        )
        note = "created" if created else "exists (password unchanged)"
        print(f"  {spec['role']:<16} {spec['username']:<22} {note}")
    await dispose_engines()


if __name__ == "__main__":
    asyncio.run(main())

"""Operator and form input, checked before anything is sent: a declaration from an applicant's
file (or the portal's form), and the payload of a declaration's or a round's action. Every
mistake is named here (the worker could only say 'Failed decoding arguments').

Light on purpose: the command line's parser reads ROUND_UPDATES, and the workflow module is
imported only when an action's model is first asked for."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import ValidationError, create_model

from models.committee import SeatAnswer, SessionAction, SignIn
from models.common import Role, Strict
from models.declaration import Action, DeclarationInput
from models.round import (
    CommitteeVotes,
    DrawSpotCheck,
    OpenSession,
    RoundAction,
    RoundConfig,
    SetCommittee,
    SpotCheckResult,
    WindowChange,
)
from models.validation import strictly, unknown_name, validation_summary
from rules.actions import ACTIONS
from rules.identity import applicant_key
from store.config_files import InputError


class PayloadInvalid(InputError):
    """An action's payload that its model refuses: the one-line summary (the field's path and
    what is wrong) as the message, pydantic's errors for whoever shows them field by field."""

    def __init__(self, exc: ValidationError) -> None:
        super().__init__(validation_summary(exc))
        self.errors = exc.errors(include_url=False)


# What an operator's declaration file holds: DeclarationInput without what the system adds.
SYSTEM_FIELDS = {
    "round": "the round comes from --year and config/rounds/{year}.json",
    "applicant_key": "the key is derived from applicant.id_card",
}
# Any: mypy checks a `**dict` against every keyword parameter of create_model (__doc__,
# __config__, ...), not only **field_definitions, so no precise value type can pass.
_FILE_FIELDS: dict[str, Any] = {
    name: (info.annotation, info)
    for name, info in DeclarationInput.model_fields.items()
    if name not in SYSTEM_FIELDS
}
DeclarationFile: type[Strict] = create_model(  # derived, so the two shapes never drift apart
    "DeclarationFile", __base__=Strict, **_FILE_FIELDS
)


def declaration_file(data: Mapping[str, Any]) -> Strict:
    """The applicant's part, validated strictly (models.validation.strictly); ValidationError
    names each wrong field (the portal shows each beside its field)."""
    return strictly(DeclarationFile, dict(data))


def declaration_input(
    data: Mapping[str, Any], round_config: RoundConfig, where: str, key_secret: str
) -> DeclarationInput:
    """The workflow's input from the applicant's part (a declaration file) and the round."""
    for name, why in SYSTEM_FIELDS.items():
        if name in data:
            raise InputError(f"{where}: {name}: leave it out of the file ({why})")
    try:
        part = declaration_file(data)
    except ValidationError as exc:
        raise InputError(f"{where}: {validation_summary(exc)}") from None
    fields = dict(part)
    key = applicant_key(fields["applicant"].id_card, key_secret)
    return DeclarationInput.model_validate(fields | {"round": round_config, "applicant_key": key})


@cache
def action_models() -> dict[str, type[Action]]:
    """Each action's payload model, read from the type hint of the workflow's update handler
    of the same name: the workflow is the one source of truth for what an action carries."""
    from workflows.declaration import DeclarationWorkflow

    models: dict[str, type[Action]] = {}
    for action in ACTIONS:
        handler = getattr(DeclarationWorkflow, action, None)
        hints = typing.get_type_hints(handler) if callable(handler) else {}
        hints.pop("return", None)
        model = next(iter(hints.values()), None)
        if len(hints) != 1 or not (isinstance(model, type) and issubclass(model, Action)):
            raise RuntimeError(
                f"action {action!r}: DeclarationWorkflow has no update handler of that name "
                "taking one Action model"
            )
        models[action] = model
    return models


def action_payload(action: str, role: Role, actor_id: str, data: Mapping[str, Any]) -> Action:
    """A declaration action's update argument, with the actor."""
    return _validated_payload(action_models(), "action", action, role, actor_id, data)


# The Round workflow's updates (workflows/round.py) and the payload each takes.
ROUND_UPDATES: dict[str, type[RoundAction]] = {
    "change_windows": WindowChange,
    "supply_defense_averages": RoundAction,
    "set_committee": SetCommittee,
    "open_session": OpenSession,
    "committee_votes": CommitteeVotes,
    "draw_spot_check": DrawSpotCheck,
    "record_spot_check_result": SpotCheckResult,
    "refresh_statistics": RoundAction,
    "close": RoundAction,
}


def round_action_payload(action: str, role: Role, actor_id: str, data: Mapping[str, Any]) -> Any:
    """A round action's update argument, with the actor."""
    return _validated_payload(ROUND_UPDATES, "round action", action, role, actor_id, data)


# A committee session's updates (workflows/committee.py) and the payload each takes.
SESSION_UPDATES: dict[str, type[SessionAction]] = {
    "answer_seat": SeatAnswer,
    "sign_in": SignIn,
    "open": SessionAction,
    "close": SessionAction,
}


def session_action_payload(action: str, role: Role, actor_id: str, data: Mapping[str, Any]) -> Any:
    """A committee session action's update argument, with the actor (an expert's actor id is
    their pool code)."""
    return _validated_payload(SESSION_UPDATES, "session action", action, role, actor_id, data)


def _validated_payload(
    models: Mapping[str, type[Any]],
    kind: str,
    action: str,
    role: Role,
    actor_id: str,
    data: Mapping[str, Any],
) -> Any:
    """`data` plus the actor, validated by the action's model; every mistake is named."""
    model = models.get(action)
    if model is None:
        raise InputError(unknown_name(kind, action, models))
    if "actor" in data:
        raise InputError("actor: give it with --role and --actor-id, not in the data")
    if "signature" in data:
        raise InputError("signature: added when the action is sent (client/signing.py)")
    try:
        return strictly(model, {**data, "actor": {"role": role, "id": actor_id}})
    except ValidationError as exc:
        raise PayloadInvalid(exc) from None

"""The id every Temporal Update is sent with (docs/operations.md, "Request ids"): the server
keeps one update per id in a workflow run and answers a repeat with the first one's outcome,
without running the validator again, so a request sent twice is applied once.

- the command line makes a fresh request id per invocation (`new_request_id`), or takes the
  operator's (`checked_request_id`, for `--request-id`);
- the portal puts a fresh token in every action form (`new_form_token`) and checks the one a
  form posts (`checked_form_token`);
- the update id is a hash of who sends it, to which workflow, which action and that request
  id or token (`request_update_id`), so one account's token never names another's update and
  the id carries no personal data: update ids are in the workflow's history and the Web UI;
  an actor id such as `employer:username`, or whatever an operator typed, never appears in it;
- the round's coordination activity names its update to each declaration by the activity's
  own execution (`coordination_update_id`), which a retry of the activity keeps.

No I/O; the two generators draw from `secrets` (never called inside a workflow).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
FORM_TOKEN = re.compile(r"[0-9a-f]{32}")
DIGEST_CHARS = 40  # 160 bits of SHA-256


class BadRequestId(ValueError):
    """A request id or form token that is not one: the message says what one looks like."""


def new_request_id() -> str:
    """A fresh request id for one command-line invocation: 24 hex characters."""
    return secrets.token_hex(12)


def checked_request_id(text: str) -> str:
    """An operator's request id (`--request-id`): 1–64 of letters, digits and `. _ : -`."""
    if not REQUEST_ID.fullmatch(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise BadRequestId(
            f"{shown!r} is not a request id: 1 to 64 characters, each a letter, a digit or "
            "one of . _ : - (repeat the id an earlier run printed)"
        )
    return text


def new_form_token() -> str:
    """A fresh token for one action form as it is rendered: 32 hex characters."""
    return secrets.token_hex(16)


def checked_form_token(value: object) -> str:
    """The token a form posted (`request_token`): exactly what new_form_token makes."""
    if not isinstance(value, str) or not FORM_TOKEN.fullmatch(value):
        raise BadRequestId("the form has no request token, or a malformed one (32 hex digits)")
    return value


def _digest(*parts: str) -> str:
    """SHA-256 over the parts as a JSON array: no two different tuples share an encoding."""
    encoded = json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:DIGEST_CHARS]


def request_update_id(source: str, actor: str, workflow_id: str, action: str, request: str) -> str:
    """The update id of one person's request: `{source}-` and a hash of who (`actor`:
    `role:id`), which workflow, which action, and the request id or form token. The same
    request repeated gets the same id; another actor, workflow, action or request another.
    `source` names the sender (`cli`, `portal`): plain words, shown as they are."""
    return f"{source}-{_digest(source, actor, workflow_id, action, request)}"


def portal_update_id(actor_id: str, workflow_id: str, action: str, form_token: str) -> str:
    """The portal's update id for a form posted by the account `actor_id` (`role:username`)."""
    return request_update_id("portal", actor_id, workflow_id, action, form_token)


def cli_update_id(actor: str, workflow_id: str, action: str, request_id: str) -> str:
    """The command line's update id for an operator acting as `actor` (`role:id`)."""
    return request_update_id("cli", actor, workflow_id, action, request_id)


def coordination_update_id(
    workflow_id: str, run_id: str, activity_id: str, target_workflow_id: str, update: str
) -> str:
    """The round's update to one declaration from one page of a coordination operation: the
    page is one activity execution (the round's workflow id and run id and the activity's id,
    which every retry of it keeps; a later run of the round counts activity ids afresh, so the
    run id is part of it)."""
    return f"round-{_digest('round', workflow_id, run_id, activity_id, target_workflow_id, update)}"

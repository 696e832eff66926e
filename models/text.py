"""Text as the record database can keep it: what a person typed reaches PostgreSQL, whose text
type takes no NUL, and the pages, logs and documents, where other control characters and lone
surrogates are garbage or worse. Every model's text (models.common.Strict) is checked here, so
a bad character is refused where it enters (the command line, the portal, an update's
validator) and never half-recorded later."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

# C0 and C1 control characters except tab, line feed and carriage return (a textarea sends
# CRLF), DEL, and UTF-16 surrogates (valid in a Python str, not in UTF-8 or PostgreSQL).
UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
UNSTORABLE_TEXT = "unstorable_text"  # the error's type, for those who translate it


def unstorable_text_error(text: str) -> PydanticCustomError | None:
    """The error for the first character that cannot be stored, with its position (from 1);
    None when every character can."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    character = found.group()
    kind = "a lone surrogate" if "\ud800" <= character <= "\udfff" else "a control character"
    return PydanticCustomError(
        UNSTORABLE_TEXT,
        "contains {kind} (U+{code}) at character {position}; only line breaks and tabs are allowed",
        {"kind": kind, "code": f"{ord(character):04X}", "position": found.start() + 1},
    )


def check_storable(value: Any) -> None:
    """Raise the error of the first unstorable text in `value`: a str, or the str keys and
    values of lists, tuples, sets and dicts within it (models check their own fields)."""
    match value:
        case str():
            error = unstorable_text_error(value)
            if error is not None:
                raise error
        case BaseModel():
            return
        case dict():
            for key, item in value.items():
                check_storable(key)
                check_storable(item)
        case list() | tuple() | set() | frozenset():
            for item in value:
                check_storable(item)


def storable(text: str) -> str:
    """`text` with each unstorable character replaced by U+FFFD: for what is recorded about a
    refusal (an actor id, a message), where the refusal itself must not be lost."""
    return UNSTORABLE.sub("\ufffd", text)

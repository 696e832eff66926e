"""Validating what a person or a client sends: strictly, as the workers do (`strictly`); and
pydantic's errors as one line for a person (the field's path and the message)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

M = TypeVar("M", bound=BaseModel)


def location(loc: tuple[int | str, ...]) -> str:
    """('achievements', 0, 'kind') -> 'achievements[0].kind'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def validation_summary(exc: ValidationError) -> str:
    """The first error with its field path, and how many more: one line for an operator."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    where = location(first["loc"])
    text = f"{where}: {message}" if where else message
    if len(errors) > 1:
        more = len(errors) - 1
        text += f" (and {more} more error{'s' if more > 1 else ''})"
    return text


def strictly(model: type[M], data: Any) -> M:
    """`data` (parsed JSON, a form's values) as `model`, validated as the workers validate a
    payload (client/payloads.py): JSON types taken strictly, so "yes" is not a boolean, true
    not a number, "6" not a number. Raises ValidationError, each error at its field's path.

    Validated as Python first: that names a text that cannot be stored (models/text.py) at
    its field, where a lone surrogate could not even be written as JSON."""
    model.model_validate(data)
    return model.model_validate_json(to_json(data), strict=True)


def unknown_name(kind: str, name: str, known: Iterable[str]) -> str:
    """ "unknown action 'acept_materials'; did you mean accept_materials? known: …" — the
    closest known names first (difflib), then every one."""
    names = list(known)
    close = difflib.get_close_matches(name, names, n=2, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"unknown {kind} {name!r}; {hint}known: {', '.join(names)}"

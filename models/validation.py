"""Pydantic validation errors as one line for a person: the field's path and the message."""

from __future__ import annotations

from pydantic import ValidationError


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

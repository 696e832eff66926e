"""Payloads decoded strictly: the data converter's JSON converter, as the SDK's pydantic one but
with pydantic's strict mode, so what a workflow, an update, an activity or a query receives is
taken as it is typed: "yes" is not a boolean, true is not a number, "6" is not a number. A wrong
update argument is refused before its validator runs (the update is rejected and leaves no
event in the history); the client side checks the same way first (models.validation.strictly)
so a person is told which field is wrong before anything is sent.

Strict JSON still reads what JSON cannot carry from its usual text: datetimes, dates, enums by
value. Everything the project writes is read back the same (its serializer is the SDK's)."""

from __future__ import annotations

import functools
from typing import Any

import temporalio.api.common.v1
from pydantic import TypeAdapter, ValidationError
from temporalio.contrib.pydantic import (
    PydanticJSONPlainPayloadConverter,
    PydanticPayloadConverter,
)
from temporalio.converter import CompositePayloadConverter

from models.validation import validation_summary

CACHED_TYPE_ADAPTERS = 1024


@functools.lru_cache(maxsize=CACHED_TYPE_ADAPTERS)
def _cached_adapter(type_hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(type_hint)


def type_adapter(type_hint: Any) -> TypeAdapter[Any]:
    try:
        return _cached_adapter(type_hint)
    except TypeError:  # an unhashable hint: not cached
        return TypeAdapter(type_hint)


class InvalidPayload(ValueError):
    """A payload its type refuses, said in one line: the type, each wrong field's path and
    what is wrong, never the value (it may be personal data). The SDK wraps it ("Failed
    decoding arguments"); an update's sender finds it as that failure's cause
    (client.errors.classify: InvalidArgument)."""


class StrictJSONPayloadConverter(PydanticJSONPlainPayloadConverter):
    def from_payload(
        self, payload: temporalio.api.common.v1.Payload, type_hint: type | None = None
    ) -> Any:
        adapter = type_adapter(type_hint if type_hint is not None else Any)
        try:
            return adapter.validate_json(payload.data, strict=True)
        except ValidationError as exc:
            name = getattr(type_hint, "__name__", "payload")
            raise InvalidPayload(f"{name}: {validation_summary(exc)}") from None


class StrictPayloadConverter(CompositePayloadConverter):
    """The SDK's converters, with StrictJSONPayloadConverter for JSON."""

    def __init__(self) -> None:
        strict = StrictJSONPayloadConverter()
        super().__init__(
            *(
                strict if isinstance(c, PydanticJSONPlainPayloadConverter) else c
                for c in PydanticPayloadConverter().converters.values()
            )
        )

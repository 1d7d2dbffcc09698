"""PATCH: the fields sent, laid over the current record, then checked as a whole PUT body would be.

A PATCH body is a Struct whose fields are all optional (`UNSET` when not sent). Each field sent
replaces the record's whole value (an object such as `rollout` or `configuration` is replaced,
not merged; `null` sets null). The result is the record's complete PUT body, so it goes through
the same checks as a PUT and a PATCH can never store what a PUT would refuse.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from quote_service.errors import FieldError, ValidationFailed
from quote_service.validation import decode_hook

S = TypeVar("S", bound=msgspec.Struct)


def sent_fields(patch: msgspec.Struct) -> dict[str, Any]:
    """The fields a PATCH body sent; a 422 when it sent none (there is nothing to change)."""
    sent = {name: value for name, value in msgspec.structs.asdict(patch).items() if value is not msgspec.UNSET}
    if not sent:
        raise ValidationFailed(
            "Nothing to change: send at least one field", details=[FieldError("body", "send at least one field")]
        )
    return sent


def as_body(record: Any, body_type: type[S]) -> S:
    """A stored record (as the API shows it) as its PUT body of `body_type`."""
    return msgspec.convert(record, body_type, from_attributes=True, dec_hook=decode_hook)


def patched(record: Any, body_type: type[S], changes: dict[str, Any]) -> S:
    """The PUT body of `record` with `changes` laid over it."""
    return msgspec.structs.replace(as_body(record, body_type), **changes)

"""The `{success, message, data}` envelope of every /api/v1 response."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from quote_service.errors import FieldError

T = TypeVar("T")


class Envelope(msgspec.Struct, Generic[T], kw_only=True):
    """A successful answer."""

    success: bool = True
    message: str
    data: T


class ErrorBody(msgspec.Struct, kw_only=True):
    """The machine-readable half of an error answer."""

    code: str
    details: list[FieldError] = msgspec.field(default_factory=list)


class ErrorEnvelope(msgspec.Struct, kw_only=True):
    """A refused or failed request."""

    success: bool = False
    message: str
    error: ErrorBody


def ok(data: T, message: str = "OK") -> Envelope[T]:
    """Wrap a payload in the success envelope."""
    return Envelope(message=message, data=data)

"""Money as JSON numbers for clients of the Go service (`X-Money-Format: number`).

Responses write every money and decimal value as a string with exactly its digits ("51.00",
JPY "51", a percent "12.5") unless the request asks for numbers: then the same digits are written
as a JSON number (51.00, 51, 12.5), the Go service's wire format, so its clients decode the
answer unchanged. The choice, first that applies:

    X-Money-Format: number | string      this request (any letter case)
    the API key's money_format           chosen when the key was created (default string)
    string

Only the encoding changes: the values are the same Decimals, and requests accept both forms
always. A header with another value is a 422 naming `X-Money-Format`, before the route runs.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.serialization import default_serializer
from litestar.types import Scope, Serializer

from quote_service.auth.schemas import Principal
from quote_service.errors import invalid

HEADER = "X-Money-Format"
_HEADER_KEY = b"x-money-format"
_FORMATS = {b"number": True, b"string": False}
NUMBERS = msgspec.json.Encoder(enc_hook=default_serializer, decimal_format="number")
"""Litestar's encoder (same hook) writing Decimals as numbers."""


def header_asks_numbers(value: bytes) -> bool | None:
    """What an X-Money-Format value asks for: True numbers, False strings, None not a format."""
    return _FORMATS.get(value.strip().lower())


def wants_numbers(scope: Scope) -> bool:
    """Whether this request's answer writes money as numbers (the header, else the caller's default).

    A header that names no format counts as absent here: `check_money_format` refuses it first."""
    for name, value in scope["headers"]:
        if name == _HEADER_KEY:
            asked = header_asks_numbers(value)
            if asked is not None:
                return asked
    user = scope.get("user")
    return isinstance(user, Principal) and user.money_format == "number"


async def check_money_format(request: Request[Any, Any, Any]) -> None:
    """Refuse (422, `X-Money-Format`) a header that names no format, before the route does anything."""
    for value in request.headers.getall(HEADER, []):
        if header_asks_numbers(value.encode("latin-1")) is None:
            raise invalid(HEADER, 'must be "number" or "string"')


class MoneyResponse(Response[Any]):
    """The application's response class: JSON with money as the request asked (see module docstring)."""

    _numbers = False

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **kwargs: Any) -> Any:
        self._numbers = wants_numbers(request.scope)
        return super().to_asgi_response(app, request, **kwargs)

    def render(self, content: Any, media_type: str, enc_hook: Serializer = default_serializer) -> bytes:
        if self._numbers and media_type == MediaType.JSON and not isinstance(content, bytes | str):
            if enc_hook is default_serializer:
                return NUMBERS.encode(content)
            return msgspec.json.Encoder(enc_hook=enc_hook, decimal_format="number").encode(content)
        return super().render(content, media_type, enc_hook)

"""ExactRequest: how every JSON body is read, checked and decoded.

- Read within BODY_READ_TIMEOUT seconds (a trickled body is answered 408 and the connection
  closed); a client that hangs up mid-body raises ClientDisconnected (not a server error).
- Only JSON: a body sent as another media type (text/plain, a form) is refused with 415. A body
  without a Content-Type is read as JSON.
- Decoded strictly into the route's body type, straight from the bytes: `"quantity": "1"` is a
  422, not 1. Numbers meant as money become Decimal from the text, never through a float
  (`Any`-typed values included: `float_hook`); decimals and times are read by
  validation.decode_hook (a decimal in ASCII digits, a time the service can store).
- Malformed JSON, invalid UTF-8 and absurd nesting are a 400; text PostgreSQL cannot store
  (NUL) is a 422 naming the field — all before any handler runs.
"""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_408_REQUEST_TIMEOUT, HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types import Empty, ReceiveMessage

from quote_service.errors import FieldError, ValidationFailed
from quote_service.event_loop import running_loop
from quote_service.validation import decode_hook

MIB = 1024 * 1024
MAX_BODY_BYTES = MIB
"""The body limit of every route (Litestar's `request_max_body_size`: 413 PAYLOAD_TOO_LARGE beyond
it, by Content-Length or by the bytes streamed) but a few bulk routes, which set their own: the
largest body their documented maximum makes, pretty-printed, must fit (docs/http.md)."""
DEFAULT_BODY_READ_TIMEOUT = 10.0
# scope["state"] key: event-loop time by which the whole body must have arrived.
BODY_READ_DEADLINE = "body_read_deadline"
# Scope-state key: the lean edge (edge.py) hands a failed quote or purchase on to the controller.
EDGE_ERROR = "edge_error"
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_NUL_ESCAPE = b"\\u0000"
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.DOTALL)
_typed_decoders: dict[Any, msgspec.json.Decoder[Any] | None] = {}
T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client closed the connection before its whole body arrived."""


class ExactRequest(Request[Any, Any, Any]):
    """The application's request class (see module docstring)."""

    async def body(self) -> bytes:
        if self._body is not Empty or self._connection_state.body is not Empty:
            return await super().body()
        receive = self.receive

        async def receive_or_raise() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            return message

        self.receive = receive_or_raise
        try:
            # The lean edge (edge.py) may have started reading: the same deadline continues.
            deadline = self.scope["state"].get(BODY_READ_DEADLINE)
            if deadline is None:
                seconds = self.app.state.get("body_read_timeout", DEFAULT_BODY_READ_TIMEOUT)
                deadline = running_loop().time() + seconds
            async with asyncio.timeout_at(deadline):
                return await super().body()
        except TimeoutError as exc:
            raise HTTPException(
                "Request body not received in time",
                status_code=HTTP_408_REQUEST_TIMEOUT,
                headers={"Connection": "close"},
            ) from exc
        finally:
            self.receive = receive

    async def json(self) -> Any:
        if self._json is Empty:
            if (cached := self._connection_state.json) is not Empty:
                self._json = cached
            else:
                require_json(self.headers.get("content-type"))
                body = await self.body()
                self._json = self._connection_state.json = decode_body(body, body_decoder(self.route_handler))
        return self._json


def require_json(content_type: str | None) -> None:
    """Refuse a body declared as anything but JSON (a browser form or text/plain post is not one)."""
    if content_type is None:
        return
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json")):
        return
    raise HTTPException(
        f"Content-Type must be application/json, not {media_type or 'empty'}",
        status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    )


def body_decoder(route_handler: Any) -> msgspec.json.Decoder[Any] | None:
    """The strict decoder for a route's body (its `data` parameter), or None without one."""
    field = route_handler.parsed_fn_signature.parameters.get("data")
    return None if field is None else decoder_for(field.annotation)


def strict_decoder(body_type: type[T]) -> msgspec.json.Decoder[T]:
    """A new strict JSON decoder into `body_type` (see the module docstring)."""
    return msgspec.json.Decoder(body_type, float_hook=Decimal, dec_hook=decode_hook)


def decoder_for(body_type: Any) -> msgspec.json.Decoder[Any] | None:
    """The strict decoder into `body_type`, built once per type (None: msgspec cannot alone)."""
    try:
        return _typed_decoders[body_type]
    except KeyError:
        pass
    try:
        decoder: msgspec.json.Decoder[Any] | None = strict_decoder(body_type)
    except TypeError:  # a type msgspec cannot decode alone: Litestar converts it
        decoder = None
    _typed_decoders[body_type] = decoder
    return decoder


def decode_body(body: bytes, typed: msgspec.json.Decoder[Any] | None = None) -> Any:
    """Decode a JSON body exactly (strictly into `typed` when given); see the module docstring."""
    if typed is not None and body and _NUL_ESCAPE not in body:
        try:
            return typed.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            pass  # the general decode below says what is wrong, malformed before invalid
    value = _decode_any(body)
    if _NUL_ESCAPE in body and (paths := _nul_paths(value, "")):
        raise ValidationFailed(
            "Text must not contain the NUL character (\\u0000)",
            details=[FieldError(path or "body", "text must not contain the NUL character (\\u0000)") for path in paths],
        )
    if typed is None or value is None:
        return value  # no body: Litestar answers that one is required
    try:
        return typed.decode(body)
    except msgspec.ValidationError as exc:
        raise _invalid_body(exc) from exc
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return value


def _decode_any(body: bytes) -> Any:
    try:
        return _DECODER.decode(body or b"null")
    except msgspec.DecodeError as exc:
        raise SerializationException(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise SerializationException("invalid UTF-8 in a JSON string") from exc
    except RecursionError as exc:
        raise SerializationException("JSON nested too deeply") from exc


def _invalid_body(exc: msgspec.ValidationError) -> ValidationException:
    """msgspec's `Expected int, got str - at $.items[0].quantity` as Litestar reports body errors."""
    match = _AT_PATH.match(str(exc))
    assert match is not None  # the pattern matches any text
    entry = {"message": match["message"], "key": match["path"] or "", "source": "body"}
    return ValidationException(detail=str(exc), extra=[entry])


def _nul_paths(value: Any, path: str) -> list[str]:
    """Field paths (`items[0].name`) of every string or key holding a NUL character."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            found += [path] if "\x00" in key else _nul_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _nul_paths(item, f"{path}[{index}]")
    return found

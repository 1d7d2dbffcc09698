"""ExactRequest: JSON bodies decoded with every number that has a fraction as a Decimal.

Litestar decodes a body into Python values before converting it to the handler's Struct;
its decoder would turn `25.50` into a float first. Here fractional numbers become Decimal
straight from the text, so money never passes through a float. Bodies nested deeper than
any real payload, and text PostgreSQL cannot store (NUL), are refused before any handler runs.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any, ClassVar

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException
from litestar.types import Empty

from quote_service.errors import FieldError, ValidationFailed

_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_NUL_ESCAPE = b"\\u0000"


class ExactRequest(Request[Any, Any, Any]):
    """The application's request class (see module docstring)."""

    async def json(self) -> Any:
        if self._json is Empty:
            if (cached := self._connection_state.json) is not Empty:
                self._json = cached
            else:
                body = await self.body()
                self._json = self._connection_state.json = decode_body(body)
        return self._json


class TypedBodyRequest(ExactRequest):
    """ExactRequest for one route's body type: a valid body is decoded straight into it.

    Saves the generic decode and Litestar's dict-to-Struct conversion (which then sees the
    Struct and passes it through). Anything the typed decoder refuses — malformed, invalid,
    or merely not strict JSON for the type — takes ExactRequest's path unchanged, so every
    400/422 keeps its exact message and field path. Subclasses set `body_decoder`.
    """

    body_decoder: ClassVar[msgspec.json.Decoder[Any]]

    async def json(self) -> Any:
        if self._json is Empty:
            body = await self.body()
            if body and _NUL_ESCAPE not in body:
                with contextlib.suppress(msgspec.DecodeError):
                    self._json = self.body_decoder.decode(body)
        return await super().json()


def decode_body(body: bytes) -> Any:
    """Decode a JSON body exactly; malformed or absurdly nested JSON is a 400."""
    try:
        value = _DECODER.decode(body or b"null")
    except msgspec.DecodeError as exc:
        raise SerializationException(str(exc)) from exc
    except RecursionError as exc:
        raise SerializationException("JSON nested too deeply") from exc
    if _NUL_ESCAPE in body and (paths := _nul_paths(value, "")):
        raise ValidationFailed(
            "Text must not contain the NUL character (\\u0000)",
            details=[FieldError(path or "body", "text must not contain the NUL character (\\u0000)") for path in paths],
        )
    return value


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

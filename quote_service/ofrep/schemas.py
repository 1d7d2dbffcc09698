"""OFREP's wire shapes (docs/openfeature.md): camelCase, never the /api/v1 envelope."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

ErrorCode = Literal["FLAG_NOT_FOUND", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "PARSE_ERROR", "GENERAL"]


class Evaluation(msgspec.Struct, kw_only=True):
    """A flag evaluated: OpenFeature's resolution details. No `value` (a null one): use the code default."""

    key: str
    value: Any | UnsetType = UNSET
    reason: str
    variant: str | None
    metadata: dict[str, bool | str | int]


class Failure(msgspec.Struct, kw_only=True, rename="camel"):
    """A flag that could not be evaluated for this context, or (without `key`) a refused request."""

    key: str | UnsetType = UNSET
    error_code: ErrorCode
    error_details: str


class Bulk(msgspec.Struct, kw_only=True):
    """Every flag, evaluated for one context."""

    flags: list[Evaluation | Failure]


ENCODER = msgspec.json.Encoder(decimal_format="number")
"""NUMBER and PERCENTAGE values leave as JSON numbers with the digits they were written with."""

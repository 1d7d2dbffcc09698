"""Extension payloads (docs/extensions.md): `ExtensionInput` for POST and PUT, `ExtensionPatch`, `Extension`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.extensions import Kind, OnFailure
from quote_service.pricing.quote import CountryCode, ExternalId
from quote_service.structs import Frozen, Strict

Countries = Annotated[list[CountryCode], msgspec.Meta(min_length=1, max_length=250)]
SellerIds = Annotated[list[ExternalId], msgspec.Meta(min_length=1, max_length=1000)]
TimeoutMs = Annotated[int, msgspec.Meta(ge=50, le=1000, description="Milliseconds a call may take (50..1000).")]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]


class AppliesTo(Strict):
    """Which lines an extension prices; an absent (or null) list matches every one."""

    countries: Countries | None = None
    """ISO 3166-1 alpha-2 codes of the delivery country."""
    seller_ids: SellerIds | None = None
    """The lines' sellers."""


class ExtensionInput(Strict):
    """POST and PUT: the whole extension."""

    kind: Kind
    url: Url
    timeout_ms: TimeoutMs = 300
    applies_to: AppliesTo = AppliesTo()
    on_failure: OnFailure = "fallback"
    is_active: bool = True


class ExtensionPatch(Strict):
    """PATCH: only the fields sent change; the result is checked whole."""

    kind: Kind | UnsetType = UNSET
    url: Url | UnsetType = UNSET
    timeout_ms: TimeoutMs | UnsetType = UNSET
    applies_to: AppliesTo | UnsetType = UNSET
    on_failure: OnFailure | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET


class Extension(Frozen):
    """An extension as the API shows it; `secret` only in the answer that made it."""

    id: UUID
    kind: Kind
    url: str
    timeout_ms: int
    applies_to: AppliesTo
    on_failure: OnFailure
    is_active: bool
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime
    secret: str | UnsetType = UNSET

"""Reservation payloads: what `GET`/`DELETE /quotes/{id}/reservation` answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from quote_service.pricing.quote import ReservedLine
from quote_service.structs import Frozen

Status = Literal["held", "consumed", "released", "expired", "replaced"]


class Reservation(Frozen):
    """A quote's stock reservation and where it stands."""

    quote_id: UUID
    customer_id: str
    status: Status
    """held until `expires_at`; then consumed (by `order_id`), released, expired, or replaced (its
    units moved to the quote `replaced_by`), for good."""
    expires_at: datetime
    lines: list[ReservedLine]
    order_id: UUID | None
    """The order that consumed the units (status consumed)."""
    replaced_by: UUID | None
    """The quote that took over the units (status replaced: a quote with `replaces_quote_id`)."""
    created_at: datetime
    closed_at: datetime | None

"""Campaign payloads. Ranges are checked by the service, so a 422 names every bad field."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from quote_service.structs import Frozen, Strict
from quote_service.validation import StrictDecimal

Status = Literal["active", "ended"]


class CampaignCreate(Strict):
    name: str
    """Unique, 1-100 characters."""
    product_id: UUID
    duration_hours: int
    """1 to 720."""
    price_manipulation_limit: StrictDecimal
    """Percent, 0 < x < 100: the price moves within base x (1 -/+ limit/100)."""
    target_sales_count: int
    """Units expected over the whole campaign (> 0)."""


class Campaign(Frozen):
    id: UUID
    name: str
    product_id: UUID
    status: Status
    duration_hours: int
    price_manipulation_limit: Decimal
    target_sales: int
    total_sales: int
    turnover: Decimal
    average_item_price: Decimal | None
    """turnover / total_sales; null with no sales."""
    base_price: Decimal
    """The product's price when the campaign started; it returns there at the end."""
    current_price: Decimal
    hours_elapsed: int
    started_at: datetime
    ends_at: datetime
    ended_at: datetime | None

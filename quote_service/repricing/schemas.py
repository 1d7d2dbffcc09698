"""Inventory-repricing payloads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from quote_service.structs import Frozen

Reason = Literal["low_stock", "high_stock"]
Outcome = Literal["applied", "cooldown", "clamped", "unchanged"]


class RepricingEvent(Frozen):
    """One decision of the inventory repricer, applied or not."""

    id: int
    product_id: UUID
    reason: Reason
    stock_before: int
    stock_after: int
    old_price: Decimal
    new_price: Decimal
    """The price after the decision (equal to old_price when nothing moved)."""
    outcome: Outcome
    rule_id: UUID
    rule_version: int
    created_at: datetime

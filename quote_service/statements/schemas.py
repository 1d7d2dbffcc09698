"""Seller statement payloads: one currency per statement, money with its digits."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import msgspec


class Figures(msgspec.Struct, kw_only=True):
    """What a statement gives for the whole period and for each day."""

    orders: int
    gross_sales: Decimal
    """The seller's goods (lines after coupon discounts, no tax, no fees) in orders placed that day."""
    refunds: Decimal
    """Goods (after their discount) refunded that day, whenever ordered."""
    net_sales: Decimal
    commission_charged: Decimal
    """Seller and category commission on those orders' lines (the logistics one is not the seller's)."""
    commission_reversed: Decimal
    """Seller and category commission the day's refunds reversed."""
    net_commission: Decimal
    payout: Decimal
    """net_sales - net_commission."""


class StatementDay(Figures, kw_only=True):
    date: date
    """A local day of the statement's `tz`."""


class Statement(Figures, kw_only=True):
    seller_id: str
    currency: str | None
    """None only when the seller has nothing in the period (every amount is then 0)."""
    from_: date = msgspec.field(name="from")
    """The local date (in `tz`) of the period's first instant."""
    to: date
    """The local date (in `tz`) of the period's last instant."""
    tz: str
    """The time zone whose local days `days` are."""
    start: datetime
    """The period's first instant (UTC)."""
    end: datetime
    """The first instant after the period (UTC)."""
    days: list[StatementDay]

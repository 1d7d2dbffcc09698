"""Seller statement payloads: one currency per statement, money with its digits."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.periods import Span


class Figures(msgspec.Struct, kw_only=True):
    """What a statement gives for the whole period and for each day."""

    orders: int
    gross_sales: Decimal
    """The seller's goods (lines after coupon discounts, no tax, no fees) in orders placed that day."""
    refunds: Decimal
    """Goods (after their discount) refunded that day, whenever ordered."""
    net_sales: Decimal
    commission_charged: Decimal
    """Seller and category commission on those orders' lines, their named fees and those charged to the seller
    once per shipment or order, and the logistics commission on the seller's shipments (an order-wide logistics
    commission is not the seller's)."""
    commission_reversed: Decimal
    """The commission the day's refunds reversed."""
    net_commission: Decimal
    tax_collected: Decimal
    """The tax on those goods (added or contained): goods + tax is what the customers paid for them."""
    tax_refunded: Decimal
    """The tax the day's refunds gave back."""
    platform_contribution: Decimal
    """What the platform pays the seller for the platform-funded discounts on those goods."""
    platform_contribution_reversed: Decimal
    """The platform contribution the day's refunds took back."""
    commission_tax: Decimal
    """The tax on the commission (COMMISSION_TAX_RATE), net of what the day's refunds reversed."""
    delivery_fees: Decimal
    """The delivery fees of the seller's shipments in those orders, net of those the day's refunds gave back
    (docs/shipping.md): the seller ships its parcel and is paid its fee."""
    payout: Decimal
    """net_sales + tax_collected - tax_refunded + platform_contribution - platform_contribution_reversed
    - net_commission - commission_tax + delivery_fees."""
    fees: dict[str, Decimal] | UnsetType = UNSET
    """The named commission fees (payment_fee, platform_fee, ...) by name, net of what refunds reversed: in
    commission_charged and commission_reversed (docs/commission.md). Only in a statement with some: then on
    the whole period and on every day."""


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
    tax_collected_by_code: dict[str, Decimal] | UnsetType = UNSET
    """`tax_collected` by tax component (KDV, OTV, ...), for lines that kept their components (docs/taxes.md)."""
    tax_refunded_by_code: dict[str, Decimal] | UnsetType = UNSET
    """`tax_refunded` by tax component."""
    tax_collected_from_extensions: Decimal | UnsetType = UNSET
    """The part of `tax_collected` a tax extension answered (docs/extensions.md); absent when none did."""
    tax_refunded_from_extensions: Decimal | UnsetType = UNSET
    """The part of `tax_refunded` that gave back a tax extension's amounts."""


EntryKind = Literal["order", "refund", "edit"]


class Entry(msgspec.Struct, kw_only=True):
    """One order (its lines of the seller) or one refund (its amounts negative) in a seller's ledger."""

    kind: EntryKind
    id: UUID
    """The order's id, the refund's, or the edit's (docs/orders-and-refunds.md#edits-and-exchanges)."""
    order_id: UUID
    at: datetime
    goods: Decimal
    tax: Decimal
    platform_contribution: Decimal
    commission: Decimal
    commission_tax: Decimal
    delivery_fees: Decimal
    """The seller's shipment fee in the order (a refund: the fee it gave back, negative)."""
    payout: Decimal
    """goods + tax + platform_contribution - commission - commission_tax + delivery_fees."""
    fees: dict[str, Decimal] | UnsetType = UNSET
    """The named commission fees in `commission`, by name (a refund's negative; only on an entry with some)."""


class Ledger(Span, kw_only=True):
    """A page of a seller's ledger: the entries a statement sums, oldest first."""

    seller_id: str
    currency: str | None
    items: list[Entry]
    next_cursor: str | None

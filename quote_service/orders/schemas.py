"""Order payloads. Money is a string with exactly the currency's digits on the way out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

import msgspec

from quote_service.pricing.quote import AppliedCoupon, CommissionBreakdown, PriceSource


class OrderCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    quote_id: UUID
    """A stored, unexpired quote; the order confirms it at exactly its amounts."""


class OrderLine(msgspec.Struct, frozen=True, kw_only=True):
    product_id: str
    quantity: int
    list_unit_price: Decimal
    unit_price: Decimal
    line_subtotal: Decimal
    discount: Decimal
    tax: Decimal
    tax_rate: Decimal
    price_source: PriceSource
    flash_sale_id: UUID | None
    category_id: str | None
    seller_id: str | None
    price_list_id: UUID | None = None


class Order(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    quote_id: UUID
    customer_id: str
    status: Literal["confirmed"]
    currency: str
    subtotal: Decimal
    discount_amount: Decimal
    tax_amount: Decimal
    delivery_fee: Decimal
    small_basket_fee: Decimal
    total_amount: Decimal
    items: list[OrderLine]
    commission_breakdown: CommissionBreakdown
    applied_coupons: list[AppliedCoupon]
    created_by: str
    created_at: datetime

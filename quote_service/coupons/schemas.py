"""Coupon payloads. Amounts are Decimal in, strings with the currency's digits out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.coupons import CouponType, FundedBy, OnReducedLines
from quote_service.structs import Frozen, Strict
from quote_service.validation import Instant, StrictDecimal

Code = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=32, description="1-32 of A-Z 0-9 _ -; case-insensitive (stored upper-case)."),
]
ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, description="ISO 4217 code.")]
Limit = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]


class CouponUpdate(Strict):
    """PUT: every mutable field (the code is the coupon's identity)."""

    type: CouponType
    value: StrictDecimal | None = None
    """PERCENTAGE: percent in (0, 100]; FIXED: amount > 0 in `currency`; FREE_DELIVERY: 0 or omitted."""
    currency: Currency | None = None
    """Required for FIXED and whenever min_subtotal or max_discount is set."""
    min_subtotal: StrictDecimal | None = None
    max_discount: StrictDecimal | None = None
    category_ids: Annotated[list[ExternalId], msgspec.Meta(max_length=100)] | None = None
    product_ids: Annotated[list[ExternalId], msgspec.Meta(max_length=100)] | None = None
    """With category_ids: the lines of these products or categories take it; neither: every line."""
    valid_from: Instant
    valid_to: Instant | None = None
    usage_limit: Limit | None = None
    per_customer_limit: Limit | None = None
    is_active: bool = True
    funded_by: FundedBy = "seller"
    """Who pays the discount: the seller, or the platform (which pays the seller what the customer saved)."""
    on_reduced_lines: OnReducedLines = "stack"
    """Lines already reduced below their own price: discounted again (stack), left out (skip), or the
    lower of the two prices (best_of) (docs/promotions.md#reduced-lines)."""


class CouponCreate(CouponUpdate):
    code: Code


class Coupon(Frozen):
    code: str
    type: CouponType
    value: Decimal
    currency: str | None
    min_subtotal: Decimal | None
    max_discount: Decimal | None
    category_ids: list[str]
    valid_from: datetime
    valid_to: datetime | None
    usage_limit: int | None
    per_customer_limit: int | None
    is_active: bool
    times_used: int
    funded_by: FundedBy
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime
    product_ids: list[str] | UnsetType = UNSET
    """The products whose lines take it (absent: none named)."""
    seller_id: str | UnsetType = UNSET
    """The seller whose own coupon it is (docs/sellers.md); absent: the platform's."""
    on_reduced_lines: OnReducedLines = "stack"
    """How it treats lines already reduced below their own price (docs/promotions.md#reduced-lines)."""

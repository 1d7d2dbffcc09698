"""Promotion payloads (docs/promotions.md). Amounts are Decimal in, strings with the currency's digits out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.coupons import FundedBy, OnReducedLines
from quote_service.pricing.promotions import PromotionKind
from quote_service.structs import Frozen, Strict
from quote_service.validation import Instant, StrictDecimal

ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Ids = Annotated[list[ExternalId], msgspec.Meta(max_length=1000)]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, description="ISO 4217 code.")]
Limit = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
Priority = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]


class ConditionsInput(Strict):
    """What a basket must meet (every condition given; an empty list is no condition)."""

    min_subtotal: StrictDecimal | None = None
    """Goods before discounts, in `currency` (then required)."""
    currency: Currency | None = None
    category_ids: Ids = msgspec.field(default_factory=list)
    """With product_ids: the lines the discount goes to (some must be in the basket); empty: every line."""
    product_ids: Ids = msgspec.field(default_factory=list)
    customer_groups: Ids = msgspec.field(default_factory=list)
    customer_segments: Ids = msgspec.field(default_factory=list)
    channels: Ids = msgspec.field(default_factory=list)


class BudgetInput(Strict):
    """The most money orders may take from the promotion, in `currency` (quotes in it only)."""

    amount: StrictDecimal
    currency: Currency


class Budget(Frozen):
    amount: Decimal
    currency: str


class PromotionInput(Strict):
    """POST and PUT: the whole promotion."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: PromotionKind
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    """PERCENT_OFF {percent, max_discount?}; AMOUNT_OFF {amount, currency}; BUY_X_GET_Y {buy: {quantity,
    product_ids | category_ids}, get: {quantity, product_ids | category_ids, percent_off (100)},
    max_applications?, selection: cheapest | most_expensive}; FREE_DELIVERY {percent? | amount?, max?,
    currency?} (none: the whole fee); FIXED_PRICE_BUNDLE
    {product_ids | category_ids, quantity, price, currency}; SPEND_TIERS {tiers: [{min_subtotal,
    amount | percent}], currency}; GIFT {product_id, quantity, min_subtotal?, currency?}. Every kind
    takes distribution: proportional | even."""
    conditions: ConditionsInput = msgspec.field(default_factory=ConditionsInput)
    priority: Priority = 0
    combinable: bool = True
    combines_with_coupons: bool = True
    starts_at: Instant
    ends_at: Instant | None = None
    usage_limit: Limit | None = None
    is_active: bool = True
    funded_by: FundedBy = "seller"
    """Who pays the discount: the seller, or the platform (which pays the seller what the customer saved)."""
    group: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    """Of the eligible promotions sharing a group only the one best for the customer applies."""
    budget: BudgetInput | None = None
    per_customer_limit: Limit | None = None
    """Orders per customer_id that may use it."""
    on_reduced_lines: OnReducedLines = "stack"
    """Lines already reduced below their own price: discounted again (stack), left out (skip), or the
    lower of the two prices (best_of) (docs/promotions.md#reduced-lines)."""


class Conditions(Frozen):
    min_subtotal: Decimal | None
    currency: str | None
    category_ids: list[str]
    product_ids: list[str]
    customer_groups: list[str]
    customer_segments: list[str]
    channels: list[str]


class Promotion(Frozen):
    id: UUID
    name: str
    kind: PromotionKind
    config: dict[str, Any]
    conditions: Conditions
    priority: int
    combinable: bool
    combines_with_coupons: bool
    starts_at: datetime
    ends_at: datetime | None
    usage_limit: int | None
    times_used: int
    is_active: bool
    funded_by: FundedBy
    group: str | None
    budget: Budget | None
    budget_used: Decimal | None
    """Discounts orders took from the budget (less what cancels and refunds gave back); null without a budget."""
    budget_remaining: Decimal | None
    per_customer_limit: int | None
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime
    seller_id: str | UnsetType = UNSET
    """The seller whose own promotion it is (docs/sellers.md); absent: the platform's."""
    on_reduced_lines: OnReducedLines = "stack"
    """How it treats lines already reduced below their own price (docs/promotions.md#reduced-lines)."""

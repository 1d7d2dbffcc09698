"""Price-list payloads (docs/price-lists.md). Amounts are Decimal in, strings with the list currency's digits out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import msgspec

from quote_service.pricing.quantity_rules import QuantityRules
from quote_service.pricing.taxes import RoundingMode, TaxCalculation
from quote_service.structs import Frozen, Strict
from quote_service.validation import Instant, StrictDecimal

MAX_PRICES = 10_000
"""Prices one request may carry (POST or PUT /{id}/prices)."""

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, description="ISO 4217 code.")]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Labels = Annotated[list[Label], msgspec.Meta(max_length=100)]
Priority = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]


class PriceIn(Strict):
    product_id: str
    """A catalog product's id."""
    amount: StrictDecimal
    """The unit price (> 0, on the list currency's minor units) from `min_quantity` units on."""
    min_quantity: int = 1
    """1..10000; (product_id, offer_id, min_quantity) is unique within a list."""
    quantity_rules: QuantityRules | None = None
    """The quantity rules of the items this entry prices, in place of the product's (docs/pricing.md#quantity-rules)."""
    offer_id: str | None = None
    """An offer of the product: the entry prices only the lines sold from it (docs/offers.md); absent: the
    product's own (default) offer. Such an entry takes no quantity rules (its offer's own apply)."""


Prices = Annotated[list[PriceIn], msgspec.Meta(max_length=MAX_PRICES)]


class PriceListUpdate(Strict):
    """PUT /{id}: every field of the list but its prices."""

    name: Name
    currency: Currency
    customer_groups: Labels = []
    """Groups the list is for (case-insensitive, stored lower-case); empty: every customer."""
    channels: Labels = []
    """Channels the list is for (case-insensitive, stored lower-case); empty: every channel."""
    priority: Priority = 0
    """Higher wins; then the more specific list, then the newer one."""
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    """In effect over [starts_at, ends_at); either end may be open."""
    prices_include_tax: bool = False
    """Its amounts are gross, tax included: a line priced from it contains its tax (docs/markets.md)."""
    rounding_mode: RoundingMode | None = None
    """How a quote priced from it rounds taxes (docs/taxes.md#rounding-modes); null: ROUNDING_MODE."""
    tax_calculation: TaxCalculation | None = None
    """LINE, UNIT or INVOICE for a quote priced from it; null: TAX_CALCULATION."""


class PriceListCreate(PriceListUpdate):
    prices: Prices = []


class PricesUpsert(Strict):
    """PUT /{id}/prices: prices added, or replacing the list's price at the same (product, offer, min_quantity)."""

    prices: Prices


class Price(Frozen):
    product_id: UUID
    amount: Decimal
    min_quantity: int
    quantity_rules: QuantityRules | msgspec.UnsetType = msgspec.UNSET
    """Absent: the entry has none (the product's own apply)."""
    offer_id: UUID | msgspec.UnsetType = msgspec.UNSET
    """Absent: the entry prices the product's own (default) offer."""


class PriceList(Frozen):
    id: UUID
    name: str
    currency: str
    customer_groups: list[str]
    channels: list[str]
    priority: int
    starts_at: datetime | None
    ends_at: datetime | None
    price_count: int
    created_by: str | None
    updated_by: str | None
    created_at: datetime
    updated_at: datetime
    prices_include_tax: bool = False
    rounding_mode: str | None = None
    tax_calculation: str | None = None


class PriceListDetail(PriceList):
    """One list with every price, by product then min_quantity."""

    prices: list[Price]


class PricesUpserted(Frozen):
    price_list_id: UUID
    upserted: int
    """Prices in the request (each added or replaced)."""
    price_count: int
    """Prices the list holds now."""

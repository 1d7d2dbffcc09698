"""Catalog payloads. Money is Decimal in, a string with the currency's digits out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.quantity_rules import QuantityRules
from quote_service.structs import Frozen, Strict
from quote_service.validation import StrictDecimal

ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="Opaque client id, 1-64 chars.")]
Sku = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, description="ISO 4217 code.")]
Tags = Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]], msgspec.Meta(max_length=50)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Stock = Annotated[int, msgspec.Meta(ge=0, le=2_000_000_000)]
PriceSource = Literal["manual", "rule", "inventory", "campaign", "decision", "flash_sale", "seller"]
ProductSort = Literal["created", "catalog"]
"""The product list's orders: `created` (oldest first, the default) or `catalog` (a storefront's:
generated products last, then by category and name)."""


class _ProductFields(Strict):
    """The fields both whole bodies (POST and PUT) start with, in this order."""

    sku: Sku
    name: Name
    category_id: ExternalId
    seller_id: ExternalId
    currency: Currency
    base_price: StrictDecimal


class ProductCreate(_ProductFields):
    min_price: StrictDecimal
    current_price: StrictDecimal | None = None
    """Defaults to base_price."""
    cost_price: StrictDecimal = Decimal(0)
    stock: Stock = 0
    tags: Tags = msgspec.field(default_factory=list)
    weight: StrictDecimal | None = None
    is_active: bool = True
    prices_include_tax: bool | None = None
    """Its prices (current, base, min, flash) are gross, tax included (docs/markets.md); unset:
    CATALOG_PRICES_INCLUDE_TAX."""
    quantity_rules: QuantityRules | None = None
    """How many units an item may hold, and a customer may buy (docs/pricing.md#quantity-rules)."""


class ProductUpdate(_ProductFields):
    """PUT: every mutable field. Stock is not here: it changes only through /stock."""

    current_price: StrictDecimal
    min_price: StrictDecimal
    cost_price: StrictDecimal
    tags: Tags = msgspec.field(default_factory=list)
    weight: StrictDecimal | None = None
    is_active: bool = True
    price_change_reason: Reason | None = None
    prices_include_tax: bool | UnsetType = UNSET
    """Unset: unchanged."""
    quantity_rules: QuantityRules | UnsetType | None = UNSET
    """The whole rule set (docs/pricing.md#quantity-rules); unset: unchanged, null: none."""


class ProductPatch(Strict):
    """PATCH: only the fields given change."""

    sku: Sku | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    category_id: ExternalId | UnsetType = UNSET
    seller_id: ExternalId | UnsetType = UNSET
    currency: Currency | UnsetType = UNSET
    base_price: StrictDecimal | UnsetType = UNSET
    current_price: StrictDecimal | UnsetType = UNSET
    min_price: StrictDecimal | UnsetType = UNSET
    cost_price: StrictDecimal | UnsetType = UNSET
    tags: Tags | UnsetType = UNSET
    weight: StrictDecimal | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET
    price_change_reason: Reason | UnsetType = UNSET
    prices_include_tax: bool | UnsetType = UNSET
    quantity_rules: QuantityRules | UnsetType | None = UNSET
    """The whole rule set, replacing the one before (null: none)."""
    stock: Stock | UnsetType = UNSET
    """A seller's own product only (docs/sellers.md): the new stock, applied as one atomic adjustment.
    An admin changes stock through POST /products/{id}/stock (here: 422)."""


class ManualPrice(Strict):
    """PUT /products/{id}/price: a person moves the current price."""

    price: StrictDecimal
    """The new current_price, in the product's currency: at least min_price, within
    MAX_PRICE_CHANGE_PERCENT of the current price."""
    reason: Reason | None = None
    """Why, for the price history (default: "manual price")."""


class Product(Frozen):
    id: UUID
    sku: str
    name: str
    category_id: str
    seller_id: str
    currency: str
    base_price: Decimal
    current_price: Decimal
    min_price: Decimal | UnsetType = UNSET
    """The floor no price move goes below. Admins and service keys only: absent for a shopper."""
    cost_price: Decimal | UnsetType = UNSET
    """What the product costs the seller. Admins and service keys only: absent for a shopper."""
    stock: int
    tags: list[str]
    weight: Decimal | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
    reserved: int | UnsetType = UNSET
    """Units held now by unexpired stock reservations of quotes (`GET /products/{id}` only)."""
    available: int | UnsetType = UNSET
    """stock - reserved: what a new quote may reserve or a plain order may take (`GET /products/{id}` only)."""
    prices_include_tax: bool = False
    """Its prices are gross, tax included: a quote line priced from it contains its tax (docs/markets.md)."""
    quantity_rules: QuantityRules | UnsetType = UNSET
    """Its quantity rules (docs/pricing.md#quantity-rules); absent: it has none."""
    offer_count: int | UnsetType = UNSET
    """How many active offers other sellers have of it (docs/offers.md#in-the-product-list), as quotes
    see them; `GET /products` only, absent when there are none (a catalog without offers lists as before)."""


class PriceChange(Frozen):
    id: int
    product_id: UUID
    old_price: Decimal | None
    new_price: Decimal
    reason: str
    source: PriceSource
    actor: str
    ref_id: UUID | None
    """The pricing rule, campaign or decision that moved the price; null for manual changes."""
    changed_at: datetime


class StockAdjust(Strict):
    delta: Annotated[int, msgspec.Meta(ge=-1_000_000_000, le=1_000_000_000)]
    reason: Reason


class StockLevel(Frozen):
    product_id: UUID
    stock: int
    delta: int

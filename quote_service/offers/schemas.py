"""Offer payloads (docs/offers.md). Money is Decimal in, a string with the product currency's digits out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from msgspec import UNSET, UnsetType

from quote_service.catalog.schemas import ExternalId, Reason, Stock
from quote_service.pricing.quantity_rules import QuantityRules
from quote_service.structs import Frozen, Strict
from quote_service.validation import StrictDecimal

Condition = Literal["new", "refurbished", "used"]
OfferPriceSource = Literal["manual", "seller"]


class OfferCreate(Strict):
    product_id: UUID
    seller_id: ExternalId | None = None
    """Required for an admin; a seller's offer is its own (another seller's name: 403)."""
    current_price: StrictDecimal
    base_price: StrictDecimal | None = None
    """Defaults to current_price."""
    min_price: StrictDecimal = Decimal(0)
    cost_price: StrictDecimal = Decimal(0)
    stock: Stock = 0
    condition: Condition = "new"
    is_active: bool = True
    quantity_rules: QuantityRules | None = None
    """The offer's own quantity rules (docs/offers.md#quantity-rules); none: its product's apply."""


class OfferPatch(Strict):
    """PATCH: only the fields given change; the resulting offer is checked whole."""

    seller_id: ExternalId | UnsetType = UNSET
    """Only the offer's own seller (a seller naming another: 403)."""
    current_price: StrictDecimal | UnsetType = UNSET
    base_price: StrictDecimal | UnsetType = UNSET
    min_price: StrictDecimal | UnsetType = UNSET
    cost_price: StrictDecimal | UnsetType = UNSET
    stock: Stock | UnsetType = UNSET
    condition: Condition | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    quantity_rules: QuantityRules | UnsetType | None = UNSET
    """null removes the offer's own rules (its product's apply again)."""
    price_change_reason: Reason | UnsetType = UNSET


class Offer(Frozen):
    id: UUID
    product_id: UUID
    product_sku: str
    product_name: str
    """The offered product's SKU and name, as the catalog has them now (a seller cannot read another
    seller's product itself)."""
    seller_id: str
    currency: str
    """The product's currency (an offer has no currency of its own)."""
    current_price: Decimal
    base_price: Decimal
    min_price: Decimal | UnsetType = UNSET
    """Admins, service keys and the offer's seller only."""
    cost_price: Decimal | UnsetType = UNSET
    """Admins, service keys and the offer's seller only."""
    stock: int
    condition: Condition
    is_active: bool
    created_at: datetime
    updated_at: datetime
    quantity_rules: QuantityRules | UnsetType = UNSET
    """Only on an offer with rules of its own."""


class OfferPriceChange(Frozen):
    id: int
    offer_id: UUID
    old_price: Decimal | None
    new_price: Decimal
    reason: str
    source: OfferPriceSource
    actor: str
    changed_at: datetime


class RankedOffer(Frozen):
    """One line of GET /products/{id}/offers: what this seller's offer costs delivered."""

    offer_id: UUID | None
    """None: the product's own (default) offer."""
    seller_id: str
    is_default: bool
    currency: str
    unit_price: Decimal
    delivery_fee: Decimal
    landed_price: Decimal
    """unit_price x quantity + delivery_fee."""
    eta_days_min: int | None
    eta_days_max: int | None
    stock: int
    condition: Condition

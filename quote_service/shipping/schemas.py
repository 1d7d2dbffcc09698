"""Shipping profile payloads (docs/shipping.md). Amounts are Decimal in, strings with the currency's digits out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.quote import CountryCode, CurrencyCode, ExternalId
from quote_service.structs import Frozen, Strict
from quote_service.validation import StrictDecimal

OptionCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{1,32}\Z", description="[a-z_]{1,32}, unique in the profile")]
EtaDays = Annotated[int, msgspec.Meta(ge=0, le=365)]
City = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Countries = Annotated[list[CountryCode], msgspec.Meta(min_length=1, max_length=250)]
Regions = Annotated[list[City], msgspec.Meta(min_length=1, max_length=500)]


class ShippingOptionInput(Strict):
    """One delivery option of a profile."""

    code: OptionCode
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    base_fee: StrictDecimal
    per_kg: StrictDecimal | None = None
    """Added per kg of the shipment's weight (its products' catalog weight, else the items' `weight`)."""
    per_km: StrictDecimal | None = None
    """Added per km from the pickup to the delivery address (great-circle, as the delivery rules measure it)."""
    max_fee: StrictDecimal | None = None
    eta_days_min: EtaDays
    eta_days_max: EtaDays
    free_above: StrictDecimal | None = None
    """The option costs nothing once the shipment's goods after discounts reach this amount."""
    express: bool = False


Options = Annotated[list[ShippingOptionInput], msgspec.Meta(min_length=1, max_length=20)]


class ShippingProfileInput(Strict):
    """POST and PUT: the whole profile."""

    seller_id: ExternalId | None = None
    """null: the platform's default profile, for every seller without one of its own."""
    countries: Countries | None = None
    """ISO 3166-1 alpha-2 codes; null: every country."""
    regions: Regions | None = None
    """Cities; null: every city. A profile naming cities beats one naming countries, which beats one for everywhere."""
    currency: CurrencyCode
    options: Options
    is_active: bool = True


class ShippingProfilePatch(Strict):
    """PATCH: only the fields sent change (a list sent replaces the whole list); the result is checked whole."""

    seller_id: ExternalId | UnsetType | None = UNSET
    countries: Countries | UnsetType | None = UNSET
    regions: Regions | UnsetType | None = UNSET
    currency: CurrencyCode | UnsetType = UNSET
    options: Options | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET


class ShippingOption(Frozen):
    code: str
    name: str
    base_fee: Decimal
    per_kg: Decimal | None
    per_km: Decimal | None
    max_fee: Decimal | None
    eta_days_min: int
    eta_days_max: int
    free_above: Decimal | None
    express: bool


class ShippingProfile(Frozen):
    id: UUID
    seller_id: str | None
    countries: list[str] | None
    regions: list[str] | None
    currency: str
    options: list[ShippingOption]
    is_active: bool
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime

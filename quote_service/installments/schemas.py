"""Installment plan payloads (docs/taxes.md#installments). Amounts and rates are Decimal in, strings out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.quote import CurrencyCode
from quote_service.structs import Frozen, Strict
from quote_service.validation import StrictDecimal

BinPrefix = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6,8}\Z", description="6-8 digits: the start of a card number")]
Funder = Literal["customer", "seller", "platform"]


class InstallmentOptionInput(Strict):
    """One way to pay in parts."""

    count: Annotated[int, msgspec.Meta(ge=2, le=36)]
    rate: StrictDecimal
    """Percent of the total: the interest (0 to 100)."""
    funded_by: Funder
    seller_commission_rate: StrictDecimal | None = None
    """Seller-funded only: the percent of each seller's goods added to its commission (0 to 100)."""


Options = Annotated[list[InstallmentOptionInput], msgspec.Meta(min_length=1, max_length=36)]
Prefixes = Annotated[list[BinPrefix], msgspec.Meta(min_length=1, max_length=1000)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class InstallmentPlanInput(Strict):
    """POST and PUT: the whole plan."""

    name: Name
    bin_prefixes: Prefixes
    currency: CurrencyCode
    min_total: StrictDecimal = Decimal(0)
    options: Options
    is_active: bool = True


class InstallmentPlanPatch(Strict):
    """PATCH: only the fields sent change (a list sent replaces the whole list); the result is checked whole."""

    name: Name | UnsetType = UNSET
    bin_prefixes: Prefixes | UnsetType = UNSET
    currency: CurrencyCode | UnsetType = UNSET
    min_total: StrictDecimal | UnsetType = UNSET
    options: Options | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET


class InstallmentOptionOut(Frozen):
    count: int
    rate: Decimal
    funded_by: Funder
    seller_commission_rate: Decimal | None


class InstallmentPlan(Frozen):
    id: UUID
    name: str
    bin_prefixes: list[str]
    currency: str
    min_total: Decimal
    options: list[InstallmentOptionOut]
    is_active: bool
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime

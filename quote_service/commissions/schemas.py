"""Commission-rate payloads. Percent values and money are Decimal in, strings out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.structs import Frozen, Strict
from quote_service.validation import Instant, StrictDecimal

ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="Opaque client id, 1-64 chars.")]
Region = Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="A city or a country, any case.")]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, description="ISO 4217 code.")]
Priority = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000, description="Higher wins.")]
CommissionType = Literal["PERCENTAGE", "FLAT", "TIERED"]
Component = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[a-z][a-z0-9_]{0,31}\Z",
        description="category, seller, logistics, or a named fee ([a-z][a-z0-9_]{0,31}: payment_fee, platform_fee).",
    ),
]
Base = Literal["net", "gross", "gross_with_delivery"]
Per = Literal["unit", "line", "shipment", "order"]

MAX_TIERS = 50
MAX_BULK_ITEMS = 1000


class TierInput(Strict):
    up_to: StrictDecimal | None = None
    """Upper bound of the bracket in the rate's currency; null (or omitted) on the last, open one."""
    rate: StrictDecimal
    """Percent charged on the part of the base inside this bracket, 0-100."""


class CommissionRateInput(Strict):
    """POST and PUT body (PUT replaces every field: omitted optional ones take their defaults)."""

    component: Component | None = None
    """Which commission part the rate feeds; the parts add up. `category`: per item, one winner
    (none: DEFAULT_COMMISSION_RATE); a seller's category rate overrides here. `seller`: per item,
    one winner, added to the category part. `logistics`: per quote, on the delivery fee (FLAT: per
    order). Any other name ([a-z][a-z0-9_]{0,31}, e.g. `payment_fee`): a named fee, per item, its own
    winner, added too (docs/commission.md). Omitted: `logistics` when it names a logistics_provider,
    else `seller` when it names a seller and no category, else `category`."""
    category_id: ExternalId | None = None
    seller_id: ExternalId | None = None
    logistics_provider: ExternalId | None = None
    """Set on logistics rates only (and required there)."""
    region: Region | None = None
    commission_type: CommissionType
    rate: StrictDecimal | None = None
    """PERCENTAGE: percent 0-100. FLAT: amount per unit (`per`; per order for logistics). TIERED: must be null."""
    base: Base = "net"
    """PERCENTAGE and TIERED: what the rate is a share of: the line's `net` (after discounts, without tax), its
    `gross` (with its tax), or `gross_with_delivery` (and its share of its shipment's delivery fee)."""
    per: Per = "unit"
    """FLAT: the amount per `unit`, per `line`, once per `shipment` of the rate's seller, or once per `order`."""
    tiers: Annotated[list[TierInput], msgspec.Meta(max_length=MAX_TIERS)] | None = None
    """TIERED only: brackets with ascending `up_to`, the last one open (`up_to: null`)."""
    min_amount: StrictDecimal | None = None
    max_amount: StrictDecimal | None = None
    currency: Currency | None = None
    """The currency of the rate's amounts; it applies only to quotes in it. Required by FLAT and TIERED
    rates and by min_amount/max_amount; a PERCENTAGE rate without one applies in every currency."""
    effective_from: Instant
    effective_to: Instant | None = None
    """Exclusive end; null = open-ended."""
    is_active: bool = True
    priority: Priority = 0


REQUIRED = ("commission_type", "currency", "effective_from")
"""The fields a whole rate must have: a PUT that sends them all replaces the rate."""


class CommissionRatePatch(Strict):
    """PATCH body: only the fields sent change (each replaces the whole value; null sets null);
    the result is checked as a whole rate. Also the PUT body, the Go service's partial update:
    a PUT that leaves out commission_type, currency or effective_from is read as this PATCH."""

    component: Component | UnsetType | None = UNSET
    category_id: ExternalId | UnsetType | None = UNSET
    seller_id: ExternalId | UnsetType | None = UNSET
    logistics_provider: ExternalId | UnsetType | None = UNSET
    region: Region | UnsetType | None = UNSET
    commission_type: CommissionType | UnsetType = UNSET
    rate: StrictDecimal | UnsetType | None = UNSET
    base: Base | UnsetType = UNSET
    per: Per | UnsetType = UNSET
    tiers: Annotated[list[TierInput], msgspec.Meta(max_length=MAX_TIERS)] | UnsetType | None = UNSET
    min_amount: StrictDecimal | UnsetType | None = UNSET
    max_amount: StrictDecimal | UnsetType | None = UNSET
    currency: Currency | UnsetType | None = UNSET
    effective_from: Instant | UnsetType = UNSET
    effective_to: Instant | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET
    priority: Priority | UnsetType = UNSET


class CommissionRateBulkItem(CommissionRateInput):
    """One entry of PUT /bulk: with `id` it replaces that rate, without it creates one."""

    id: UUID | None = None


BulkEntries = Annotated[
    list[Any], msgspec.Meta(min_length=1, max_length=MAX_BULK_ITEMS, description="Each: a CommissionRateBulkItem.")
]


class CommissionRateBulk(Strict):
    """PUT /bulk body. Entries are checked one by one (shape: CommissionRateBulkItem), so every
    bad entry is reported by index; then all are applied in one transaction or none is."""

    items: BulkEntries
    """Each entry: a CommissionRateBulkItem."""


BulkBody = CommissionRateBulk | BulkEntries
"""PUT /bulk takes `{"items": [...]}` or, as the Go service does, the bare list `[...]`."""


class Tier(Frozen):
    up_to: Decimal | None
    rate: Decimal


class CommissionRate(Frozen):
    """A stored rate. `base` and `per` are shown only when not the default (net, unit): a rate that uses
    neither reads as rates always did (docs/commission.md)."""

    id: UUID
    component: Component
    category_id: str | None
    seller_id: str | None
    logistics_provider: str | None
    region: str | None
    commission_type: CommissionType
    rate: Decimal | None
    tiers: list[Tier] | None
    min_amount: Decimal | None
    max_amount: Decimal | None
    currency: str | None
    """Null: a PERCENTAGE rate that applies in every currency (docs/markets.md)."""
    effective_from: datetime
    effective_to: datetime | None
    is_active: bool
    priority: int
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime
    base: Base | UnsetType = UNSET
    per: Per | UnsetType = UNSET


class BulkResult(Frozen):
    """The rates written by PUT /bulk, in the order of the request's entries."""

    items: list[CommissionRate]
    created: int
    updated: int

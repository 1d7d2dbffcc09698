"""Flash-sale payloads (docs/flash-sales.md). Money is Decimal in, a string with the currency's digits out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.flash import SaleStatus
from quote_service.structs import Frozen, Strict
from quote_service.validation import Instant, StrictDecimal

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Count = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class FlashSaleItemIn(Strict):
    product_id: UUID | None = None
    """Required unless `offer_id` is given: an item naming only its offer sells the offer's product."""
    flash_price: StrictDecimal
    """> 0, at least the product's min_price, in the product's currency."""
    allocated_stock: Count
    """Units taken from the product's stock when the sale is created (409 when short)."""
    per_user_limit: Count
    offer_id: UUID | None = None
    """One offer of the product to sell (docs/offers.md#price-lists-and-flash-sales): its units come from
    the offer's stock and its flash price is at least the offer's min_price. None: the default offer."""


class SaleItem(FlashSaleItemIn):
    """An item as the sale keeps it: its product named (the offer's, for an item that named only its offer)."""

    product_id: UUID


Items = Annotated[list[FlashSaleItemIn], msgspec.Meta(min_length=1, max_length=100)]


class FlashSaleCreate(Strict):
    name: Name
    starts_at: Instant
    ends_at: Instant
    """After starts_at and in the future."""
    items: Items


class FlashSaleUpdate(Strict):
    """PUT: the fields given are changed. While scheduled any of them; while active only ends_at."""

    name: Name | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    items: Items | None = None
    """Replaces every item; allocations are re-taken from (and given back to) product stock."""


class FlashSaleItem(Frozen):
    product_id: UUID
    flash_price: Decimal
    currency: str
    allocated_stock: int
    remaining_stock: int
    """Live, from the sale's counters; 0 once the sale has ended (unsold units went back to the product)."""
    per_user_limit: int
    offer_id: UUID | UnsetType = UNSET
    """Shown only for an item naming one offer."""


class FlashSale(Frozen):
    id: UUID
    name: str
    status: SaleStatus
    """In force now: also follows the clock (scheduled → active at starts_at, ended at ends_at)."""
    starts_at: datetime
    ends_at: datetime
    items: list[FlashSaleItem]
    created_by: str
    created_at: datetime
    updated_at: datetime


class PurchaseCreate(Strict):
    product_id: UUID | None = None
    """Required unless `offer_id` is given: naming only the offer buys the sale's item of that offer."""
    quantity: Count
    expected_unit_price: StrictDecimal | None = None
    """When given and different from the sale's price: 409 PRICE_CHANGED, nothing sold."""
    customer_id: ExternalId | None = None
    """Required for API keys; a user buys for itself (its user id)."""
    offer_id: UUID | None = None
    """The sale's item for this offer of the product (None: the item without offer_id)."""


class Purchase(Frozen):
    purchase_id: UUID
    flash_sale_id: UUID
    product_id: UUID
    customer_id: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    """What the customer was charged: the purchase's order's `total_amount` (docs/flash-sales.md#a-purchase-
    is-an-order). For units bought by ordering a quote, and purchases made before purchases were orders, the
    units at the flash price (`quantity` times `unit_price`)."""
    currency: str
    status: Literal["confirmed"]
    created_at: datetime
    order_id: UUID | None = None
    """The order that records the units: the purchase's own order, or the order of the quote that bought them
    (null: a purchase made before purchases were orders)."""
    offer_id: UUID | UnsetType = UNSET
    """The offer bought (only for an item naming one)."""
    # The purchase's order's money, as the order reads it (only with an order of its own):
    # total = subtotal - discount_amount + tax_amount + delivery_fee + small_basket_fee.
    subtotal: Decimal | UnsetType = UNSET
    discount_amount: Decimal | UnsetType = UNSET
    tax_amount: Decimal | UnsetType = UNSET
    """Tax added to the flash price (a net price)."""
    tax_included: Decimal | UnsetType = UNSET
    """Tax contained in a tax-inclusive flash price (shown when there is some)."""
    delivery_fee: Decimal | UnsetType = UNSET
    small_basket_fee: Decimal | UnsetType = UNSET


class OwnPurchase(Purchase):
    """A purchase in its customer's own list, with the names a receipt shows."""

    sale_name: str
    product_name: str


class CustomerItem(Frozen):
    product_id: UUID
    purchased: int
    remaining_limit: int
    offer_id: UUID | UnsetType = UNSET
    """Only for an item naming one offer."""


class CustomerPurchases(Frozen):
    items: list[CustomerItem]


class Correction(Frozen):
    """One counter that differed from the ledger (and now matches it)."""

    product_id: UUID
    customer_id: str | None
    """None for the product's remaining stock."""
    counter: Literal["remaining_stock", "purchased"]
    redis: int | None
    """What Redis held (None: missing)."""
    ledger: int
    offer_id: UUID | UnsetType = UNSET
    """Only for an item naming one offer."""


class ReconcileReport(Frozen):
    flash_sale_id: UUID
    counters_were_missing: bool
    corrections: list[Correction]
    summaries_refreshed: bool


class SaleStats(Frozen):
    """Background summary of a sale, recomputed from the ledger (see `computed_at`)."""

    flash_sale_id: UUID
    purchases: int
    units_sold: int
    revenue: dict[str, Decimal]
    """By currency."""
    buyers: int
    unique_viewers: int
    conversion_rate: Decimal | None
    """buyers / unique_viewers, in percent; None before anyone viewed the sale."""
    attempts: dict[str, int]
    """Purchase attempts by outcome at Redis (RESERVED, SOLD_OUT, PURCHASE_LIMIT_EXCEEDED, SALE_NOT_ACTIVE,
    RELEASED: units taken then given back because the order did not commit or the purchase was not recorded)."""
    computed_at: datetime

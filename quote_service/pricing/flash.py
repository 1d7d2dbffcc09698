"""Flash sales as configuration: definitions, the status the clock gives them, offers.

A sale's stored status moves `scheduled → active → ended` by admin action or by the
scheduler; the status anyone sees also follows the clock, so a reader never depends on
the scheduler's timing:

    ended      stored ended, or now >= ends_at
    active     stored active, or now >= starts_at
    scheduled  otherwise

The live counters (remaining stock, units each customer bought) are not here: they live in
Redis and are read per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

import msgspec

SaleStatus = Literal["scheduled", "active", "ended"]


def slot(product_id: UUID | str, offer_id: UUID | None) -> str:
    """An item's name among a sale's counters and a quote's flash inputs: the product's id for its default
    offer (as ever), `<product>/<offer>` for an item naming one offer (docs/offers.md#price-lists-and-flash-sales)."""
    return str(product_id) if offer_id is None else f"{product_id}/{offer_id}"


def parse_slot(text: str) -> tuple[UUID, UUID | None]:
    """`slot`'s (product, offer)."""
    product, _, offer = text.partition("/")
    return UUID(product), UUID(offer) if offer else None


class FlashItem(msgspec.Struct, frozen=True, kw_only=True):
    """One product in a sale: its default offer, or one offer of it (`offer_id`)."""

    product_id: UUID
    flash_price: Decimal
    allocated_stock: int
    per_user_limit: int
    currency: str
    """The product's currency: the flash price is in it."""
    offer_id: UUID | None = None
    """The offer the item sells (None: the product's default offer)."""

    @property
    def slot(self) -> str:
        return slot(self.product_id, self.offer_id)


class FlashSale(msgspec.Struct, frozen=True, kw_only=True):
    """A sale's definition (no live counters)."""

    id: UUID
    name: str
    status: SaleStatus
    """As stored; see `status_at` for the status in force."""
    starts_at: datetime
    ends_at: datetime
    items: tuple[FlashItem, ...]

    def status_at(self, now: datetime) -> SaleStatus:
        """The status in force at `now` (module docstring)."""
        return effective_status(self.status, self.starts_at, self.ends_at, now)

    def item(self, product_id: UUID | None, offer_id: UUID | None = None) -> FlashItem | None:
        """The item selling `offer_id` of the product (None: its default offer); `product_id` None: the item
        of `offer_id`, whichever product the offer sells (a purchase may name the offer alone)."""
        if product_id is None and offer_id is None:
            return None
        for item in self.items:
            if item.offer_id == offer_id and product_id in (None, item.product_id):
                return item
        return None


def effective_status(stored: SaleStatus, starts_at: datetime, ends_at: datetime, now: datetime) -> SaleStatus:
    """The status in force at `now` for a sale stored as `stored` with this window."""
    if stored == "ended" or now >= ends_at:
        return "ended"
    if stored == "active" or now >= starts_at:
        return "active"
    return "scheduled"


class FlashSaleBook:
    """Every sale a snapshot knows (not yet ended, or ended recently), by id and by product."""

    __slots__ = ("_by_product", "by_id")

    def __init__(self, sales: Iterable[FlashSale] = ()) -> None:
        self.by_id: dict[UUID, FlashSale] = {sale.id: sale for sale in sales}
        by_product: dict[str, list[tuple[FlashSale, FlashItem]]] = {}
        for sale in self.by_id.values():
            for item in sale.items:
                by_product.setdefault(str(item.product_id), []).append((sale, item))
        self._by_product = {key: tuple(pairs) for key, pairs in by_product.items()}

    def __len__(self) -> int:
        return len(self.by_id)

    def active_for(self, product_id: str, now: datetime) -> tuple[FlashSale, FlashItem] | None:
        """The sale active at `now` that sells `product_id`'s default offer (windows of one product's offer
        never overlap)."""
        for sale, item in self._by_product.get(product_id, ()):
            if item.offer_id is None and sale.status_at(now) == "active":
                return sale, item
        return None

    def active_items(self, product_id: str, now: datetime) -> list[tuple[FlashSale, FlashItem]]:
        """Every item active at `now` on `product_id`: at most one per offer (its default one included)."""
        return [(sale, item) for sale, item in self._by_product.get(product_id, ()) if sale.status_at(now) == "active"]

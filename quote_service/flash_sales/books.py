"""A "Buy now" purchase in the books: the order it is (docs/flash-sales.md#a-purchase-is-an-order).

A purchase is an order for everything that counts money — its tax, the seller's commission, the
seller's statement and ledger, analytics, the `order.created` webhook, refunds — so the purchase path
(purchases.py) writes one in the transaction of its ledger row: the purchase priced as a one-line quote
by its customer at the flash price (the quote engine, as `POST /quote` would price it), and written as
`POST /orders` writes a quote it confirms. Both belong to rooms above this one (quotes, orders:
docs/architecture.md#layers), so the purchase path names what it needs as `Books`, and
`orders/flash_orders.py` provides it (wired by orders/plugin.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, Protocol
from uuid import UUID

import msgspec
from msgspec import UnsetType

from quote_service.auth.schemas import Principal
from quote_service.db.pool import Connection
from quote_service.flash_sales.schemas import Purchase
from quote_service.pricing import money
from quote_service.pricing.flash import FlashItem
from quote_service.pricing.quote import Quote


class Books(Protocol):
    """Prices a purchase and writes it as an order."""

    async def price(
        self, sale_id: UUID, item: FlashItem, quantity: int, *, customer: str, principal: Principal, now: datetime
    ) -> Quote:
        """The one-line quote the purchase is: `quantity` units of `item`, all at its flash price, for
        `customer` (bought by `principal`), at `now`; stored nowhere."""
        ...

    async def write(
        self,
        conn: Connection,
        quote: Quote,
        *,
        sale_id: UUID,
        purchase_id: UUID,
        principal: Principal,
        request_hash: bytes,
        now: datetime,
    ) -> UUID:
        """Write `quote` as the order of purchase `purchase_id`, in `conn`'s transaction; the order's id."""
        ...


class Charged(NamedTuple):
    """What a purchase's order charged: its quote's amounts, as the order keeps them."""

    subtotal: Decimal
    discount_amount: Decimal
    tax_amount: Decimal
    tax_included: Decimal
    delivery_fee: Decimal
    small_basket_fee: Decimal
    total: Decimal


def charged_by(quote: Quote) -> Charged:
    """The amounts of the quote a purchase's order was written from."""
    included = quote.tax_included
    return Charged(
        subtotal=quote.subtotal,
        discount_amount=quote.discount_amount,
        tax_amount=quote.tax_amount,
        tax_included=money.ZERO if isinstance(included, UnsetType) else included,
        delivery_fee=quote.delivery_fee,
        small_basket_fee=quote.small_basket_fee,
        total=quote.total_amount,
    )


def charged(purchase: Purchase, amounts: Charged) -> Purchase:
    """`purchase` with its order's money (`total` the order's `total_amount`), each with the currency's
    digits; `tax_included` only for a tax-inclusive flash price."""
    currency = purchase.currency
    shown = {name: money.round_money(amount, currency) for name, amount in amounts._asdict().items()}
    if not amounts.tax_included:
        del shown["tax_included"]
    return msgspec.structs.replace(purchase, **shown)

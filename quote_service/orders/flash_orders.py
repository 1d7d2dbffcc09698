"""The order a flash "Buy now" purchase is (docs/flash-sales.md#a-purchase-is-an-order): the `Books` the
purchase path (flash_sales/purchases.py) prices and writes each purchase with.

No second pricing path and no second order writer: the purchase is priced by the quote engine as a
one-line quote of its customer would be (`QuoteService.price_one`, with the units the purchase took from
the sale as its flash offer, so every unit is at the flash price), with no delivery place, as the store's
card prices the product; and written by `service.write_flash_order`, as `POST /orders` writes the quote it
confirms. So its tax follows the product's TAX_RATE rules and tax-inclusive setting, its commission the
seller's rates (with COMMISSION_TAX_RATE), and its delivery and small-basket fees the rules a quote
delivering nowhere in particular meets; the seller's statement and ledger, analytics, `order.created`,
refunds and cancels then see an order like any other.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from quote_service.auth.schemas import Principal
from quote_service.db.pool import Connection
from quote_service.errors import NotFound
from quote_service.orders import service
from quote_service.orders.terms import TermsRecorder
from quote_service.pricing.flash import FlashItem
from quote_service.pricing.quote import Address, CustomerContext, FlashOffer, Quote, QuoteItemIn, QuoteRequest
from quote_service.quotes import policy
from quote_service.quotes.service import QuoteService
from quote_service.web.deps import actor_name

KEY_PREFIX = "flash-purchase:"
"""The order's own Idempotency-Key: `flash-purchase:<purchase id>` (the purchase's key is the ledger's)."""


class FlashOrders:
    """Prices flash purchases with the quote path's engine and inputs, and writes their orders."""

    def __init__(
        self, quotes: QuoteService, *, commission_tax_rate: Decimal, terms: TermsRecorder | None = None
    ) -> None:
        self.quotes = quotes
        self.commission_tax_rate = commission_tax_rate
        self.terms = terms
        """Records each purchase's order's own terms (docs/orders-and-refunds.md#the-orders-own-terms)."""

    async def price(
        self, sale_id: UUID, item: FlashItem, quantity: int, *, customer: str, principal: Principal, now: datetime
    ) -> Quote:
        """`quantity` units of `item` at its flash price, for `customer`, as a one-line quote; an agent key's
        says whose it is, as its quotes do (`channel: agent`, `agent`: docs/agents.md#quotes-and-orders), so
        the purchase's order carries the agent as an order placed from its quote does."""
        product = await self.quotes.catalog_product(item.product_id)
        if product is None:
            raise NotFound(f"product {item.product_id} not found")
        offer = FlashOffer(
            flash_sale_id=sale_id,
            product_id=item.product_id,
            flash_price=item.flash_price,
            remaining_stock=quantity,
            customer_remaining_limit=quantity,
        )
        quote = await self.quotes.price_one(
            product, quantity, _customer(principal, customer, product.currency), region=None, offer=offer,
            offer_id=item.offer_id, now=now,
        )  # fmt: skip
        return quote

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
        """The purchase's order, in `conn`'s transaction (with its `order.created`); its id."""
        bought = service.FlashPurchase(flash_sale_id=sale_id, purchase_id=purchase_id)
        placing = service.Placing(
            principal, actor_name(principal), f"{KEY_PREFIX}{purchase_id}", request_hash, now, self.commission_tax_rate,
            self.terms, bought,
        )  # fmt: skip
        return await service.write_flash_order(conn, quote, placing)


def _customer(principal: Principal, customer: str, currency: str) -> CustomerContext:
    """Whom the purchase is priced for: as a quote `principal` made for `customer` would be (a shopper at
    its own tier, segment and group; a service key's customer at the key's group)."""
    request = QuoteRequest(
        customer_id=customer,
        items=[QuoteItemIn(product_id="", quantity=1)],
        delivery_address=Address(city="", country=""),
        currency=currency,
    )
    tier, segment = policy.customer_profile(request, principal)
    return CustomerContext(
        customer_id=customer,
        tier=tier,
        segment=segment,
        customer_group=policy.customer_group(request, principal),
        agent=policy.agent_of(principal),
    )

"""Orders' registrations: the routes, and the flash-sale purchase path, whose purchases are orders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.flash_sales.purchases import Purchases
from quote_service.flash_sales.service import FlashSales
from quote_service.orders.controller import OrderController
from quote_service.orders.flash_orders import FlashOrders
from quote_service.orders.terms import TermsRecorder
from quote_service.quotes.service import QuoteService
from quote_service.web.domain import Domain, Startup

ORDERS = Domain(name="orders", routes=[OrderController])


async def start_purchases(ctx: Startup) -> Mapping[str, Any]:
    books = FlashOrders(
        ctx.state.quotes, commission_tax_rate=ctx.settings.commission_tax_rate, terms=ctx.state.order_terms
    )
    purchases = Purchases(ctx.state.flash_sales, books)
    # Before the pool and Redis close: ledger writes whose client left still finish.
    ctx.on_stop("flash purchases", purchases.drain)
    return {"purchases": purchases}


FLASH_PURCHASES = Domain(
    name="flash_purchases",
    provides={"purchases": Purchases},
    requires={"flash_sales": FlashSales, "quotes": QuoteService, "order_terms": TermsRecorder},
    start=start_purchases,
)
"""The purchase path (flash_sales/purchases.py) with its books (flash_orders.py): each purchase is priced
by the quote engine and written as an order, so it starts after quotes (docs/flash-sales.md#a-purchase-is-an-order)."""

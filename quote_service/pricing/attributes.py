"""What a quote tells flag rules about itself: the attributes of its evaluation context (docs/flags.md).

`customer_id, customer_tier, customer_segment, customer_group, channel, city, country, currency,
subtotal, item_count` and `context.<field>` for each field of the request's `context`. The
customer's tier, segment and group are those the quote is priced at (a `user` caller's come from
its account; a service key's group is its own), the channel the request's. `subtotal`
is the basket at list prices: each item's catalog price (or its `unit_price` when the catalog
does not price it) times its quantity, rounded to the currency's minor unit per item, before
flash sales, price rules and coupons (flags decide whether price rules apply, so they cannot
read a price the rules made). `item_count` is the number of units (the sum of the quantities).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from quote_service.pricing.quote import CatalogProduct, CustomerContext, QuoteRequest

CONTEXT_PREFIX = "context."


def _subtotal(request: QuoteRequest, products: Mapping[str, CatalogProduct], cent: Decimal) -> Decimal:
    total = Decimal(0)
    for item in request.items:
        product = products.get(item.product_id)
        price = product.current_price if product is not None and product.is_active else item.unit_price
        if price is not None and price.is_finite():  # an unusable price is refused by the lines step
            total += (price * item.quantity).quantize(cent, ROUND_HALF_UP)
    return total


def quote_attributes(
    request: QuoteRequest,
    customer: CustomerContext,
    products: Mapping[str, CatalogProduct],
    *,
    currency: str,
    cent: Decimal,
    wanted: tuple[str, ...],
) -> dict[str, Any]:
    """The attributes named in `wanted` that this quote has (absent ones are left out)."""
    found: dict[str, Any] = {}
    address = request.delivery_address
    context = request.context
    for name in wanted:
        value: Any = None
        if name == "customer_id":
            value = customer.customer_id or None  # an anonymous price look-up has none
        elif name == "customer_tier":
            value = customer.tier
        elif name == "customer_segment":
            value = customer.segment
        elif name == "customer_group":
            value = customer.customer_group
        elif name == "channel":
            value = request.channel
        elif name == "city":
            value = address.city
        elif name == "country":
            value = address.country
        elif name == "currency":
            value = currency
        elif name == "subtotal":
            value = _subtotal(request, products, cent)
        elif name == "item_count":
            value = sum(item.quantity for item in request.items)
        elif name.startswith(CONTEXT_PREFIX) and context is not None:
            field = name[len(CONTEXT_PREFIX) :]
            value = getattr(context, field, None) if field in context.__struct_fields__ else None
        if value is not None:
            found[name] = value
    return found

"""A quote's items against their quantity rules (docs/pricing.md#quantity-rules), before it is priced.

Asked only for a basket that names a product under some rule (the snapshot's `QuantityBook.ruled`):
any other quote pays one `is None` test, or a membership test per item, and no call. An item sold from
another seller's offer is checked against the offer the quote chose (docs/offers.md#quantity-rules). The
customer's units of the basket's products and offers under a max_per_customer rule come from the counters;
should they refuse an item, PostgreSQL is asked before the quote is refused (a counter may be
behind a cancel), and the items are checked again on its units.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from quote_service.errors import QuantityRuleBroken
from quote_service.pricing.offers import Choice, choose_offers
from quote_service.pricing.plan import RegionPlan
from quote_service.pricing.price_lists import label
from quote_service.pricing.quantity_book import QuantityBook, accepting, check_quantities, limited_keys
from quote_service.pricing.quantity_rules import QuantityProblem
from quote_service.pricing.quote import CatalogProduct, CustomerContext, QuantityLimit, QuoteRequest
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.unit_limits.service import UnitPurchases


async def checked_quantities(
    request: QuoteRequest,
    products: Mapping[str, CatalogProduct],
    customer: CustomerContext,
    snapshot: ConfigSnapshot,
    book: QuantityBook,
    purchases: UnitPurchases | None,
    now: datetime,
    choices: Sequence[Choice | None] | None = None,
) -> tuple[CustomerContext, list[QuantityLimit]]:
    """`customer` with its units of the basket's limited products and offers, and the per-customer limits
    the quote is under; raises QuantityRuleBroken (422) naming every item that breaks its rules.
    `choices`: each item's offer, chosen before (None: no item has one)."""
    limited = limited_keys(request, book, choices)
    bought: dict[str, list[tuple[int, int]]] = {}
    if limited and purchases is not None:
        bought = await purchases.read(request.customer_id, limited)

    def check(bought: dict[str, list[tuple[int, int]]]) -> tuple[list[QuantityProblem], list[QuantityLimit]]:
        return _checked(request, products, customer, snapshot, book, bought, now, choices)

    problems, limits = check(bought)
    # Refused on the counters' word for units bought before: PostgreSQL says whether they still hold.
    if any(p.remaining_for_customer is not None for p in problems) and any(bought.values()):
        assert purchases is not None
        bought = await purchases.confirm(request.customer_id, limited, now)
        problems, limits = check(bought)
    if problems:
        raise QuantityRuleBroken(
            "quantity rules: " + "; ".join(f"{p.field} {p.message}" for p in problems), details=problems
        )
    if bought:
        customer = msgspec.structs.replace(customer, unit_purchases=bought)
    return customer, limits


Bought = Callable[[list[str]], Awaitable[Mapping[str, Sequence[tuple[int, int]]]]]
"""Reads a customer's units of these limit keys (`QuantityLimit.key`): (epoch second, units) per key."""


async def basket_quantities(
    request: QuoteRequest,
    products: Mapping[str, CatalogProduct],
    customer: CustomerContext,
    snapshot: ConfigSnapshot,
    offer_ids: Sequence[UUID | None],
    bought: Bought,
    now: datetime,
) -> tuple[list[QuantityProblem], list[QuantityLimit]]:
    """A basket whose items' offers are already known (an order edit's: each line's `offer_ids`, None for a
    product's own offer) against `snapshot`'s quantity rules, as `checked_quantities` checks a quote's items:
    the problems (unraised: the caller says which it refuses, and names its own fields) and the per-customer
    limits. `bought` reads the customer's units, from its other orders for an edit."""
    book = snapshot.quantity_rules
    if book is None or not any(item.product_id in book.ruled for item in request.items):
        return [], []
    offers = snapshot.offers.by_id if snapshot.offers is not None else {}
    choices: list[Choice | None] = []
    for offer_id in offer_ids:
        offer = None if offer_id is None else offers.get(str(offer_id))
        choices.append(None if offer is None else Choice(offer, offer.seller_id, "named"))
    limited = limited_keys(request, book, choices)
    return _checked(request, products, customer, snapshot, book, await bought(limited) if limited else {}, now, choices)


def _checked(
    request: QuoteRequest,
    products: Mapping[str, CatalogProduct],
    customer: CustomerContext,
    snapshot: ConfigSnapshot,
    book: QuantityBook,
    bought: Mapping[str, Sequence[tuple[int, int]]],
    now: datetime,
    choices: Sequence[Choice | None] | None,
) -> tuple[list[QuantityProblem], list[QuantityLimit]]:
    """`check_quantities` with the price list, customer group and channel the engine selects by."""
    currency = request.currency.upper()
    prices = snapshot.price_lists
    return check_quantities(
        request,
        products,
        book,
        price_lists=prices if currency in prices.currencies else None,
        currency=currency,
        customer_group=label(customer.customer_group),
        channel=label(request.channel),
        purchases=bought,
        now=now,
        choices=choices,
    )


def offers_under_rules(
    request: QuoteRequest,
    products: Mapping[str, CatalogProduct],
    customer: CustomerContext,
    snapshot: ConfigSnapshot,
    book: QuantityBook,
    region: RegionPlan,
    now: datetime,
) -> list[Choice | None] | None:
    """Each item's offer for a basket under quantity rules that holds a product with offers, chosen before
    its rules are checked: the best landed choice keeps to the offers whose item rules accept the item's
    quantity (docs/offers.md#quantity-rules)."""
    currency = request.currency.upper()
    prices = snapshot.price_lists
    accepts = accepting(
        book,
        price_lists=prices if currency in prices.currencies else None,
        currency=currency,
        customer_group=label(customer.customer_group),
        channel=label(request.channel),
        now=now,
    )
    return choose_offers(request, products, snapshot.offers, region, snapshot.shipping, accepts)

"""Prior prices of announced reductions (docs/markets.md#prior-price-for-announced-reductions), an input of the
quote engine and one of its steps. Pure.

A line that a flash sale, an automatic promotion or a campaign reduces shows when the reduction began
(`reduction_started_at`: the earliest of its sale's start, the starts of the applied promotions that can
discount it, and when its campaign first moved its catalog price) and the lowest catalog price in the 30 days
before (`prior_price`, from the price history). Which promotions apply is known only once the quote is priced, so
the history is read before pricing for every start a line COULD have (`wanted_history`: its sale's, its
campaign's, each promotion's that names its product, its category or neither), and the engine's step
(`prior_lines`) picks the one it has. The history of a (product, start) never changes, so the quote service
remembers it (quotes/prior_prices.py): a warm quote reads nothing.

The promotions are indexed once per configuration snapshot (`promotions.Reductions`, on the promotion book): a
line looks up the few promotions applied, never scans the book.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from msgspec import UNSET
from msgspec.structs import replace

from quote_service.pricing.money import round_money

if TYPE_CHECKING:
    from quote_service.pricing.flash import FlashSaleBook
    from quote_service.pricing.offers import Choice
    from quote_service.pricing.promotions import Reducer, Reductions
    from quote_service.pricing.quote import (
        AppliedPromotion,
        CatalogProduct,
        FlashOffer,
        QuoteItemIn,
        QuoteLine,
    )
    from quote_service.pricing.snapshot import ConfigSnapshot

PriorKey = tuple[str, datetime]
"""(the product's id as the request names it, or an offer's id as text; the reduction's start)."""
PriorTable = Mapping[PriorKey, Decimal | None]
"""The lowest price in the 30 days before each start (None: no history then)."""
Wanted = dict[str, frozenset[datetime]]
"""The starts whose prior price a quote may need, per product (or per offer)."""

_NONE: frozenset[datetime] = frozenset()


def started_at(
    reducers: Sequence[Reducer],
    product_id: str,
    category_id: str | None,
    flash_start: datetime | None,
    campaign_since: datetime | None,
) -> datetime | None:
    """When the reduction of a line began: the earliest of `campaign_since`, its flash sale's start and the starts
    of `reducers` that can discount it (the first of equal ones, in that order); None when none reduces it."""
    started = campaign_since
    if flash_start is not None and (started is None or flash_start < started):
        started = flash_start
    for _, start, products, categories, names_none in reducers:
        if (names_none or product_id in products or category_id in categories) and (started is None or start < started):
            started = start
    return started


Earliest = tuple[datetime, int]
"""A reducer's start and its place among the applied ones (the first of equal starts wins)."""


def earliest_by_target(
    reducers: Sequence[Reducer],
) -> tuple[Earliest | None, dict[str, Earliest], dict[str, Earliest]]:
    """`reducers` (in the book's order) as what `started_at` asks of each line, once a quote: the earliest
    start of those naming no product or category, and by each product and each category they name (a big
    basket's lines otherwise test every applied promotion each: 1,000 lines x 80 promotions)."""
    general: Earliest | None = None
    by_product: dict[str, Earliest] = {}
    by_category: dict[str, Earliest] = {}
    for k, (_, start, products, categories, names_none) in enumerate(reducers):
        found = (start, k)
        if names_none:
            if general is None or found < general:
                general = found
            continue
        for product in products:
            if product not in by_product or found < by_product[product]:
                by_product[product] = found
        for category in categories:
            if category not in by_category or found < by_category[category]:
                by_category[category] = found
    return general, by_product, by_category


def wanted_history(
    items: Sequence[QuoteItemIn],
    products: Mapping[str, CatalogProduct],
    offers: Sequence[Choice | None] | None,
    flash: Mapping[str, FlashOffer],
    snapshot: ConfigSnapshot,
    currency: str,
) -> tuple[Wanted, Wanted]:
    """The loader's question, asked before pricing: every start a line of these items could be reduced from, per
    catalog product priced in `currency` (its own history) and per offer an item is sold from (the offer's own,
    docs/offers.md). A superset of what `prior_lines` looks up: whichever promotions apply, the start is in it."""
    reductions = snapshot.promotions.reductions
    general, by_product, by_category = reductions.general, reductions.by_product, reductions.by_category
    flashed: dict[str, frozenset[datetime]] = {}
    if flash:
        sales = snapshot.flash_sales.by_id
        for slot, offer in flash.items():
            sale = sales.get(offer.flash_sale_id)
            if sale is not None:
                key = slot.partition("/")[0]
                flashed[key] = flashed.get(key, _NONE) | {sale.starts_at}
    catalog: Wanted = {}
    offered: Wanted = {}
    for index, item in enumerate(items):
        pid = item.product_id
        if pid not in products:
            continue
        product = products[pid]
        if product.currency != currency:  # a price in another currency has no history
            continue
        starts = general
        if pid in by_product:
            starts = starts | by_product[pid]
        category = product.category_id
        if category in by_category:
            starts = starts | by_category[category]
        if pid in flashed:
            starts = starts | flashed[pid]
        choice = None if offers is None else offers[index]
        if choice is not None and choice.offer is not None:
            subject = str(choice.offer.id)
            offered[subject] = offered[subject] | starts if subject in offered else starts
        campaign = product.campaign_reduced_since
        if campaign is not None:
            starts = starts | {campaign}
        if starts:
            catalog[pid] = catalog[pid] | starts if pid in catalog else starts
    return catalog, offered


def prior_lines(
    items: list[QuoteLine],
    applied: Sequence[AppliedPromotion],
    products: Mapping[str, CatalogProduct],
    flash_sales: FlashSaleBook,
    reductions: Reductions,
    currency: str,
    priors: PriorTable,
) -> list[QuoteLine]:
    """The step: each line a flash sale, an applied promotion (one that discounted goods) or a campaign reduces,
    with `reduction_started_at` and `prior_price` (`priors`' price of its history at that start, rounded; null
    for a line priced from a price list or in another currency, which has none); the others as they are."""
    general: Earliest | None = None
    by_product: dict[str, Earliest] = {}
    by_category: dict[str, Earliest] = {}
    if applied:
        general, by_product, by_category = earliest_by_target(
            reductions.applied(p.promotion_id for p in applied if p.kind != "FREE_DELIVERY" and p.amount > 0)
        )
    sales = flash_sales.by_id
    shown: list[QuoteLine] | None = None
    for index, line in enumerate(items):
        pid = line.product_id
        product = products[pid] if pid in products else None  # noqa: SIM401 (no call a line: the cost budget)
        offer_id = line.offer_id  # no isinstance: a call a line (the cost budget)
        if offer_id is UNSET:
            offer_id = None
        campaign = None
        if offer_id is None and product is not None and line.price_list_id is None:
            campaign = product.campaign_reduced_since  # a price list's price is not the one a campaign moves
        flash_start = None
        if line.flash_sale_id is not None and (sale := sales.get(line.flash_sale_id)) is not None:
            flash_start = sale.starts_at
        # `started_at`, written out on the applied promotions' earliest starts by target (no call a line)
        started = campaign
        if flash_start is not None and (started is None or flash_start < started):
            started = flash_start
        if line.discount > 0:
            best = general
            if pid in by_product and (best is None or by_product[pid] < best):
                best = by_product[pid]
            category = line.category_id
            if category in by_category and (best is None or by_category[category] < best):
                best = by_category[category]
            if best is not None and (started is None or best[0] < started):
                started = best[0]
        if started is None:
            continue
        prior = None
        # The history is the catalog price's: a price in a list, or in another currency, has none. A line sold
        # from another seller's offer has that offer's own history (docs/offers.md).
        if product is not None and product.currency == currency and line.price_list_id is None:
            prior = priors.get((pid, started) if offer_id is None else (str(offer_id), started))
        if shown is None:
            shown = list(items)
        shown[index] = replace(
            line,
            prior_price=None if prior is None else round_money(prior, currency),
            reduction_started_at=started,
        )
    return items if shown is None else shown

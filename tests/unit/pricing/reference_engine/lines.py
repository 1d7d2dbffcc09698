"""Steps 1-4 of a quote, written from docs/pricing.md ("The quote, step by step" 1-4, "Quote engine:
choices in detail"), docs/price-lists.md and docs/markets.md, not from the production module.

From the pages: an active catalog product is priced by the price list that wins for it (then
`price_source: "price_list"`; its `min_price` floors only in the product's own currency), else by
its catalog price when the catalog currency is the quote's, else the item is CURRENCY_NOT_PRICED;
anything else needs the request's `unit_price` (finite, > 0, below 1e12, on the currency's grid).
Flash-sale units (a catalog product quoted in its own currency) take the flash price up to the units
left and the customer's limit, counted across items, on a line of their own; the other units go
through the price rules (none when dynamic pricing is off), floored at `min_price` once there are
rules, with each rule's money the change it made to the rounded, floored running line. A line's
subtotal is its exact unit price times its units, rounded once; its floor is `min_price` times its
units. A list's or product's `prices_include_tax` makes every price of the line gross.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from typing import Any
from uuid import UUID

from quote_service.errors import CurrencyNotPriced, FieldError, ValidationFailed
from quote_service.pricing.price_lists import PriceList
from quote_service.pricing.quote import AppliedRule, CatalogProduct, FlashOffer, PriceSource, QuoteItemIn, QuoteRequest
from quote_service.pricing.rules import PricingRule
from tests.unit.pricing.reference_engine.money import MINOR_UNITS, ZERO, on_grid, rounded
from tests.unit.pricing.reference_engine.price_lists import list_price
from tests.unit.pricing.reference_engine.rules import price_rules, unit_after_rules
from tests.unit.pricing.reference_engine.shares import half_up

MAX_UNIT_PRICE = Decimal("1e12")
"""A client `unit_price` must be below this (the bound of every configured amount)."""


@dataclass(eq=False, slots=True)
class Line:
    """One quote line while it is priced; steps 5-6 fill in its discount, the part of it the platform
    funds (docs/orders-and-refunds.md#who-funds-a-discount) and its tax."""

    product_id: str
    quantity: int
    list_unit: Decimal
    unit: Decimal
    """Exact: the response shows it rounded, the subtotal is computed from it."""
    source: PriceSource
    category_id: str | None
    seller_id: str | None
    list_subtotal: Decimal
    subtotal: Decimal
    floor: Decimal
    """min_price x quantity on the currency grid (up): the least the line may cost after discounts."""
    discount: Decimal
    funded: Decimal
    tax: Decimal
    inclusive: bool = False
    flash_sale_id: UUID | None = None
    price_list_id: UUID | None = None
    rules: tuple[tuple[PricingRule, Decimal], ...] = ()
    """The price rules that applied, in order, each with the money it moved on this line."""
    applied: tuple[AppliedRule, ...] = ()
    tax_rate: Decimal = field(default=ZERO)
    taxes: list[Any] | None = None
    """docs/taxes.md: the line's components, in a quote that uses taxes as markets have them."""
    exempted: Decimal = field(default=ZERO)
    """An exempt tax-inclusive line: the tax its price held, not charged."""
    holds: Any = None
    """docs/taxes.md: the tax a gross amount of this line holds under the quote's terms (None: §16's)."""
    own: Decimal | None = None
    """docs/promotions.md: its units at their product's own price (reduced.py; None: none)."""

    @property
    def coupon_eligible(self) -> bool:
        """Flash-sale units take no coupon."""
        return self.flash_sale_id is None


@dataclass(frozen=True)
class _Priced:
    """Where an item's list price comes from, and what the page attaches to it."""

    source: PriceSource
    list_unit: Decimal
    min_price: Decimal
    category_id: str | None
    seller_id: str | None
    catalog: CatalogProduct | None = None
    """The active catalog product, when the item is one."""
    inclusive: bool = False
    price_list_id: UUID | None = None


@dataclass(frozen=True)
class _Context:
    """What every item of one quote is priced in."""

    currency: str
    cent: Decimal
    rules: Sequence[PricingRule] | None
    user_tier: str | None
    city: str
    country: str
    now: datetime
    zone: str


def unit_price_problem(price: Decimal | None, currency: str) -> str | None:
    """Why a client `unit_price` cannot be used, or None."""
    if price is None:
        return "required: the product is not an active catalog product"
    if not price.is_finite():
        return "must be a finite number"
    if not price > 0:
        return "must be greater than 0"
    if not price < MAX_UNIT_PRICE:
        return f"must be less than {MAX_UNIT_PRICE:f}"
    return None if on_grid(price, currency) else f"has more decimals than {currency} allows ({MINOR_UNITS[currency]})"


def _source(
    item: QuoteItemIn,
    at: int,
    product: CatalogProduct | None,
    *,
    currency: str,
    quote_seller: str | None,
    lists: Sequence[PriceList],
    group: str | None,
    channel: str | None,
    now: datetime,
) -> _Priced | FieldError:
    if product is None or not product.is_active:
        problem = unit_price_problem(item.unit_price, currency)
        if problem is not None or item.unit_price is None:
            return FieldError(f"items[{at}].unit_price", problem or "")
        # A client's unit price is net, has no floor, and names its own category and seller.
        return _Priced("request", item.unit_price, ZERO, item.category_id, item.seller_id or quote_seller)
    home = product.currency == currency
    won = list_price(
        lists,
        currency=currency,
        product_id=product.id,
        quantity=item.quantity,
        customer_group=group,
        channel=channel,
        now=now,
    )
    if won is not None:
        chosen, amount = won
        floor = product.min_price if home else ZERO
        return _Priced(
            "price_list",
            amount,
            floor,
            product.category_id,
            product.seller_id,
            product,
            chosen.prices_include_tax,
            chosen.id,
        )
    if home:
        return _Priced(
            "catalog",
            product.current_price,
            product.min_price,
            product.category_id,
            product.seller_id,
            product,
            product.prices_include_tax,
        )
    return FieldError(
        f"items[{at}].product_id",
        f"no price list prices this product in {currency} for this customer and channel, "
        f"and the catalog prices it in {product.currency}",
    )


def _line(
    product_id: str, units: int, priced: _Priced, unit: Decimal, source: PriceSource, cent: Decimal, **more: object
) -> Line:
    nothing = rounded(ZERO, cent)
    return Line(
        product_id=product_id,
        quantity=units,
        list_unit=priced.list_unit,
        unit=unit,
        source=source,
        category_id=priced.category_id,
        seller_id=priced.seller_id,
        list_subtotal=rounded(priced.list_unit * units, cent),
        subtotal=rounded(unit * units, cent),
        floor=(priced.min_price * units).quantize(cent, ROUND_CEILING),
        discount=nothing,
        funded=nothing,
        tax=nothing,
        inclusive=priced.inclusive,
        price_list_id=priced.price_list_id,
        **more,  # type: ignore[arg-type]
    )


def _ruled(
    found: list[PricingRule], priced: _Priced, quantity: int, units: int, context: _Context
) -> tuple[Decimal, tuple[tuple[PricingRule, Decimal], ...], tuple[AppliedRule, ...]]:
    """The unit price after `found` (tiers read the item's whole `quantity`), and each applied rule with
    the money it moved on `units`: the rounded line after it, floored, less the rounded line before it
    (the last rule lands on the final unit price, so the moves add up to the line's change)."""
    final, applied = unit_after_rules(
        found,
        unit_price=priced.list_unit,
        quantity=quantity,
        user_tier=context.user_tier,
        min_price=priced.min_price,
        now=context.now,
        zone=context.zone,
    )
    running = Fraction(priced.list_unit)
    line_before = rounded(priced.list_unit * units, context.cent)
    moves: list[tuple[PricingRule, Decimal]] = []
    for step, (rule, percent) in enumerate(applied, start=1):
        running *= 1 + Fraction(percent) / 100
        if step == len(applied):
            line_after = rounded(final * units, context.cent)
        else:
            line_after = half_up(max(running, Fraction(priced.min_price)) * units, context.cent)
        moves.append((rule, line_after - line_before))
        line_before = line_after
    shown = tuple(
        AppliedRule(rule_id=rule.id, name=rule.name, type=rule.type, version=rule.version, amount=amount)
        for rule, amount in moves
    )
    return final, tuple(moves), shown


def price_lines(
    request: QuoteRequest,
    *,
    currency: str,
    cent: Decimal,
    products: Mapping[str, CatalogProduct],
    flash: Mapping[str, FlashOffer],
    rules: Sequence[PricingRule] | None,
    user_tier: str | None,
    city: str,
    country: str,
    now: datetime,
    zone: str = "UTC",
    price_lists: Sequence[PriceList] = (),
    customer_group: str | None = None,
    channel: str | None = None,
) -> list[Line]:
    """Steps 1-4 for every item; `rules` None: dynamic pricing is off; `zone`: BUSINESS_TIMEZONE, the
    clock of TIME_WINDOW rules without their own. Raises ValidationFailed naming every item that
    cannot be priced (unit prices first, then unpriced currencies), or CurrencyNotPriced when only
    currencies are missing."""
    context = _Context(currency, cent, rules, user_tier, city, country, now, zone)
    found = [
        _source(
            item,
            at,
            products.get(item.product_id),
            currency=currency,
            quote_seller=request.seller_id,
            lists=price_lists,
            group=customer_group,
            channel=channel,
            now=now,
        )
        for at, item in enumerate(request.items)
    ]
    problems = [f for f in found if isinstance(f, FieldError)]
    bad_prices = [p for p in problems if p.field.endswith(".unit_price")]
    unpriced = [p for p in problems if p.field.endswith(".product_id")]
    if bad_prices:
        raise ValidationFailed("some items cannot be priced", details=bad_prices + unpriced)
    if unpriced:
        raise CurrencyNotPriced("an item has no price in the quote currency", details=unpriced)
    sold: Counter[str] = Counter()  # flash units already given to earlier items, per product
    lines: list[Line] = []
    for item, priced in zip(request.items, found, strict=True):
        assert isinstance(priced, _Priced)
        lines += _item_lines(item, priced, flash, sold, context)
    return lines


def _item_lines(
    item: QuoteItemIn, priced: _Priced, flash: Mapping[str, FlashOffer], sold: Counter[str], context: _Context
) -> list[Line]:
    made: list[Line] = []
    rest = item.quantity
    catalog = priced.catalog
    offer = flash.get(item.product_id) if catalog is not None and catalog.currency == context.currency else None
    if offer is not None:
        before = sold[item.product_id]
        flashed = min(rest, offer.remaining_stock - before, offer.customer_remaining_limit - before)
        if flashed > 0:
            sold[item.product_id] += flashed
            rest -= flashed
            made.append(
                _line(
                    item.product_id,
                    flashed,
                    priced,
                    offer.flash_price,
                    "flash_sale",
                    context.cent,
                    flash_sale_id=offer.flash_sale_id,
                )
            )
    if rest > 0:
        in_force = (
            []
            if context.rules is None
            else price_rules(
                context.rules,
                product_id=None if catalog is None else catalog.id,
                category_id=priced.category_id,
                city=context.city,
                country=context.country,
                now=context.now,
            )
        )
        if in_force:
            unit, moves, shown = _ruled(in_force, priced, item.quantity, rest, context)
            made.append(
                _line(item.product_id, rest, priced, unit, priced.source, context.cent, rules=moves, applied=shown)
            )
        else:  # no price rule, no floor: the list price as it is
            made.append(_line(item.product_id, rest, priced, priced.list_unit, priced.source, context.cent))
    return made

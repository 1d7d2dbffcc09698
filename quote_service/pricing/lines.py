"""Steps 1-4 of a quote (docs/pricing.md): list price, flash-sale split, price rules, line subtotals.

Each request item becomes one or two `Line`s: the units bought at the flash price (if any),
then the rest at the list price moved by the price rules. A line priced from a tax-inclusive
source (its price list's, else its product's `prices_include_tax`) is gross throughout: list,
rules, flash price and floor (docs/markets.md); a client's `unit_price` is net. A `Line` is the engine's mutable
working row: it points at its `plan.LinePlan` (the rules, tax and rate for its kind of line) and
at its `plan.Priced` (its prices and rounded amounts, computed once for every quote that has the
same inputs); coupons then fill in its discount, and `settle` turns it into a `QuoteLine`.

Where an item's price comes from (`price_lines`): its offer, when `offers` names another seller's (None: no
item has one; docs/offers.md) — the line at the offer's own price and floor, for its seller, unless a
price-list entry naming that offer prices it (`PriceBook.select_offer`); a flash sale's item or an entry
naming no offer prices the default offer only, one naming an offer only that offer's lines (`flash` keyed by
`flash.slot`: `<product>/<offer>`). Else a price list open to the folded customer group and channel in the
quote currency (`price_lists`, None: the snapshot has none; `PriceBook.select`), else the catalog. With
FX_CONVERSION (`fx`), a line with no price in the quote currency is priced from its catalog price converted
per unit (pricing/fx_convert.py), carrying its `fx`.

Rounding here and in the other steps is `money.round_money` written out (`quantize(cent,
ROUND_HALF_UP)` with `cent = money.quantum(currency)`): on this path the call costs as much as the
rounding itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple
from uuid import UUID

from msgspec import Struct

from quote_service.errors import CurrencyNotPriced, FieldError, FxRateMissing, ValidationFailed
from quote_service.pricing.fx_convert import Converter, LineFx
from quote_service.pricing.money import MAX_AMOUNT, ZERO, fits_minor_units, minor_units
from quote_service.pricing.offers import Choice
from quote_service.pricing.plan import Priced, RegionPlan
from quote_service.pricing.price_lists import PriceBook
from quote_service.pricing.quote import AppliedRule, CatalogProduct, FlashOffer, PriceSource, QuoteItemIn, QuoteRequest
from quote_service.pricing.rules import PricingRule, apply_price_rules

_INCLUSIVE = "prices_include_tax"
"""The mark a tax-inclusive line's key ends with (`price_lines`)."""


class Line(Struct, gc=False, eq=False):
    """One line while a quote is built: its shared `Priced`, the discount promotions and coupons give
    it, and the part of that discount the platform funds (`funded`: left out of the commission base);
    `own`: what its units cost at their product's own price, worked out only for a quote whose coupons
    or promotions look at reduced lines (`reduced_lines.mark_own_prices`; None: not worked out, or none).
    A new line is `Line(priced, zero, zero)`. A struct, built in C, not a class with an `__init__`
    (docs/hot-path.md#the-cost-budget); compared by identity, as a line is one line."""

    priced: Priced
    discount: Decimal
    funded: Decimal
    own: Decimal | None = None


def unit_price_problem(price: Decimal | None, currency: str) -> str | None:
    """Why a client `unit_price` cannot be used, or None."""
    if price is None:
        return "required: the product is not an active catalog product"
    if not price.is_finite():
        return "must be a finite number"
    if price <= 0:
        return "must be greater than 0"
    if price >= MAX_AMOUNT:
        return f"must be less than {MAX_AMOUNT:f}"
    if not fits_minor_units(price, currency):
        return f"has more decimals than {currency} allows ({minor_units(currency)})"
    return None


def beyond_ceiling(line: Priced, index: int) -> FieldError | None:
    """Why a line priced from item `index` cannot be quoted: a price or amount at or above the
    ceiling of every amount (`money.MAX_AMOUNT`, docs/quotes-and-orders.md#the-money-ceiling), or
    None. Asked once per newly priced line; a line kept in the plan has passed it."""
    if line.list_shown >= MAX_AMOUNT:  # a catalog price stored before the ceiling was enforced
        what, price = "the list price", line.list_shown
    elif line.unit_shown >= MAX_AMOUNT:
        what = "the flash-sale price" if line.source == "flash_sale" else "the price after price rules"
        price = line.unit_shown
    else:
        amount = max(line.list_subtotal, line.subtotal)
        if amount < MAX_AMOUNT:
            return None
        return FieldError(
            f"items[{index}].quantity",
            f"{line.units} units come to {amount}, not below {MAX_AMOUNT:f}, the ceiling of every amount: "
            "quote fewer units",
        )
    return FieldError(
        f"items[{index}].{'unit_price' if line.source == 'request' else 'product_id'}",
        f"{what} ({price}) is not below {MAX_AMOUNT:f}, the ceiling of every amount: the item cannot be quoted",
    )


def _apply_rules(
    rules: list[PricingRule],
    *,
    list_unit: Decimal,
    min_price: Decimal,
    quantity: int,
    units: int,
    user_tier: str | None,
    now: datetime,
    default_zone: str,
    cent: Decimal,
) -> tuple[Decimal, tuple[tuple[PricingRule, Decimal], ...], tuple[AppliedRule, ...]]:
    """The unit price after the rules (tiers read the item's `quantity`) and the money each moved on `units`.

    A rule's money is the difference it made to the rounded, floored running line, so the amounts
    add up exactly to line subtotal - list subtotal (the last one absorbs any difference between
    this arithmetic and `apply_price_rules`).
    """
    unit, applied = apply_price_rules(
        rules,
        unit_price=list_unit,
        quantity=quantity,
        user_tier=user_tier,
        min_price=min_price,
        now=now,
        default_zone=default_zone,
    )
    moved = []
    price = list_unit
    before = (price * units).quantize(cent, ROUND_HALF_UP)
    last = len(applied) - 1
    for position, (rule, percent) in enumerate(applied):
        price = price * (100 + percent) / 100
        floored = unit if position == last else max(price, min_price)
        after = (floored * units).quantize(cent, ROUND_HALF_UP)
        moved.append((rule, after - before))
        before = after
    shown = tuple(
        AppliedRule(rule_id=rule.id, name=rule.name, type=rule.type, version=rule.version, amount=amount)
        for rule, amount in moved
    )
    return unit, tuple(moved), shown


ItemPrice = tuple[
    PriceSource,
    Decimal,
    Decimal,
    bool,
    "str | None",
    "str | None",
    "UUID | None",
    "UUID | None",
    bool,
    str,
    "LineFx | None",
]
"""Where an item's price comes from: (source, list unit price, min price (its floor), tax-inclusive, category,
seller, catalog product, price list, in the product's own currency, its flash item's key, how it was converted
into the quote's currency (None: it was not))."""


def price_lines(
    request: QuoteRequest,
    *,
    region: RegionPlan,
    products: Mapping[str, CatalogProduct],
    flash: Mapping[str, FlashOffer],
    dynamic: bool,
    user_tier: str | None,
    now: datetime,
    price_lists: PriceBook | None = None,
    customer_group: str | None = None,
    channel: str | None = None,
    offers: Sequence[Choice | None] | None = None,
    fx: Converter | None = None,
) -> list[Line]:
    """Steps 1-4 for every item (where a price comes from: the module docstring); `dynamic` False skips the
    price rules. Raises ValidationFailed naming every bad item, else FxRateMissing naming each item no rate
    converts, else CurrencyNotPriced."""
    currency = region.currency
    errors: list[FieldError] = []
    mismatches: list[FieldError] = []  # no rate converts the item's price, when `fx`: FX_RATE_MISSING
    lines: list[Line] = []
    flash_taken: dict[str, int] = {}
    windows: frozenset[int] | None = None
    priced = region.priced
    zero = region.zero
    quote_seller_id = request.seller_id
    fine = region.fine_prices
    key: tuple[Any, ...]
    found_price: ItemPrice | None
    for index, item in enumerate(request.items):
        product = products.get(item.product_id)
        choice = None if offers is None else offers[index]
        if (
            price_lists is None
            and product is not None
            and product.is_active
            and product.currency == currency
            and (choice is None or choice.offer is None)
        ):  # the usual lines, at their catalog product's price or an ad-hoc price seen before: written out, no call
            found_price = ("catalog", product.current_price, product.min_price, product.prices_include_tax,
                           product.category_id, product.seller_id, product.id, None, True, item.product_id,
                           None)  # fmt: skip
        elif product is None and (price := item.unit_price) is not None and price.is_finite() and price in fine:
            found_price = ("request", price, ZERO, False, item.category_id, item.seller_id or quote_seller_id, None,
                           None, False, item.product_id, None)  # fmt: skip
        else:
            found_price = _item_price(
                index, item, product, choice, region, quote_seller_id, errors, mismatches, price_lists, customer_group,
                channel, now, fx,
            )  # fmt: skip
        if found_price is None or errors or mismatches:
            continue  # keep validating the remaining items, price nothing
        (source, list_unit, min_price, inclusive, category_id, seller_id, product_uuid, price_list_id, own,
         flash_key, line_fx) = found_price  # fmt: skip
        # The key of a line names every input of its `Priced`: the product as requested and as
        # found, its category and sellers, its prices and units, and for the price rules the
        # quantity (tiers), the customer's tier and the open TIME_WINDOWs (all they read of `now`).
        product_key = None if product_uuid is None else product_uuid.int  # UUID hashes slowly
        commission_seller = seller_id or quote_seller_id
        quantity = item.quantity
        rest = quantity
        line_key = (item.product_id, product_key, category_id, seller_id, commission_seller, list_unit, min_price)
        # A flash price is in the product's currency: it serves only a quote in that currency.
        offer = flash.get(flash_key) if product_uuid is not None and own else None
        if offer is not None:
            taken = flash_taken.get(flash_key, 0)
            units = min(quantity, offer.remaining_stock - taken, offer.customer_remaining_limit - taken)
            if units > 0:
                flash_taken[flash_key] = taken + units
                rest -= units
                flash_line = _flash_line(index, item.product_id, found_price, line_key, units, offer, region, errors)
                if flash_line is None:
                    continue
                lines.append(flash_line)
        if rest <= 0:
            continue
        if dynamic:
            if windows is None:
                windows = region.resolution.open_windows(now, region.defaults.timezone)
            key = line_key + (rest, quantity, user_tier, windows)  # noqa: RUF005 (concatenated: no list on the way)
        else:
            key = line_key + (rest,)  # noqa: RUF005
        if price_list_id is not None:  # the same amount from a list is another line than from the catalog
            key += (("price_list", price_list_id.int),)
        if inclusive:  # the same amount gross is another line than net (nothing added to a net line's key)
            key += (_INCLUSIVE,)
        if line_fx is not None:  # the same unit converted at another rate shows another `fx`
            key += (line_fx,)
        found = priced.get(key)
        if found is None:
            plan = region.line(product_uuid, category_id, commission_seller)
            unit = list_unit
            moved: tuple[tuple[PricingRule, Decimal], ...] = ()
            shown: tuple[AppliedRule, ...] = ()
            if dynamic and plan.price_rules:
                unit, moved, shown = _apply_rules(
                    plan.price_rules, list_unit=list_unit, min_price=min_price, quantity=quantity, units=rest,
                    user_tier=user_tier, now=now, default_zone=region.defaults.timezone, cent=region.cent,
                )  # fmt: skip
            found = Priced(
                plan, product_id=item.product_id, source=source, inclusive=inclusive, category_id=category_id,
                seller_id=seller_id, list_unit=list_unit, unit=unit, min_price=min_price, units=rest, moved=moved,
                shown=shown, price_list_id=price_list_id, fx=line_fx,
            )  # fmt: skip
            beyond = beyond_ceiling(found, index)
            if beyond is not None:
                errors.append(beyond)
                continue
            region.remember(priced, key, found)
        lines.append(Line(found, zero, zero))
    if errors:
        raise ValidationFailed("some items cannot be priced", details=errors + mismatches)
    if mismatches and fx is not None:
        raise FxRateMissing("no exchange rate converts an item's price into the quote currency", details=mismatches)
    if mismatches:
        raise CurrencyNotPriced("an item has no price in the quote currency", details=mismatches)
    return lines


def _item_price(
    index: int,
    item: QuoteItemIn,
    product: CatalogProduct | None,
    choice: Choice | None,
    region: RegionPlan,
    quote_seller_id: str | None,
    errors: list[FieldError],
    mismatches: list[FieldError],
    price_lists: PriceBook | None,
    customer_group: str | None,
    channel: str | None,
    now: datetime,
    fx: Converter | None = None,
) -> ItemPrice | None:
    """Where item `index`'s price comes from: its offer (another seller's), a price list, its catalog product
    (converted into the quote's currency when `fx` and it has no price in it) or the request's `unit_price`;
    None, with the reason in `errors` or `mismatches` (no price in this currency, or no rate converts it)."""
    line_fx: LineFx | None = None
    currency = region.currency
    price_list_id: UUID | None = None
    flash_key = item.product_id  # the flash item of the line's offer (`pricing.flash.slot`)
    source: PriceSource
    if choice is not None and choice.offer is not None and product is not None:
        sold_from = choice.offer
        selected = None
        if price_lists is not None and price_lists.offer_index:  # an entry naming this offer prices it
            selected = price_lists.select_offer(currency, sold_from.id.int, item.quantity, customer_group, channel, now)
        # A flash sale's item naming this offer prices it (docs/offers.md#price-lists-and-flash-sales).
        own_currency = product.currency == currency
        flash_key = f"{item.product_id}/{sold_from.id}"
        if selected is not None:
            source = "price_list"
            price_list_id = selected.price_list.id
            inclusive = selected.price_list.prices_include_tax
            # The offer's min_price is in the product's currency: it floors only a price in that currency.
            list_unit = selected.amount
            min_price = sold_from.min_price if product.currency == currency else ZERO
        elif product.currency != currency:
            conversion = None if fx is None else fx.rate(product.currency)
            if conversion is None or fx is None:
                _not_priced(index, product.currency, currency, fx, "offer_id", mismatches)
                return None
            source = "catalog"
            list_unit, line_fx = fx.unit(conversion, sold_from.current_price)
            min_price = fx.floor(conversion, sold_from.min_price)
            inclusive = product.prices_include_tax
        else:
            source = "catalog"
            list_unit, min_price = sold_from.current_price, sold_from.min_price
            inclusive = product.prices_include_tax
        return (source, list_unit, min_price, inclusive, product.category_id, choice.seller_id, product.id,
                price_list_id, own_currency, flash_key, line_fx)  # fmt: skip
    if product is not None and product.is_active:
        selected = None
        if price_lists is not None:
            selected = price_lists.select(currency, product.id.int, item.quantity, customer_group, channel, now)
        own_currency = product.currency == currency
        if selected is not None:
            source = "price_list"
            price_list_id = selected.price_list.id
            inclusive = selected.price_list.prices_include_tax
            # min_price is in the product's currency: it floors only a price in that currency.
            list_unit, min_price = selected.amount, product.min_price if own_currency else ZERO
        elif own_currency:
            source = "catalog"
            list_unit, min_price = product.current_price, product.min_price
            inclusive = product.prices_include_tax
        elif fx is not None and (conversion := fx.rate(product.currency)) is not None:
            source = "catalog"
            list_unit, line_fx = fx.unit(conversion, product.current_price)
            min_price = fx.floor(conversion, product.min_price)
            inclusive = product.prices_include_tax
        else:
            _not_priced(index, product.currency, currency, fx, "product_id", mismatches)
            return None
        return (source, list_unit, min_price, inclusive, product.category_id, product.seller_id, product.id,
                price_list_id, own_currency, flash_key, line_fx)  # fmt: skip
    price = item.unit_price
    if price is None or not price.is_finite() or price not in region.fine_prices:  # sNaN cannot be hashed
        problem = unit_price_problem(price, currency)
        if problem is not None:
            errors.append(FieldError(f"items[{index}].unit_price", problem))
            return None
        assert price is not None
        region.remember(region.fine_prices, price, None)
    return ("request", price, ZERO, False, item.category_id, item.seller_id or quote_seller_id, None, None, False,
            flash_key, None)  # fmt: skip


def _not_priced(
    index: int, source: str, currency: str, fx: Converter | None, field: str, mismatches: list[FieldError]
) -> None:
    """Item `index`, priced in `source` only: a currency nothing prices it in (conversion off), or one no rate
    converts from (FX_RATE_MISSING, naming the product: docs/currencies.md)."""
    if fx is not None:
        message = f"no exchange rate converts {source} into {currency}"
        mismatches.append(FieldError(f"items[{index}].product_id", message))
    elif field == "offer_id":
        mismatches.append(
            FieldError(f"items[{index}].offer_id", f"the offer prices this product in {source}, not {currency}")
        )
    else:
        message = (
            f"no price list prices this product in {currency} for this customer and channel, "
            f"and the catalog prices it in {source}"
        )
        mismatches.append(FieldError(f"items[{index}].product_id", message))


def _flash_line(
    index: int,
    product_id: str,
    found_price: ItemPrice,
    line_key: tuple[Any, ...],
    units: int,
    offer: FlashOffer,
    region: RegionPlan,
    errors: list[FieldError],
) -> Line | None:
    """The line of an item's `units` sold at `offer`'s flash price (None, the reason in `errors`, when they come to
    the ceiling of every amount)."""
    _, list_unit, min_price, inclusive, category_id, seller_id, product_uuid, price_list_id = found_price[:8]
    flash_sale_id = offer.flash_sale_id
    key = line_key + (units, offer.flash_price, flash_sale_id.int)  # noqa: RUF005 (no list on the way)
    if price_list_id is not None:
        key += (("price_list", price_list_id.int),)
    if inclusive:
        key += (_INCLUSIVE,)
    priced = region.priced
    found = priced.get(key)
    if found is None:
        found = Priced(
            region.line(product_uuid, category_id, line_key[4]), product_id=product_id, source="flash_sale",
            inclusive=inclusive, category_id=category_id, seller_id=seller_id, list_unit=list_unit,
            unit=offer.flash_price, min_price=min_price, units=units, flash_sale_id=flash_sale_id,
            price_list_id=price_list_id,
        )  # fmt: skip
        beyond = beyond_ceiling(found, index)
        if beyond is not None:
            errors.append(beyond)
            return None
        region.remember(priced, key, found)
    return Line(found, region.zero, region.zero)


class HeldPrice(NamedTuple):
    """A line's price decided before this quote (docs/orders-and-refunds.md#edits-and-exchanges): an order
    edit keeps each line at the price its order charged and prices an added line at today's price; the
    engine then re-prices the basket (discounts, tax, fees, commission) on these prices."""

    source: PriceSource
    list_unit: Decimal
    unit: Decimal
    min_price: Decimal
    inclusive: bool
    category_id: str | None
    seller_id: str | None
    product: UUID | None
    """The catalog product (None: a request-priced line)."""
    flash_sale_id: UUID | None = None
    price_list_id: UUID | None = None
    offer_id: UUID | None = None
    """The offer the line is sold from (docs/offers.md), shown on its quote line; None: its product's own."""


def held_lines(request: QuoteRequest, *, region: RegionPlan, held: Sequence[HeldPrice]) -> list[Line]:
    """Steps 1-4 for items whose prices are held (one per item, in order): no price list, flash sale or
    price rule moves them; each line reads its plan's tax rule and commission rates as any line does."""
    lines: list[Line] = []
    for index, (item, price) in enumerate(zip(request.items, held, strict=True)):
        plan = region.line(price.product, price.category_id, price.seller_id or request.seller_id)
        priced = Priced(
            plan,
            product_id=item.product_id,
            source=price.source,
            inclusive=price.inclusive,
            category_id=price.category_id,
            seller_id=price.seller_id,
            list_unit=price.list_unit,
            unit=price.unit,
            min_price=price.min_price,
            units=item.quantity,
            flash_sale_id=price.flash_sale_id,
            price_list_id=price.price_list_id,
        )
        beyond = beyond_ceiling(priced, index)
        if beyond is not None:
            raise ValidationFailed("some items cannot be priced", details=[beyond])
        lines.append(Line(priced, region.zero, region.zero))
    return lines

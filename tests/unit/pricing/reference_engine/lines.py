"""Steps 1-4 of a quote (docs/pricing.md): list price, flash-sale split, price rules, line subtotals.

Each request item becomes one or two `Line`s: the units bought at the flash price (if any),
then the rest at the list price moved by the price rules. A `Line` is the engine's mutable
working row; later steps fill in its discount and tax, and the engine turns it into a `QuoteLine`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from uuid import UUID

from quote_service.errors import CurrencyNotPriced, FieldError, ValidationFailed
from quote_service.pricing.price_lists import PriceList
from quote_service.pricing.quote import AppliedRule, CatalogProduct, FlashOffer, PriceSource, QuoteRequest
from quote_service.pricing.rules import PricingRule
from tests.unit.pricing.reference_engine.money import MINOR_UNITS, ZERO, on_grid
from tests.unit.pricing.reference_engine.price_lists import list_price
from tests.unit.pricing.reference_engine.rules import price_rules, unit_after_rules

MAX_UNIT_PRICE = Decimal("1e12")
"""A client `unit_price` must be below this (the bound of every configured amount)."""


class Line:
    """One priced line while a quote is built."""

    __slots__ = (
        "applied",
        "category_id",
        "discount",
        "flash_sale_id",
        "floor",
        "funded",
        "inclusive",
        "list_subtotal",
        "list_unit",
        "price_list_id",
        "product_id",
        "quantity",
        "rules",
        "seller_id",
        "source",
        "subtotal",
        "tax",
        "tax_rate",
        "unit",
    )

    def __init__(
        self,
        *,
        product_id: str,
        quantity: int,
        list_unit: Decimal,
        unit: Decimal,
        source: PriceSource,
        category_id: str | None,
        seller_id: str | None,
        floor: Decimal,
        cent: Decimal,
        zero: Decimal,
        flash_sale_id: UUID | None = None,
        price_list_id: UUID | None = None,
        inclusive: bool = False,
    ) -> None:
        self.product_id = product_id
        self.inclusive = inclusive
        """docs/markets.md: the line's prices (list, rules, flash, floor, discounts) are gross, tax included."""
        self.price_list_id = price_list_id
        self.quantity = quantity
        self.list_unit = list_unit
        self.unit = unit
        """The exact unit price; shown rounded, the line is computed from the exact value."""
        self.source: PriceSource = source
        self.category_id = category_id
        self.seller_id = seller_id
        self.floor = floor.quantize(cent, ROUND_CEILING)
        """The least this line may cost after coupons: min_price x quantity (0 without a catalog price).

        On the currency grid (up, should a price ever be off it): a clipped coupon share is the
        room above the floor, and that share is money the response shows. Catalog prices arrive
        with the database's four decimals (`104.9700`), which must not leak into the response.
        """
        self.flash_sale_id = flash_sale_id
        self.list_subtotal = (list_unit * quantity).quantize(cent, ROUND_HALF_UP)
        self.subtotal = (unit * quantity).quantize(cent, ROUND_HALF_UP)
        self.rules: tuple[tuple[PricingRule, Decimal], ...] = ()
        """Price rules that applied, in order, with the money each moved on this line."""
        self.applied: tuple[AppliedRule, ...] = ()
        """The same, as the response shows them."""
        self.discount = zero
        self.funded = zero
        """The part of `discount` the platform funds (docs/orders-and-refunds.md#who-funds-a-discount)."""
        self.tax = zero
        self.tax_rate = ZERO

    @property
    def coupon_eligible(self) -> bool:
        """Flash-sale units are already at their lowest price: coupons skip them."""
        return self.flash_sale_id is None


def unit_price_problem(price: Decimal | None, currency: str) -> str | None:
    """Why a client `unit_price` cannot be used, or None."""
    if price is None:
        return "required: the product is not an active catalog product"
    if not price.is_finite():
        return "must be a finite number"
    if price <= 0:
        return "must be greater than 0"
    if price >= MAX_UNIT_PRICE:
        return f"must be less than {MAX_UNIT_PRICE:f}"
    if not on_grid(price, currency):
        return f"has more decimals than {currency} allows ({MINOR_UNITS[currency]})"
    return None


def _apply_rules(
    rules: list[PricingRule],
    *,
    list_unit: Decimal,
    min_price: Decimal,
    quantity: int,
    units: int,
    user_tier: str | None,
    now: datetime,
    zone: str,
    cent: Decimal,
) -> tuple[Decimal, tuple[tuple[PricingRule, Decimal], ...], tuple[AppliedRule, ...]]:
    """The unit price after the rules (tiers read the item's `quantity`) and the money each moved on `units`.

    A rule's money is the difference it made to the rounded, floored running line, so the amounts
    add up exactly to line subtotal - list subtotal (the last one absorbs any difference between
    this arithmetic and `unit_after_rules`).
    """
    unit, applied = unit_after_rules(
        rules, unit_price=list_unit, quantity=quantity, user_tier=user_tier, min_price=min_price, now=now, zone=zone
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
    """Steps 1-4 for every item; `rules` None skips the price rules (dynamic pricing off); `zone`:
    the business time zone, read by TIME_WINDOW rules without their own.

    Raises ValidationFailed naming every bad item, or CurrencyMismatch when that is the only problem.
    """
    zero = ZERO.quantize(cent)
    errors: list[FieldError] = []
    mismatches: list[FieldError] = []
    lines: list[Line] = []
    flash_taken: dict[str, int] = {}
    for index, item in enumerate(request.items):
        product = products.get(item.product_id)
        product_uuid: UUID | None = None
        flash_sale_id: UUID | None = None
        category_id: str | None
        seller_id: str | None
        price_list_id: UUID | None = None
        if product is not None and product.is_active:
            found_list = list_price(
                price_lists,
                currency=currency,
                product_id=product.id,
                quantity=item.quantity,
                customer_group=customer_group,
                channel=channel,
                now=now,
            )
            source: PriceSource
            if found_list is not None:
                # A list's amount is the list price; min_price floors only in the product's own currency.
                source, price_list_id, list_unit = "price_list", found_list[0].id, found_list[1]
                min_price = product.min_price if product.currency == currency else ZERO
                inclusive = found_list[0].prices_include_tax
            elif product.currency == currency:
                source = "catalog"
                list_unit, min_price = product.current_price, product.min_price
                inclusive = product.prices_include_tax
            else:
                message = (
                    f"no price list prices this product in {currency} for this customer and channel, "
                    f"and the catalog prices it in {product.currency}"
                )
                mismatches.append(FieldError(f"items[{index}].product_id", message))
                continue
            category_id, seller_id, product_uuid = product.category_id, product.seller_id, product.id
        else:
            problem = unit_price_problem(item.unit_price, currency)
            if problem is not None:
                errors.append(FieldError(f"items[{index}].unit_price", problem))
                continue
            assert item.unit_price is not None
            source, list_unit, min_price = "request", item.unit_price, ZERO
            inclusive = False  # a client's unit price is net
            category_id, seller_id = item.category_id, item.seller_id or request.seller_id
        if errors or mismatches:
            continue  # keep validating the remaining items, price nothing
        quantity = item.quantity
        rest = quantity
        # Flash prices are in the product's currency: only a quote in that currency gets them.
        in_own_currency = product is not None and product.currency == currency
        offer = flash.get(item.product_id) if source != "request" and in_own_currency else None
        if offer is not None:
            taken = flash_taken.get(item.product_id, 0)
            units = min(quantity, offer.remaining_stock - taken, offer.customer_remaining_limit - taken)
            if units > 0:
                flash_taken[item.product_id] = taken + units
                rest -= units
                flash_sale_id = offer.flash_sale_id
                lines.append(
                    Line(
                        product_id=item.product_id,
                        quantity=units,
                        list_unit=list_unit,
                        unit=offer.flash_price,
                        source="flash_sale",
                        category_id=category_id,
                        seller_id=seller_id,
                        floor=min_price * units,
                        cent=cent,
                        zero=zero,
                        flash_sale_id=flash_sale_id,
                        price_list_id=price_list_id,
                        inclusive=inclusive,
                    )
                )
        if rest <= 0:
            continue
        unit = list_unit
        moved: tuple[tuple[PricingRule, Decimal], ...] = ()
        shown: tuple[AppliedRule, ...] = ()
        found = (
            []
            if rules is None
            else price_rules(
                rules, product_id=product_uuid, category_id=category_id, city=city, country=country, now=now
            )
        )
        if found:  # without a price rule, no floor either
            unit, moved, shown = _apply_rules(
                found,
                list_unit=list_unit,
                min_price=min_price,
                quantity=quantity,
                units=rest,
                user_tier=user_tier,
                now=now,
                zone=zone,
                cent=cent,
            )
        line = Line(
            product_id=item.product_id,
            quantity=rest,
            list_unit=list_unit,
            unit=unit,
            source=source,
            category_id=category_id,
            seller_id=seller_id,
            floor=min_price * rest,
            cent=cent,
            zero=zero,
            price_list_id=price_list_id,
            inclusive=inclusive,
        )
        if moved:
            line.rules, line.applied = moved, shown
        lines.append(line)
    if errors:
        raise ValidationFailed("some items cannot be priced", details=errors + mismatches)
    if mismatches:
        raise CurrencyNotPriced("an item has no price in the quote currency", details=mismatches)
    return lines

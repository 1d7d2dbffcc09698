"""Converting a catalog price into the quote's currency, and the rates a quote locks (docs/currencies.md).

With FX_CONVERSION on, a line whose product (or offer) has no price in the quote's currency is priced
from its catalog price converted per unit, before quantity and before every later step:

    unit = round_half_up(source_unit x rate, the quote currency's minor unit)

then lifted to the currency's price ending when FX_PRICE_ENDINGS names one (`whole`: the next whole
unit at or above; `"0.99"`: the smallest x.99 at or above; a unit already on its ending stays). The
product's min_price converts the same way (without the ending): it floors the converted line as it
floors a line in its own currency. The rate is the one in force when the quote is priced (direct,
inverse or crossed through EUR: pricing/fx_rates.py); every rate a quote used is locked in its
answer (`fx.rates`) until its `valid_until`: the order placed from it charges the quote's prices.

Pure: the rates come in a book, the instant as an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Annotated, Final
from uuid import UUID

import msgspec

from quote_service.pricing.commission import CommissionRate
from quote_service.pricing.coupons import Coupon
from quote_service.pricing.fx_rates import Conversion, FxBook
from quote_service.pricing.money import quantum
from quote_service.pricing.promotions import (
    AmountOff,
    FixedPriceBundle,
    FreeDelivery,
    Gift,
    PercentOff,
    Promotion,
    PromotionBook,
    SpendTiers,
    money_currency,
)
from quote_service.pricing.rules import PricingRule

NO_RATES: Final = FxBook()
"""The book of a snapshot without rates: every conversion is FX_RATE_MISSING."""
WHOLE: Final = "whole"
"""The price ending that lifts a converted unit to the next whole unit."""


def convert(amount: Decimal, conversion: Conversion, cent: Decimal) -> Decimal:
    """`amount` in the conversion's base currency, in its quote currency: x rate, half up to `cent` (the one
    conversion of a quote's prices, fees and coupons; payouts round half even, payouts/service.py)."""
    return (amount * conversion.rate).quantize(cent, ROUND_HALF_UP)


def ending_problem(ending: str) -> str | None:
    """Why `ending` is no price ending, or None: `whole`, or a fraction 0.00-0.99 written with two decimals."""
    if ending == WHOLE:
        return None
    try:
        value = Decimal(ending)
    except ArithmeticError:
        value = Decimal(-1)
    if not value.is_finite() or not Decimal(0) <= value < Decimal(1) or value != value.quantize(Decimal("0.01")):
        return f"{ending!r} is not a price ending: `whole`, or a fraction such as 0.99"
    return None


def lifted(unit: Decimal, ending: str | None, cent: Decimal) -> Decimal:
    """`unit` lifted to the smallest price on `ending` at or above it (None: no ending)."""
    if ending is None:
        return unit
    if ending == WHOLE:
        return unit.quantize(Decimal(1), ROUND_CEILING).quantize(cent)
    fraction = Decimal(ending)
    candidate = unit.quantize(Decimal(1), ROUND_FLOOR) + fraction
    if candidate < unit:
        candidate += 1
    return candidate.quantize(cent, ROUND_HALF_UP)


class LineFx(msgspec.Struct, frozen=True, kw_only=True):
    """How a converted line's price came to be in the quote's currency."""

    source_currency: str
    source_unit_price: Annotated[Decimal, msgspec.Meta(description="The catalog unit price, in source_currency.")]
    rate: Annotated[Decimal, msgspec.Meta(description="Units of the quote currency for one of source_currency.")]
    rate_id: Annotated[
        UUID | None,
        msgspec.Meta(description="The stored rate used (or inverted); null: crossed through EUR."),
    ]


class LockedRate(msgspec.Struct, frozen=True, kw_only=True):
    """One rate a quote used, locked with it."""

    base: str
    quote: str
    rate: Decimal
    rate_id: UUID | None
    source: Annotated[
        str, msgspec.Meta(description="manual, ecb or psp: where the stored rate came from (`cross`: two rates).")
    ]


class QuoteFx(msgspec.Struct, frozen=True, kw_only=True):
    """The rates a quote used, which its order keeps even when newer ones apply."""

    rates: list[LockedRate]
    locked_until: datetime


class Converter:
    """One quote's conversions into `currency` at `at`: each source currency's rate looked up once."""

    __slots__ = ("_book", "_cent", "_ending", "at", "currency", "used")

    def __init__(self, book: FxBook, currency: str, at: datetime, endings: Iterable[tuple[str, str]]) -> None:
        self._book = book
        self.currency = currency
        self.at = at
        self._cent = quantum(currency)
        self._ending = dict(endings).get(currency)
        self.used: dict[str, Conversion | None] = {}
        """Each source currency asked for, and its rate (None: no rate)."""

    def rate(self, source: str) -> Conversion | None:
        """The rate from `source` into the quote's currency (None: there is none)."""
        try:
            return self.used[source]
        except KeyError:
            found = self.used[source] = self._book.rate(source, self.currency, self.at)
            return found

    def peek(self, source: str) -> Conversion | None:
        """The rate from `source` into the quote's currency, not yet counted among those the quote used (it
        locks it with `lock` once it applies something converted at it)."""
        found = self.used.get(source)
        return found if found is not None else self._book.rate(source, self.currency, self.at)

    def unit(self, conversion: Conversion, amount: Decimal) -> tuple[Decimal, LineFx]:
        """A unit price of `amount` in the conversion's base currency, in the quote's: rounded, lifted."""
        converted = convert(amount, conversion, self._cent)
        source = amount.quantize(quantum(conversion.base), ROUND_HALF_UP)
        shown = LineFx(
            source_currency=conversion.base, source_unit_price=source, rate=conversion.rate, rate_id=conversion.rate_id
        )
        return lifted(converted, self._ending, self._cent), shown

    def floor(self, conversion: Conversion, amount: Decimal) -> Decimal:
        """A min_price of `amount`, in the quote's currency (rounded, never lifted)."""
        return convert(amount, conversion, self._cent)

    def lock(self, conversion: Conversion) -> None:
        """Count `conversion` among the rates this quote used (its fees converted at it: pricing/plan.py)."""
        self.used[conversion.base] = conversion

    def locked(self, until: datetime) -> QuoteFx | None:
        """The rates this quote used, locked until `until`; None when it converted nothing."""
        rates = [
            LockedRate(
                base=c.base,
                quote=c.quote,
                rate=c.rate,
                rate_id=c.rate_id,
                source=c.used[0].source if len(c.used) == 1 else "cross",
            )
            for c in self.used.values()
            if c is not None
        ]
        return QuoteFx(rates=rates, locked_until=until) if rates else None


_FEE_AMOUNTS: Final[dict[str, tuple[str, ...]]] = {
    "DELIVERY_FEE": ("base_fee", "per_km", "max_fee"),
    "EXPRESS_FEE": ("base_fee", "distance_factor", "max_fee"),
    "SMALL_BASKET": ("threshold", "fee"),
    "FREE_DELIVERY": ("min_subtotal",),
    "REGIONAL_FEE": ("amount",),
}
"""The money fields of each fee rule's configuration (a multiplier or a distance is not money)."""


def converted_fee_rule(rule: PricingRule, conversion: Conversion, currency: str) -> PricingRule:
    """A fee rule priced in the conversion's base currency, its amounts in `currency` (each converted once,
    half up to its minor unit; a distance band's fee too), for a quote nothing in its own currency prices."""
    cent = quantum(currency)

    def money(amount: Decimal) -> Decimal:
        return convert(amount, conversion, cent)

    config = rule.configuration
    changes: dict[str, object] = {"currency": currency}
    for name in _FEE_AMOUNTS[rule.type]:
        value = getattr(config, name)
        if value is not None:
            changes[name] = money(value)
    bands = getattr(config, "distance_bands", None)
    if bands:
        changes["distance_bands"] = tuple(msgspec.structs.replace(band, fee=money(band.fee)) for band in bands)
    return msgspec.structs.replace(rule, configuration=msgspec.structs.replace(config, **changes))


def converted_coupon(coupon: Coupon, conversion: Conversion, currency: str) -> Coupon:
    """A coupon whose amounts (a FIXED value, min_subtotal, max_discount) are in the conversion's base currency,
    with them in `currency` (each converted once, half up to its minor unit), for a quote in `currency`."""
    cent = quantum(currency)

    def money(amount: Decimal | None) -> Decimal | None:
        return None if amount is None else convert(amount, conversion, cent)

    value = money(coupon.value) if coupon.type == "FIXED" else coupon.value
    return msgspec.structs.replace(
        coupon,
        currency=currency,
        value=value,
        min_subtotal=money(coupon.min_subtotal),
        max_discount=money(coupon.max_discount),
    )


def converted_commission_rate(rate: CommissionRate, conversion: Conversion, currency: str) -> CommissionRate:
    """A FLAT or TIERED commission rate whose amounts (the FLAT amount, the tiers' bounds, min_amount and
    max_amount) are in the conversion's base currency, with them in `currency` (each converted once, half up
    to its minor unit), for a quote in `currency` that no rate in its own currency wins (docs/currencies.md)."""
    cent = quantum(currency)

    def money(amount: Decimal | None) -> Decimal | None:
        return None if amount is None else convert(amount, conversion, cent)

    return msgspec.structs.replace(
        rate,
        currency=currency,
        rate=money(rate.rate) if rate.commission_type == "FLAT" else rate.rate,
        tiers=tuple(msgspec.structs.replace(tier, up_to=money(tier.up_to)) for tier in rate.tiers),
        min_amount=money(rate.min_amount),
        max_amount=money(rate.max_amount),
    )


def converted_promotion(promotion: Promotion, conversion: Conversion, currency: str) -> Promotion:
    """A promotion whose amounts (min_subtotal, an amount off, a fixed price, tiers' thresholds and amounts, a
    max discount, a delivery amount or max) are in the conversion's base currency, with them in `currency`
    (each converted once, half up to its minor unit), for a quote in `currency` (docs/currencies.md)."""
    cent = quantum(currency)

    def money(amount: Decimal | None) -> Decimal | None:
        return None if amount is None else convert(amount, conversion, cent)

    c = promotion.conditions
    conditions = msgspec.structs.replace(
        c, min_subtotal=money(c.min_subtotal), currency=None if c.currency is None else currency
    )
    config = promotion.config
    changes: dict[str, object] = {}
    if getattr(config, "currency", None) is not None:
        changes["currency"] = currency
    if isinstance(config, PercentOff):
        changes["max_discount"] = money(config.max_discount)
    elif isinstance(config, AmountOff):
        changes["amount"] = money(config.amount)
    elif isinstance(config, FreeDelivery):
        changes.update(amount=money(config.amount), max=money(config.max))
    elif isinstance(config, FixedPriceBundle):
        changes["price"] = money(config.price)
    elif isinstance(config, SpendTiers):
        changes["tiers"] = tuple(
            msgspec.structs.replace(tier, min_subtotal=money(tier.min_subtotal), amount=money(tier.amount))
            for tier in config.tiers
        )
    elif isinstance(config, Gift):
        changes["min_subtotal"] = money(config.min_subtotal)
    return msgspec.structs.replace(
        promotion, conditions=conditions, config=msgspec.structs.replace(config, **changes) if changes else config
    )


def converted_promotions(
    book: PromotionBook, currency: str, rate: Callable[[str], Conversion | None]
) -> tuple[PromotionBook, Mapping[UUID, Conversion]]:
    """`book` for a quote in `currency`: each promotion priced in another currency that `rate` converts from,
    converted (`converted_promotion`); and the rate each converted one took, by its id (the quote locks those it
    applies). Kept per (currency, rates) in the book's memo: a quote at the same rates builds nothing."""
    conversions = {source: c for source in sorted(book.priced_in - {currency}) if (c := rate(source)) is not None}
    key = (currency, tuple((source, c.rate, c.used) for source, c in conversions.items()))
    found: tuple[PromotionBook, Mapping[UUID, Conversion]] | None = book.converted.get(key)
    if found is None:
        taken: dict[UUID, Conversion] = {}
        promotions = []
        for promotion in book.ordered:
            source = money_currency(promotion)
            conversion = None if source is None else conversions.get(source)
            if conversion is not None:
                promotion = converted_promotion(promotion, conversion, currency)
                taken[promotion.id] = conversion
            promotions.append(promotion)
        if len(book.converted) >= 64:  # a memo per rates in force: the older ones go
            book.converted.clear()
        found = book.converted[key] = (PromotionBook(promotions), taken)
    return found

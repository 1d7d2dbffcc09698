"""Money: ISO 4217 currencies, their minor units, ROUND_HALF_UP rounding, and amounts that carry
their currency (`Money`, `MoneyByCurrency`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

# Active ISO 4217 codes by number of minor-unit digits (funds codes included).
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
    "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
    "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN "
    "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE "
    "SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES "
    "WST XCD XCG YER ZAR ZMW ZWG"
)
MINOR_UNITS: Final[dict[str, int]] = {
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(_FOUR.split(), 4),
}
_QUANTUM: Final = {digits: Decimal(1).scaleb(-digits) for digits in set(MINOR_UNITS.values())}
HUNDRED: Final = Decimal(100)
ZERO: Final = Decimal(0)
MAX_AMOUNT: Final = Decimal("1e12")
"""The ceiling of every money amount, in any currency: what the service takes (unit and catalog
prices, coupon and commission amounts, fees, flash and competitor prices) and what a quote computes
(lines, totals, commission) is below it. Stored amounts are numeric(20, 4) (below 1e16): 10^4 of
headroom for sums, and Decimal's 28 digits stay exact through every product of an amount and a
rate (docs/quotes-and-orders.md#the-money-ceiling)."""


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 code (upper case)."""
    return code in MINOR_UNITS


def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (KeyError for unknown codes)."""
    return MINOR_UNITS[currency]


MINOR_SCALES: dict[str, Decimal] = {currency: Decimal(10) ** digits for currency, digits in MINOR_UNITS.items()}
"""A currency's minor units a major one (TRY 100, JPY 1): an amount times it is its minor units."""


def to_minor(amounts: list[Decimal], currency: str) -> list[int]:
    """Each of `amounts` in `currency`'s minor units, all in one pass: exact, or ValueError naming the first that
    is not a whole number of them (amounts rounded to the currency already always are)."""
    scale = MINOR_SCALES[currency]
    scaled = [amount * scale for amount in amounts]
    whole = [int(each) for each in scaled]
    if scaled != whole:  # Decimal == int compares exactly
        bad = next(a for a, s, w in zip(amounts, scaled, whole, strict=True) if s != w)
        raise ValueError(f"{bad} {currency} is not a whole number of minor units")
    return whole


def quantum(currency: str) -> Decimal:
    """The smallest amount of `currency`, e.g. Decimal('0.01')."""
    return _QUANTUM[MINOR_UNITS[currency]]


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit; the one rounding rule of the service."""
    return amount.quantize(_QUANTUM[MINOR_UNITS[currency]], ROUND_HALF_UP)  # positional: half the cost of rounding=


def percent_shown(percent: Decimal) -> Decimal:
    """A stored percent as the API shows it: 12.5000 -> 12.5 and 10.0000 -> 10 (never 1E+1)."""
    reduced = percent.normalize()
    exponent = reduced.as_tuple().exponent
    return reduced.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else reduced


def fits_minor_units(amount: Decimal, currency: str) -> bool:
    """True when `amount` needs no rounding in `currency` (e.g. no third decimal in EUR)."""
    try:
        return amount == amount.quantize(_QUANTUM[MINOR_UNITS[currency]])
    except InvalidOperation:
        return False


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """`percent` % of `amount`, unrounded."""
    return amount * percent / HUNDRED


def plain(number: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form: 12.5000 → 12.5, 1E+2 → 100."""
    return Decimal(format(number.normalize(), "f"))


class MixedCurrencies(ValueError):
    """Arithmetic between amounts of two currencies: a bug in the caller, never a client's input."""


class Money:
    """An amount with its currency (as Saleor's `prices.Money`): adding or subtracting an amount in
    another currency raises `MixedCurrencies`, so a sum across currencies cannot be written by accident.

    Money leaving the single-currency quote engine (reports, statistics, summaries) is kept in this
    form; `MoneyByCurrency` keeps sums that may span currencies apart, one per currency.
    """

    __slots__ = ("amount", "currency")

    def __init__(self, amount: Decimal | int, currency: str) -> None:
        self.amount = Decimal(amount)
        self.currency = currency

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(ZERO, currency)

    def _same(self, other: Money, verb: str) -> None:
        if other.currency != self.currency:
            raise MixedCurrencies(f"cannot {verb} {other.currency} and {self.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other, "add")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other, "subtract")
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        return Money(self.amount * factor, self.currency)

    def __truediv__(self, divisor: int | Decimal) -> Money:
        """Divided by a number (an average); unrounded."""
        return Money(self.amount / divisor, self.currency)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.amount, self.currency) == (other.amount, other.currency)

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __repr__(self) -> str:
        return f"Money({str(self.amount)!r}, {self.currency!r})"

    def rounded(self) -> Money:
        """Rounded half up to the currency's minor units (the service's one rounding rule)."""
        return Money(round_money(self.amount, self.currency), self.currency)


class MoneyByCurrency:
    """Sums of money kept apart by currency: adding never mixes two currencies.

    `single()` is the one sum when exactly one currency is present, the value a report shows in
    its single-currency field (`revenue`); with several, that field is null and `rounded()` gives
    the per-currency sums (`revenue_by_currency`). A currency can be named before anything is
    added (`include`), so an empty sum still says which currency it is in.
    """

    __slots__ = ("_sums",)

    def __init__(self, parts: Iterable[Money] = ()) -> None:
        self._sums: dict[str, Money] = {}
        for part in parts:
            self.add(part)

    def include(self, currency: str) -> None:
        """Name `currency` as part of the sum (zero until something is added)."""
        self._sums.setdefault(currency, Money.zero(currency))

    def add(self, part: Money) -> None:
        self._sums[part.currency] = self._sums.get(part.currency, Money.zero(part.currency)) + part

    def __iter__(self) -> Iterator[Money]:
        """Each currency's sum (zero sums of included currencies too), by currency code."""
        return iter([self._sums[currency] for currency in sorted(self._sums)])

    def currencies(self) -> list[str]:
        return sorted(self._sums)

    def get(self, currency: str) -> Money:
        return self._sums.get(currency, Money.zero(currency))

    def single(self) -> Money | None:
        """The sum when exactly one currency is present; None with none or several."""
        if len(self._sums) != 1:
            return None
        [only] = self._sums.values()
        return only

    def rounded(self) -> dict[str, Decimal]:
        """{currency: sum rounded to its minor units}, by currency code."""
        return {currency: self._sums[currency].rounded().amount for currency in sorted(self._sums)}

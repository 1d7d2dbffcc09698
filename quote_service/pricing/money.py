"""Money: ISO 4217 currencies, their minor units, and ROUND_HALF_UP rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(_FOUR.split(), 4),
}
_QUANTUM = {digits: Decimal(1).scaleb(-digits) for digits in set(MINOR_UNITS.values())}
HUNDRED = Decimal(100)
ZERO = Decimal(0)


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 code (upper case)."""
    return code in MINOR_UNITS


def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (KeyError for unknown codes)."""
    return MINOR_UNITS[currency]


def quantum(currency: str) -> Decimal:
    """The smallest amount of `currency`, e.g. Decimal('0.01')."""
    return _QUANTUM[MINOR_UNITS[currency]]


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit; the one rounding rule of the service."""
    return amount.quantize(_QUANTUM[MINOR_UNITS[currency]], ROUND_HALF_UP)  # positional: half the cost of rounding=


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

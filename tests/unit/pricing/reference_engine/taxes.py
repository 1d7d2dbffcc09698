"""Taxes as markets have them, written again from docs/taxes.md: compound components, the exact inverse of
a tax-inclusive line, rounding modes (LINE or UNIT), exemptions. Shares only types with the engine.

Every amount before its one rounding is an exact fraction (`Fraction`), and the rounding is written here
from the modes' definitions: UNIT level taxes one unit, the line's amount / quantity exactly (3.25 / 3 at
18 % is 0.195, a tie), so no intermediate precision can decide a tie."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import floor

from quote_service.pricing.rules import PricingRule, TaxRateConfig
from quote_service.pricing.taxes import LineTax

Part = tuple[str, Decimal, bool]
"""(code, percent, compound)."""


def parts_of(rule: PricingRule | None, default_rate: Decimal) -> list[Part]:
    """docs/taxes.md: a rule's components, or its one rate (code TAX); no rule: the default rate."""
    if rule is None:
        return [("TAX", default_rate, False)]
    config = rule.configuration
    assert isinstance(config, TaxRateConfig)
    if config.components is None:
        assert config.rate is not None
        return [("TAX", config.rate, False)]
    return [(c.code, c.rate, c.compound) for c in config.components]


def grows_to(parts: list[Part]) -> Decimal:
    """What 1 of net becomes with every component: a compound one taxes the net and the taxes before it."""
    whole = Decimal(1)
    for _, rate, compound in parts:
        whole = whole * (1 + rate / 100) if compound else whole + rate / 100
    return whole


def percent_of_all(parts: list[Part]) -> Decimal:
    """The percent the components make together, without trailing zeros (44, 7.7)."""
    percent = (grows_to(parts) - 1) * 100
    return Decimal(format(percent.normalize(), "f"))


def to_grid(value: Fraction, mode: str, cent: Decimal) -> Decimal:
    """`value` (>= 0) on the grid of `cent`; a tie (exactly half a cent) goes up (HALF_UP), to the even
    cent (HALF_EVEN) or down (HALF_DOWN), as docs/taxes.md#rounding-modes defines them."""
    cents = value / Fraction(cent)
    low = floor(cents)
    rest = cents - low
    half = Fraction(1, 2)
    up = rest > half or (rest == half and (mode == "HALF_UP" or (mode == "HALF_EVEN" and low % 2 == 1)))
    return (low + (1 if up else 0)) * cent


def _grows_to(parts: list[Part]) -> Fraction:
    """`grows_to`, exactly."""
    whole = Fraction(1)
    for _, rate, compound in parts:
        whole = whole * (1 + Fraction(rate) / 100) if compound else whole + Fraction(rate) / 100
    return whole


def held(gross: Decimal, parts: list[Part], units: int, mode: str, cent: Decimal) -> Decimal:
    """The tax a gross amount holds: round(gross x (F - 1) / F), per unit x units at UNIT level (units > 1)."""
    whole = _grows_to(parts)
    return to_grid(Fraction(gross) / units * (whole - 1) / whole, mode, cent) * units


def on_net(net: Decimal, parts: list[Part], units: int, mode: str, cent: Decimal) -> list[LineTax]:
    """Each component on a net amount, in order, each rounded (per unit, x units, at UNIT level)."""
    found: list[LineTax] = []
    one = Fraction(net) / units
    unit_taxes = Fraction(0)
    line_taxes = Decimal(0)
    for code, rate, compound in parts:
        unit_base = one + unit_taxes if compound else one
        unit_amount = to_grid(unit_base * Fraction(rate) / 100, mode, cent)
        found.append(
            LineTax(code=code, rate=rate, base=net + line_taxes if compound else net, amount=unit_amount * units)
        )
        unit_taxes += Fraction(unit_amount)
        line_taxes += unit_amount * units
    return found


def inverted(gross: Decimal, parts: list[Part], units: int, mode: str, cent: Decimal) -> tuple[Decimal, list[LineTax]]:
    """(net, components) of a gross amount: the components but the last on the net, the last the rest;
    ones that rounded past the whole give the excess back, the latest first."""
    tax = held(gross, parts, units, mode, cent)
    net = gross - tax
    first = on_net(net, parts[:-1], units, mode, cent) if len(parts) > 1 else []
    over = sum((t.amount for t in first), Decimal(0)) - tax
    for at in reversed(range(len(first))):
        if over <= 0:
            break
        back = min(first[at].amount, over)
        first[at] = LineTax(
            code=first[at].code, rate=first[at].rate, base=first[at].base, amount=first[at].amount - back
        )
        over -= back
    before = sum((t.amount for t in first), Decimal(0))
    code, rate, compound = parts[-1]
    return net, [*first, LineTax(code=code, rate=rate, base=net + before if compound else net, amount=tax - before)]

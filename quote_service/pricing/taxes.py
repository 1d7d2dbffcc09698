"""Taxes as markets have them (docs/taxes.md): compound components, rounding modes, exemptions. Pure.

A TAX_RATE rule is one rate or a list of components. Each component is on the line's net; a
`compound` one on the net plus the components before it (Turkish KDV on a price that holds ÖTV).
Forward, on a net line worth N:

    base_i = N + sum(amount_j, j < i)   (compound)      base_i = N   (not compound)
    amount_i = round(base_i x rate_i / 100)             each rounded once, in the terms' mode

Inverted, on a tax-inclusive line worth G: every component together is the fraction
(F - 1) / F of G, where F = 1 + sum(coefficient_i) is what one unit of net becomes with its taxes.
The tax contained is round(G x (F - 1) / F) (for one plain rate, docs/markets.md's round(G x r / (100 + r))),
the net is G - that tax, each component but the last is the forward amount on that net, and the
last takes the remainder: net + sum(amounts) = G always.

`TAX_CALCULATION = INVOICE` rounds once per invoice: each line's components are worked out exactly (no
rounding; a tax-inclusive line's contained tax is (F - 1) / F of its gross, its components forward on the exact
net), then per tax code and rate (and per kind: added or contained) the lines' exact amounts are summed,
the sum rounded once in the terms' mode, and given back to the lines by largest remainder: each line takes
its amount rounded down, and the cents left go one each to the largest remainders (ties: the lower line
index). The lines add up exactly to each rounded sum (`invoice_taxes`).

`TAX_CALCULATION = UNIT` works the same on one unit (the line's amount / quantity, exactly: the division
is the last operation before rounding, so a half-cent tie is a tie), rounds, and multiplies by the
quantity; the inverse's last component still takes the line's remainder.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Final, Literal

import msgspec

from quote_service.pricing.money import plain
from quote_service.pricing.rules import TaxRateConfig

RoundingMode = Literal["HALF_UP", "HALF_EVEN", "HALF_DOWN"]
TaxCalculation = Literal["LINE", "UNIT", "INVOICE"]
TaxExemption = Literal["none", "exempt", "reverse_charge"]
ROUNDINGS: Final[dict[str, str]] = {
    "HALF_UP": ROUND_HALF_UP,
    "HALF_EVEN": ROUND_HALF_EVEN,
    "HALF_DOWN": ROUND_HALF_DOWN,
}
"""Each ROUNDING_MODE and the `decimal` rounding it names."""
PLAIN_CODE: Final = "TAX"
"""The code of the one component of a single-rate TAX_RATE rule (and of the default rate)."""
_HUNDRED: Final = Decimal(100)


class Component(msgspec.Struct, frozen=True):
    """One tax of a TAX_RATE rule: its code, percent rate, and whether it is on the net plus the taxes before it."""

    code: str
    rate: Decimal
    compound: bool = False


class LineTax(msgspec.Struct, frozen=True, kw_only=True):
    """One component's share of a line, as the line shows it."""

    code: str
    rate: Decimal
    base: Decimal
    amount: Decimal


class Rounding(msgspec.Struct, frozen=True, kw_only=True):
    """How a quote rounds its taxes (ROUNDING_MODE, TAX_CALCULATION, or its price list's)."""

    mode: RoundingMode = "HALF_UP"
    tax_calculation: TaxCalculation = "LINE"


DEFAULT_ROUNDING: Final = Rounding()


def rule_components(config: TaxRateConfig) -> tuple[Component, ...]:
    """A TAX_RATE rule's components; a single-rate rule's is one, code TAX."""
    if config.components is None:
        return (Component(PLAIN_CODE, config.rate or Decimal(0)),)
    return tuple(Component(part.code, part.rate, part.compound) for part in config.components)


def multiplier(components: tuple[Component, ...]) -> Decimal:
    """F: what one unit of net becomes with all its taxes (ÖTV 20 then compound KDV 20: 1.44)."""
    total = Decimal(1)
    for component in components:
        coefficient = component.rate / _HUNDRED
        total += coefficient * total if component.compound else coefficient
    return total


def effective_rate(components: tuple[Component, ...]) -> Decimal:
    """The percent all components add to the net together (ÖTV 20 then compound KDV 20: 44)."""
    return plain((multiplier(components) - 1) * _HUNDRED)


def _forward(
    net: Decimal, components: tuple[Component, ...], units: int, cent: Decimal, rounding: str, count: int
) -> list[LineTax]:
    """The first `count` components on a net line worth `net` of `units` units (units > 1: UNIT level).

    At UNIT level a component is rounded on one unit's share, `line base / units`: worked as ONE
    division of the line's base x rate by 100 x units, so a unit worth 3.25 / 3 taxed at 18 % is
    exactly 0.195 (rounds to 0.20), never a 28-digit 0.19499... that would round to 0.19."""
    shown: list[LineTax] = []
    line_before = Decimal(0)  # the line amounts of the components so far (each unit amount x units)
    divisor = _HUNDRED * units
    for component in components[:count]:
        line_base = net + line_before if component.compound else net
        amount = (line_base * component.rate / divisor).quantize(cent, rounding)
        line_amount = amount * units
        shown.append(LineTax(code=component.code, rate=component.rate, base=line_base, amount=line_amount))
        line_before += line_amount
    return shown


def added(
    net: Decimal, components: tuple[Component, ...], *, quantity: int, cent: Decimal, rounding: Rounding
) -> list[LineTax]:
    """Every component of a net line worth `net` (after its discount), added on top of it."""
    units = quantity if rounding.tax_calculation == "UNIT" else 1
    return _forward(net, components, units, cent, ROUNDINGS[rounding.mode], len(components))


def contained_total(
    gross: Decimal, components: tuple[Component, ...], *, quantity: int, cent: Decimal, rounding: Rounding
) -> Decimal:
    """The tax a tax-inclusive line worth `gross` contains: round(gross x (F - 1) / F), once (per unit: x quantity)."""
    mode = ROUNDINGS[rounding.mode]
    factor = multiplier(components)
    if rounding.tax_calculation == "UNIT" and quantity > 1:  # one division: a unit's exact share (see `_forward`)
        return (gross * (factor - 1) / (factor * quantity)).quantize(cent, mode) * quantity
    return (gross * (factor - 1) / factor).quantize(cent, mode)


def contained(
    gross: Decimal, components: tuple[Component, ...], *, quantity: int, cent: Decimal, rounding: Rounding
) -> tuple[Decimal, list[LineTax]]:
    """(net, components) of a tax-inclusive line worth `gross`: net + sum(amounts) = gross exactly."""
    tax = contained_total(gross, components, quantity=quantity, cent=cent, rounding=rounding)
    net = gross - tax
    units = quantity if rounding.tax_calculation == "UNIT" else 1
    shown = _forward(net, components, units, cent, ROUNDINGS[rounding.mode], len(components) - 1)
    taken = sum((part.amount for part in shown), Decimal(0))
    if taken > tax:  # the earlier components rounded above the whole: they give the excess back, last first
        shown = _give_back(shown, taken - tax)
        taken = tax
    last = components[-1]
    base = net + taken if last.compound else net
    remainder = tax - taken
    shown.append(LineTax(code=last.code, rate=last.rate, base=base, amount=remainder))
    return net, shown


def _give_back(shown: list[LineTax], excess: Decimal) -> list[LineTax]:
    """`shown` with `excess` taken off its amounts, from the last component back, none below zero."""
    out = list(shown)
    for at in range(len(out) - 1, -1, -1):
        part = out[at]
        taken = min(part.amount, excess)
        out[at] = msgspec.structs.replace(part, amount=part.amount - taken)
        excess -= taken
        if not excess:
            break
    return out


def rounded(amount: Decimal, cent: Decimal, rounding: Rounding) -> Decimal:
    """`amount` on the currency's grid in the terms' mode."""
    return amount.quantize(cent, ROUNDINGS[rounding.mode])


class InvoiceLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line as invoice rounding reads it: what it charges after its discount and its taxes' components."""

    amount: Decimal
    """Net when taxes are added to it; gross (tax contained) when `inclusive`."""
    components: tuple[Component, ...]
    inclusive: bool = False


def _exact_parts(line: InvoiceLine) -> list[Fraction]:
    """The line's component amounts, exact: forward on its net, or on the exact net its gross contains."""
    net = Fraction(line.amount)
    if line.inclusive:
        net /= Fraction(multiplier(line.components))
    parts: list[Fraction] = []
    before = Fraction(0)
    for component in line.components:
        base = net + before if component.compound else net
        amount = base * Fraction(component.rate) / 100
        parts.append(amount)
        before += amount
    return parts


def invoice_taxes(lines: list[InvoiceLine], *, cent: Decimal, rounding: Rounding) -> list[list[LineTax]]:
    """Each line's taxes under TAX_CALCULATION = INVOICE (see the module docstring): per (code, rate, added or
    contained), the exact sum rounded once, given back by largest remainder, ties to the lower line index."""
    exact = [_exact_parts(line) for line in lines]
    groups: dict[tuple[str, Decimal, bool], list[tuple[int, int]]] = {}
    for index, line in enumerate(lines):
        for at, component in enumerate(line.components):
            groups.setdefault((component.code, component.rate, line.inclusive), []).append((index, at))
    amounts = [[Decimal(0)] * len(line.components) for line in lines]
    for members in groups.values():
        values = [exact[index][at] for index, at in members]
        for (index, at), share in zip(members, largest_remainder(values, cent, rounding.mode), strict=True):
            amounts[index][at] = share
    shown: list[list[LineTax]] = []
    for index, line in enumerate(lines):
        net = line.amount - sum(amounts[index], Decimal(0)) if line.inclusive else line.amount
        taxes: list[LineTax] = []
        before = Decimal(0)
        for component, amount in zip(line.components, amounts[index], strict=True):
            base = net + before if component.compound else net
            taxes.append(LineTax(code=component.code, rate=component.rate, base=base, amount=amount))
            before += amount
        shown.append(taxes)
    return shown


def _round_fraction(value: Fraction, mode: RoundingMode) -> int:
    """`value` rounded to an integer in `mode` (half up and half down away from / towards zero)."""
    whole, rest = divmod(abs(value), 1)
    half = Fraction(1, 2)
    if rest > half or (rest == half and (mode == "HALF_UP" or (mode == "HALF_EVEN" and whole % 2 == 1))):
        whole += 1
    return int(whole) if value >= 0 else -int(whole)


def largest_remainder(values: list[Fraction], cent: Decimal, mode: RoundingMode) -> list[Decimal]:
    """Exact `values` on the grid, adding up to their sum rounded once in `mode`: each rounded down, then one
    cent more to each of the largest remainders (ties: the lower index) until the sum is reached."""
    step = Fraction(cent)
    units = [value / step for value in values]
    floors = [math.floor(unit) for unit in units]
    left = _round_fraction(sum(units, Fraction(0)), mode) - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (floors[i] - units[i], i))
    for index in order[:left]:
        floors[index] += 1
    return [cent * floor for floor in floors]

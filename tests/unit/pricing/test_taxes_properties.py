"""Taxes as markets have them (docs/taxes.md) over random baskets, against a reference in exact fractions.

Compound TAX_RATEs (1 to 3 components, compound or not), net and tax-inclusive products, a coupon,
an exemption, every ROUNDING_MODE and TAX_CALCULATION, in currencies with 0, 2 and 3 digits. The
reference shares only types with the engine: it rounds with its own half-up/half-even/half-down.

- per line: tax = the sum of its components, each as the reference computes it (the last component
  of a tax-inclusive line takes the remainder: net + tax = gross); an exempt line has none;
- per quote: total_amount = subtotal - discount_amount + tax_amount + fees (an exempt tax-inclusive line's
  subtotal leaves out the tax its price held, `tax_exempted`);
- a compound component is never below the same component on the net alone.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET
from msgspec.structs import replace

from quote_service.pricing.money import minor_units
from quote_service.pricing.quote import EngineDefaults
from quote_service.pricing.rules import TaxComponentConfig, TaxRateConfig
from quote_service.pricing.taxes import Component, Rounding, added
from tests.unit.pricing.test_engine_support import coupon, item, product, quote, request, rule, snapshot

CURRENCIES = ("EUR", "JPY", "KWD")
RATES = ("0", "1", "7.7", "8", "18", "20", "25", "100")
MODES = ("HALF_UP", "HALF_EVEN", "HALF_DOWN")


def _round(value: Fraction, digits: int, mode: str) -> Fraction:
    """`value` (>= 0) to `digits` decimals, ties as `mode` says."""
    scaled = value * 10**digits
    low = floor(scaled)
    rest = scaled - low
    up = rest > Fraction(1, 2) or (
        rest == Fraction(1, 2) and (mode == "HALF_UP" or (mode == "HALF_EVEN" and low % 2 == 1))
    )
    return Fraction(low + (1 if up else 0), 10**digits)


def _factor(parts: list[tuple[Fraction, bool]]) -> Fraction:
    total = Fraction(1)
    for rate, compound in parts:
        total += rate / 100 * (total if compound else 1)
    return total


def _forward(net: Fraction, parts: list[tuple[Fraction, bool]], units: int, digits: int, mode: str) -> list[Fraction]:
    unit = net / units
    amounts, before = [], Fraction(0)
    for rate, compound in parts:
        amount = _round((unit + before if compound else unit) * rate / 100, digits, mode)
        amounts.append(amount * units)
        before += amount
    return amounts


@st.composite
def baskets(draw: Any) -> dict[str, Any]:
    currency = draw(st.sampled_from(CURRENCIES))
    digits = minor_units(currency)
    parts = draw(st.lists(st.tuples(st.sampled_from(RATES), st.booleans()), min_size=1, max_size=3))
    lines = draw(
        st.lists(
            st.tuples(st.integers(1, 99_999), st.integers(1, 7), st.booleans(), st.booleans()), min_size=1, max_size=4
        )
    )
    return {
        "currency": currency,
        "digits": digits,
        "parts": [(Decimal(rate), compound) for rate, compound in parts],
        "lines": lines,
        "exemption": draw(st.sampled_from((None, "exempt", "reverse_charge"))),
        "rounding": Rounding(
            mode=draw(st.sampled_from(MODES)), tax_calculation=draw(st.sampled_from(("LINE", "UNIT")))
        ),
        "coupon": draw(st.sampled_from((None, "7", "33"))),
    }


@settings(max_examples=150, deadline=None)
@given(baskets())
def test_every_line_and_total_reconciles_in_every_mode(basket: dict[str, Any]) -> None:
    currency, digits, rounding = basket["currency"], basket["digits"], basket["rounding"]
    config = TaxRateConfig(
        components=tuple(
            TaxComponentConfig(code=f"T{at}", rate=rate, compound=compound)
            for at, (rate, compound) in enumerate(basket["parts"])
        )
    )
    products, items = [], []
    for minor, quantity, inclusive, taxed in basket["lines"]:
        price = str(Decimal(minor).scaleb(-digits))
        found = replace(
            product(price, currency=currency, category="taxed" if taxed else "plain"), prices_include_tax=inclusive
        )
        products.append(found)
        items.append(item(found, quantity))
    fields: dict[str, Any] = {"currency": currency}
    if basket["exemption"]:
        fields |= {"tax_exemption": basket["exemption"], "customer_tax_id": "DE1"}
    coupons = []
    if basket["coupon"]:
        coupons = [coupon("SOME", value=basket["coupon"])]
        fields["coupon_codes"] = ["SOME"]
    defaults = EngineDefaults(currency=currency, rounding=rounding)
    config_snapshot = snapshot(rules=[rule(config, category_id="taxed")], coupons=coupons)
    wanted = request(*items, **fields)
    priced = quote(wanted, products=products, defaults=defaults, config=config_snapshot)
    again = quote(wanted, products=products, defaults=defaults, config=config_snapshot)  # lines kept by the plan
    assert msgspec.json.encode(again) == msgspec.json.encode(priced)

    parts = [(Fraction(rate), compound) for rate, compound in basket["parts"]]
    exempted_total = tax_added = Fraction(0)
    active = basket["exemption"] or rounding != Rounding() or any(line[3] for line in basket["lines"])
    for line, (_, quantity, inclusive, taxed) in zip(priced.items, basket["lines"], strict=True):
        mine = parts if taxed else [(Fraction(18), False)]  # DEFAULT_TAX_RATE where no rule matches
        after = Fraction(line.line_subtotal - line.discount)
        if isinstance(line.tax_exempted, Decimal):  # its subtotal left out the tax its price held
            after += Fraction(line.tax_exempted)
        units = quantity if rounding.tax_calculation == "UNIT" else 1
        factor = _factor(mine)
        held = _round(after / units * (factor - 1) / factor, digits, rounding.mode) * units
        if basket["exemption"]:
            assert (line.tax, line.taxes, line.tax_exemption) == (0, [], basket["exemption"])
            if inclusive:
                exempted_total += held
                assert Fraction(line.tax_exempted) == held
                assert Fraction(line.net) == after - held == Fraction(line.line_subtotal - line.discount)
            continue
        amounts = [Fraction(t.amount) for t in line.taxes] if active else [Fraction(line.tax)]
        assert Fraction(line.tax) == sum(amounts)
        if inclusive:
            net = after - held
            expected = _forward(net, mine, units, digits, rounding.mode)[:-1]
            over = sum(expected) - held  # earlier components rounded past the whole give it back, latest first
            for at in reversed(range(len(expected))):
                back = min(expected[at], max(over, Fraction(0)))
                expected[at] -= back
                over -= back
            assert amounts[:-1] == expected
            assert sum(amounts) == held
            assert Fraction(line.net) == net
            assert Fraction(line.net) + Fraction(line.tax) == Fraction(line.gross) == after
        else:
            assert amounts == _forward(after, mine, units, digits, rounding.mode)
            tax_added += sum(amounts)
    assert Fraction(priced.tax_amount) == tax_added
    exempted = priced.tax_exempted if priced.tax_exempted is not UNSET else Decimal(0)
    assert Fraction(exempted) == exempted_total
    assert priced.total_amount == (
        priced.subtotal - priced.discount_amount + priced.tax_amount + priced.delivery_fee + priced.small_basket_fee
    )
    assert priced.subtotal == sum(line.line_subtotal for line in priced.items)
    assert priced.rounding == (rounding if active else UNSET)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**9),
    st.lists(st.sampled_from(RATES), min_size=1, max_size=4),
    st.sampled_from(MODES),
    st.integers(1, 9),
)
def test_a_compound_tax_is_never_below_the_simple_one(minor: int, rates: list[str], mode: str, quantity: int) -> None:
    net = Decimal(minor).scaleb(-2)
    cent = Decimal("0.01")
    for level in ("LINE", "UNIT"):
        rounding = Rounding(mode=mode, tax_calculation=level)  # type: ignore[arg-type]
        simple = added(net, tuple(Component("T", Decimal(r)) for r in rates), quantity=quantity, cent=cent,
                       rounding=rounding)  # fmt: skip
        compound = added(net, tuple(Component("T", Decimal(r), True) for r in rates), quantity=quantity, cent=cent,
                         rounding=rounding)  # fmt: skip
        assert all(c.amount >= s.amount for c, s in zip(compound, simple, strict=True))

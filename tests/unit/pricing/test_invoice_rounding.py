"""TAX_CALCULATION = INVOICE (pricing/taxes.py invoice_taxes): per tax code and rate the exact sum rounded once,
given back to the lines by largest remainder (ties to the lower line index), so they add up to it exactly."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quote_service.pricing.taxes import Component, InvoiceLine, Rounding, invoice_taxes, largest_remainder

pytestmark = pytest.mark.unit
CENT = Decimal("0.01")
INVOICE = Rounding(tax_calculation="INVOICE")
KDV = (Component("KDV", Decimal(18)),)


def test_three_lines_each_a_third_of_a_cent_over_round_once_on_their_sum() -> None:
    lines = [InvoiceLine(amount=Decimal("0.10"), components=KDV) for _ in range(3)]  # 0.018 each
    shown = invoice_taxes(lines, cent=CENT, rounding=INVOICE)
    assert [t[0].amount for t in shown] == [Decimal("0.02"), Decimal("0.02"), Decimal("0.01")]  # 0.054 → 0.05
    assert [t[0].base for t in shown] == [Decimal("0.10")] * 3


def test_the_largest_remainder_takes_the_cent_and_a_tie_goes_to_the_lower_index() -> None:
    values = [Fraction("0.014"), Fraction("0.017"), Fraction("0.017")]  # 0.048 → 0.05: floors 0.03, two cents left
    assert largest_remainder(values, CENT, "HALF_UP") == [Decimal("0.01"), Decimal("0.02"), Decimal("0.02")]
    tie = [Fraction("0.005"), Fraction("0.005")]  # 0.01: one cent, to the first
    assert largest_remainder(tie, CENT, "HALF_UP") == [Decimal("0.01"), Decimal("0.00")]
    assert largest_remainder([Fraction("0.005")], CENT, "HALF_EVEN") == [Decimal("0.00")]
    assert largest_remainder([Fraction("0.015")], CENT, "HALF_EVEN") == [Decimal("0.02")]
    assert largest_remainder([Fraction("0.005")], CENT, "HALF_DOWN") == [Decimal("0.00")]
    assert largest_remainder([Fraction(1, 6) / 100, Fraction(2, 6) / 100], CENT, "HALF_UP") == [
        Decimal("0.00"),
        Decimal("0.01"),
    ]  # 1/6 + 2/6 of a cent is exactly half a cent: rounded up, to the larger remainder


def test_each_code_of_compound_taxes_is_rounded_on_its_own_sum_and_contained_tax_on_the_gross() -> None:
    otv_kdv = (Component("OTV", Decimal(20)), Component("KDV", Decimal(18), compound=True))
    lines = [
        InvoiceLine(amount=Decimal("3.33"), components=otv_kdv),
        InvoiceLine(amount=Decimal("4.44"), components=otv_kdv),
        InvoiceLine(amount=Decimal("5.55"), components=KDV, inclusive=True),
        InvoiceLine(amount=Decimal("6.66"), components=KDV, inclusive=True),
    ]
    shown = invoice_taxes(lines, cent=CENT, rounding=INVOICE)
    otv = sum(t[0].amount for t in shown[:2])
    assert otv == (Decimal("7.77") * Decimal("0.2")).quantize(CENT, ROUND_HALF_UP)
    contained = sum(t[0].amount for t in shown[2:])
    assert contained == (Decimal("12.21") * 18 / Decimal(118)).quantize(CENT, ROUND_HALF_UP)
    assert shown[2][0].base + shown[2][0].amount == Decimal("5.55")  # net + contained tax = gross


amounts = st.decimals(Decimal("0.01"), Decimal("5000.00"), places=2)
rates = st.sampled_from([Decimal(1), Decimal(8), Decimal(18), Decimal("7.5"), Decimal(20)])


@given(
    st.lists(st.tuples(amounts, rates, st.booleans()), min_size=1, max_size=30),
    st.sampled_from(["HALF_UP", "HALF_EVEN", "HALF_DOWN"]),
)
def test_the_lines_sum_to_the_invoice_tax_of_every_rate_and_each_is_within_a_cent_of_exact(
    drawn: list[tuple[Decimal, Decimal, bool]], mode: str
) -> None:
    lines = [InvoiceLine(amount=a, components=(Component("TAX", r),), inclusive=i) for a, r, i in drawn]
    shown = invoice_taxes(lines, cent=CENT, rounding=Rounding(mode=mode, tax_calculation="INVOICE"))  # type: ignore[arg-type]
    groups: dict[tuple[Decimal, bool], tuple[Decimal, Fraction]] = {}
    for line, taxes in zip(lines, shown, strict=True):
        rate = Fraction(line.components[0].rate)
        amount = Fraction(line.amount)
        exact = amount * rate / (100 + rate) if line.inclusive else amount * rate / 100
        assert abs(Fraction(taxes[0].amount) - exact) < Fraction(CENT)
        assert taxes[0].amount == taxes[0].amount.quantize(CENT)
        given_sum, exact_sum = groups.get((line.components[0].rate, line.inclusive), (Decimal(0), Fraction(0)))
        groups[(line.components[0].rate, line.inclusive)] = (given_sum + taxes[0].amount, exact_sum + exact)
    for given_sum, exact_sum in groups.values():
        cents = exact_sum * 100
        whole, rest = divmod(cents, 1)
        up = rest > Fraction(1, 2) or (
            rest == Fraction(1, 2) and (mode == "HALF_UP" or (mode == "HALF_EVEN" and whole % 2 == 1))
        )
        assert given_sum == Decimal(int(whole) + up) / 100

"""The contract's worked numbers for taxes as markets have them (docs/taxes.md), on the pure functions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quote_service.pricing.installments import split
from quote_service.pricing.taxes import Component, Rounding, added, contained, effective_rate, multiplier, rounded

D = Decimal
CENT = D("0.01")
OTV_KDV = (Component("OTV", D(20)), Component("KDV", D(20), compound=True))


def test_kdv_is_on_the_net_plus_otv_and_the_rate_they_make_together() -> None:
    parts = added(D("100.00"), OTV_KDV, quantity=1, cent=CENT, rounding=Rounding())
    assert [(p.code, p.base, p.amount) for p in parts] == [
        ("OTV", D("100.00"), D("20.00")),
        ("KDV", D("120.00"), D("24.00")),
    ]
    assert (multiplier(OTV_KDV), effective_rate(OTV_KDV)) == (D("1.44"), D(44))


def test_a_gross_line_inverts_exactly_the_last_component_taking_the_remainder() -> None:
    assert contained(D("144.00"), OTV_KDV, quantity=1, cent=CENT, rounding=Rounding())[0] == D("100.00")
    net, parts = contained(D("99.99"), OTV_KDV, quantity=1, cent=CENT, rounding=Rounding())
    assert (net, [p.amount for p in parts]) == (D("69.44"), [D("13.89"), D("16.66")])
    assert net + sum(p.amount for p in parts) == D("99.99")


@pytest.mark.parametrize(("mode", "expected"), [("HALF_UP", "0.13"), ("HALF_EVEN", "0.12"), ("HALF_DOWN", "0.12")])
def test_the_rounding_modes(mode: str, expected: str) -> None:
    assert rounded(D("0.125"), CENT, Rounding(mode=mode)) == D(expected)  # type: ignore[arg-type]


def test_line_and_unit_tax_calculation() -> None:
    plain = (Component("TAX", D(18)),)
    line = added(D("29.97"), plain, quantity=3, cent=CENT, rounding=Rounding())
    unit = added(D("29.97"), plain, quantity=3, cent=CENT, rounding=Rounding(tax_calculation="UNIT"))
    assert (line[0].amount, unit[0].amount) == (D("5.39"), D("5.40"))


def test_unit_tax_rounds_an_exact_half_cent_per_unit_up() -> None:
    # docs/taxes.md#rounding-modes: 3 x 1.50 less a 1.25 coupon is 3.25; one unit is 3.25 / 3 exactly and
    # its tax 0.195 (a tie), 0.20 half up, x 3 = 0.60 (LINE: round(0.585) = 0.59). Worked with an inexact
    # 1.0833... the tie was 0.19499... and 0.57 came out.
    plain = (Component("TAX", D(18)),)
    unit = Rounding(tax_calculation="UNIT")
    assert added(D("3.25"), plain, quantity=3, cent=CENT, rounding=unit)[0].amount == D("0.60")
    assert added(D("3.25"), plain, quantity=3, cent=CENT, rounding=Rounding())[0].amount == D("0.59")
    down = Rounding(mode="HALF_DOWN", tax_calculation="UNIT")
    assert added(D("3.25"), plain, quantity=3, cent=CENT, rounding=down)[0].amount == D("0.57")
    # A compound component's unit base is the unit's net plus the unit amounts before it, exactly too.
    kdv = (Component("OTV", D(10)), Component("KDV", D(18), compound=True))
    assert [p.amount for p in added(D("3.25"), kdv, quantity=3, cent=CENT, rounding=unit)] == [D("0.33"), D("0.63")]


def test_unit_tax_held_in_a_gross_line_is_one_units_exact_share() -> None:
    # 6 units worth 7.67 at 18 %: one unit holds 7.67 / 6 x 18 / 118 = 0.195 exactly (a tie): 0.20 x 6 = 1.20.
    plain = (Component("TAX", D(18)),)
    unit = Rounding(tax_calculation="UNIT")
    net, parts = contained(D("7.67"), plain, quantity=6, cent=CENT, rounding=unit)
    assert (net, parts[0].amount) == (D("6.47"), D("1.20"))


def test_earlier_components_that_round_past_the_whole_give_it_back() -> None:
    # 0.51 at three 1 % taxes holds round(0.51 x 0.03 / 1.03) = 0.01; net 0.50; each forward 0.01 (0.005 up)
    ones = (Component("A", D(1)), Component("B", D(1)), Component("C", D(1)))
    net, parts = contained(D("0.51"), ones, quantity=1, cent=CENT, rounding=Rounding())
    assert (net, [p.amount for p in parts]) == (D("0.50"), [D("0.01"), D("0.00"), D("0.00")])


def test_installments_split_exactly_the_first_taking_the_remainder() -> None:
    assert split(D("1190.00"), 3, CENT) == (D("396.66"), D("396.68"))
    assert split(D("1279.25"), 9, CENT) == (D("142.13"), D("142.21"))
    assert split(D("100"), 3, D(1)) == (D(33), D(34))

"""The money primitives shared after the quote (pricing/settlement.py): the payout formula, a line's commission,
and the one remainder rule, `prorate`, of which a refund's `units_share` is the incremental form."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from quote_service.pricing.settlement import commission_tax, goods, line_commission, payout, prorate, units_share

D = Decimal
CENT = D("0.01")
cents = st.integers(0, 10**7).map(lambda n: D(n) / 100)


def test_the_payout_formula() -> None:
    paid = payout(goods=D("100.00"), tax=D("18.00"), platform=D("5.00"), commission=D("12.00"),
                  commission_tax=D("2.40"), delivery=D("9.90"))  # fmt: skip
    assert paid == D("118.50")
    assert line_commission(D("5.00"), D("3.00"), D("1.20"), D("0.80")) == D("10.00")
    assert goods(D("118.00"), D("0"), D("18.00"), inclusive=True) == D("100.00")
    assert goods(D("100.00"), D("10.00"), D("18.00"), inclusive=False) == D("90.00")


def test_the_remainder_goes_to_the_last_share() -> None:
    assert prorate(D("10.00"), [D(1), D(1), D(1)], CENT) == [D("3.33"), D("3.33"), D("3.34")]
    assert prorate(D("0.05"), [D(0), D(0)], CENT) == [D(0), D("0.05")]  # no weight: the last takes it all


def test_a_cap_sends_the_remainder_to_the_last_share_with_room() -> None:
    assert prorate(D("10.00"), [D(1), D(1), D(1)], CENT, caps=[D("5"), D("5"), D("3.00")]) == [
        D("3.33"),
        D("3.67"),
        D("3.00"),
    ]


@given(cents, st.lists(cents, min_size=1, max_size=6))
def test_the_shares_add_up_to_the_amount_and_none_is_negative(amount: Decimal, weights: list[Decimal]) -> None:
    shares = prorate(amount, weights, CENT)
    assert sum(shares, D(0)) == amount
    assert all(share >= 0 for share in shares)


@given(cents, st.integers(1, 40), st.data())
def test_units_share_is_prorate_over_equal_units_taken_in_order(
    charged: Decimal, quantity: int, data: st.DataObject
) -> None:
    """A refund of units after units takes, in total, what prorating the part over equal units gives them."""
    shares = prorate(charged, [D(1)] * quantity, CENT)
    done_units, done = 0, D(0)
    while done_units < quantity:
        units = data.draw(st.integers(1, quantity - done_units))
        take = units_share(charged, quantity, done_units, done, units, CENT, ROUND_HALF_UP)
        done_units, done = done_units + units, done + take
        assert done == sum(shares[:done_units], D(0))
    assert done == charged


def test_the_commission_tax_is_a_percent_rounded_half_up_once() -> None:
    assert commission_tax(D("10.00"), D(20), CENT) == D("2.00")
    assert commission_tax(D("0.25"), D(18), CENT) == D("0.05")  # 0.045: half up, not to the even cent
    assert commission_tax(D("0.35"), D(10), CENT) == D("0.04")  # 0.035
    assert commission_tax(D("12.34"), D(0), CENT) == D("0.00")


def test_a_share_never_runs_past_what_is_left() -> None:
    """0.01 over two equal weights: the first rounds up to all of it, the second gets none (never a share above
    what is left, nor a negative one taking it back)."""
    assert prorate(D("0.01"), [D(1), D(1), D(0)], CENT) == [D("0.01"), D(0), D(0)]

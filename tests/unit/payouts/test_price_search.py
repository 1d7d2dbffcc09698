"""The smallest price that pays a target (payouts/price_search.py), against a brute-force scan: payouts that dip by
rounding, that drop at a threshold, that never reach the target, and prices that cannot be quoted."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.payouts.price_search import Priced, smallest_price

D = Decimal
CENT = D("0.01")


def rounded(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def marketplace(rates: list[Decimal], fee: Decimal, free_above: int | None, ceiling: int):  # type: ignore[no-untyped-def]
    """A payout as a marketplace pays one line at `price` minor units: 20 % VAT, each rate a separately rounded
    commission on the gross, a delivery fee that is the seller's until the goods reach `free_above`."""

    def payout_at(price: int) -> Priced | None:
        if price > ceiling:
            return None
        net = D(price).scaleb(-2)
        tax = rounded(net * D("0.2"))
        commission = sum((rounded((net + tax) * rate / 100) for rate in rates), D(0))
        free = free_above is not None and price >= free_above
        delivery = D(0) if free else fee
        return Priced(net + tax - commission + delivery, free)

    return payout_at


def brute_force(payout_at, target: Decimal, low: int, high: int) -> int | None:  # type: ignore[no-untyped-def]
    for price in range(low, high + 1):
        priced = payout_at(price)
        if priced is None:
            return None
        if priced.payout >= target:
            return price
    return None


rates = st.lists(st.sampled_from([D(15), D(4), D("2.5"), D(33), D("0.5"), D(49)]), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    rates=rates,
    fee=st.sampled_from([D(0), D("4.99"), D("29.90")]),
    free_above=st.one_of(st.none(), st.integers(100, 20_000)),
    target=st.integers(1, 40_000).map(lambda n: D(n).scaleb(-2)),
    low=st.integers(1, 300),
)
def test_the_search_finds_what_a_scan_of_every_price_finds(
    rates: list[Decimal], fee: Decimal, free_above: int | None, target: Decimal, low: int
) -> None:
    high = 60_000
    payout_at = marketplace(rates, fee, free_above, high)
    slack = CENT * (2 * len(rates) + 1)

    found = smallest_price(payout_at, target, low=low, high=high, slack=slack)

    assert found == brute_force(payout_at, target, low, high)


def test_a_target_past_what_any_price_pays_is_unreachable() -> None:
    """A commission of 100 % takes every cent of a higher price: the payout stays at the delivery fee."""
    payout_at = marketplace([D(50), D(50)], D("5.00"), None, 10**9)

    assert smallest_price(payout_at, D("5.01"), low=1, high=10**9, slack=CENT * 5) is None
    assert smallest_price(payout_at, D("5.00"), low=1, high=10**9, slack=CENT * 5) == 2  # 0.01: 4.99 (rounding)


def test_the_search_stops_at_the_last_price_that_can_be_quoted() -> None:
    payout_at = marketplace([D(15)], D(0), None, 5_000)

    assert smallest_price(payout_at, D("1000.00"), low=1, high=10**12, slack=CENT * 3) is None
    assert smallest_price(payout_at, D("40.00"), low=1, high=10**12, slack=CENT * 3) == brute_force(
        payout_at, D("40.00"), 1, 5_000
    )


def test_below_a_free_delivery_threshold_a_price_can_pay_more_than_above_it() -> None:
    """The shipment fee (29.90) is the seller's until the goods reach 100.00: 99.99 pays more than 100.00."""
    payout_at = marketplace([D(10)], D("29.90"), 10_000, 10**9)
    just_below, at_threshold = payout_at(9_999), payout_at(10_000)
    assert just_below is not None
    assert at_threshold is not None
    assert just_below.payout > at_threshold.payout

    found = smallest_price(payout_at, at_threshold.payout, low=1, high=10**9, slack=CENT * 3)

    assert found is not None
    assert found < 10_000
    assert found == brute_force(payout_at, at_threshold.payout, 1, 10_000)


def test_past_a_commission_of_100_percent_only_rounding_reaches_a_target_at_the_smallest_prices() -> None:
    """4 + 49 + 49 % of the gross: the payout falls as the price rises, and 0.06 pays 0.01 by rounding alone
    (hypothesis found it: the search answered None where a scan finds 6)."""
    payout_at = marketplace([D(4), D(49), D(49)], D(0), None, 60_000)
    assert [str(payout_at(p).payout) for p in (5, 6, 7)] == ["0.00", "0.01", "0.00"]

    assert smallest_price(payout_at, CENT, low=5, high=60_000, slack=CENT * 7) == 6
    assert smallest_price(payout_at, D("0.02"), low=5, high=60_000, slack=CENT * 7) is None

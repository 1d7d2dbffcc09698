"""A seller's balance entry by entry, and the cycles (quote_service/payouts/balance.py; docs/payouts.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from quote_service.payouts.balance import (
    Balance,
    LedgerEntry,
    Terms,
    balance,
    cycle_of,
    next_cycle_start,
    payable_now,
    repeated_entries,
)

D = Decimal
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)  # a Monday
DAY = timedelta(days=1)
TERMS = Terms(hold_days=7, reserve_percent=D("10"), reserve_days=30, currency="EUR")


def entry(payout: str, at: datetime = T0, kind: str = "order") -> LedgerEntry:
    return LedgerEntry(kind=kind, id=uuid.uuid4(), at=at, payout=D(payout))


def figures(found: Balance) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    return found.available, found.held, found.reserved, found.carried_negative


def test_an_entry_is_held_then_its_reserve_kept_then_all_of_it_available() -> None:
    sale = entry("100.05")
    assert figures(balance([sale], {}, TERMS, T0)) == (0, D("100.05"), 0, 0)
    assert figures(balance([sale], {}, TERMS, T0 + 7 * DAY - timedelta(microseconds=1)))[1] == D("100.05")
    past_hold = balance([sale], {}, TERMS, T0 + 7 * DAY)
    assert figures(past_hold) == (D("90.04"), 0, D("10.01"), 0), "10 % of 100.05 is 10.005: 10.01 half up"
    assert [(p.share, p.amount) for p in past_hold.payable] == [("released", D("90.04"))]
    assert figures(balance([sale], {}, TERMS, T0 + 30 * DAY)) == (D("100.05"), 0, 0, 0)


def test_what_a_payout_took_is_out_and_the_reserve_follows_as_its_own_share() -> None:
    sale = entry("100.05")
    paid = {(sale.key, "released"): D("90.04")}
    assert figures(balance([sale], paid, TERMS, T0 + 8 * DAY)) == (0, 0, D("10.01"), 0)
    later = balance([sale], paid, TERMS, T0 + 31 * DAY)
    assert figures(later) == (D("10.01"), 0, 0, 0)
    assert [(p.share, p.amount) for p in later.payable] == [("reserve", D("10.01"))]
    both = {**paid, (sale.key, "reserve"): D("10.01")}
    assert figures(balance([sale], both, TERMS, T0 + 31 * DAY)) == (0, 0, 0, 0)


def test_a_refund_counts_against_the_available_at_once_and_the_excess_is_carried() -> None:
    sale, back = entry("50.00"), entry("-80.00", T0 + DAY, kind="refund")
    held = balance([sale, back], {}, TERMS, T0 + DAY)
    assert figures(held) == (0, D("50.00"), 0, D("80.00"))
    released = balance([sale, back], {}, TERMS, T0 + 30 * DAY)
    assert figures(released) == (0, 0, 0, D("30.00"))
    assert not payable_now(released, TERMS)
    more = entry("100.00", T0 + 2 * DAY)
    netted = balance([sale, back, more], {}, TERMS, T0 + 40 * DAY)
    assert figures(netted) == (D("70.00"), 0, 0, 0)
    assert sum(p.amount for p in netted.payable) == D("70.00"), "the refund is paid out of the next payout"


def test_entries_after_as_of_and_zero_entries_do_not_count() -> None:
    found = balance([entry("5.00", T0 + DAY), entry("0.00")], {}, TERMS, T0)
    assert figures(found) == (0, 0, 0, 0)
    assert found.payable == ()


def test_a_whole_reserve_keeps_everything_until_the_reserve_ends() -> None:
    terms = Terms(hold_days=0, reserve_percent=D("100"), reserve_days=10, currency="JPY")
    sale = entry("1234")
    assert figures(balance([sale], {}, terms, T0)) == (0, 0, D("1234"), 0)
    assert balance([sale], {}, terms, T0).payable == ()
    assert figures(balance([sale], {}, terms, T0 + 10 * DAY)) == (D("1234"), 0, 0, 0)


def test_the_minimum_payout_and_an_empty_balance_are_not_paid() -> None:
    terms = Terms(hold_days=0, min_payout=D("20.00"), currency="EUR")
    assert not payable_now(balance([entry("19.99")], {}, terms, T0), terms)
    assert payable_now(balance([entry("20.00")], {}, terms, T0), terms)
    assert not payable_now(balance([], {}, Terms(currency="EUR"), T0), Terms(currency="EUR"))


def test_cycles_are_iso_weeks_and_months_in_utc() -> None:
    sunday_night = datetime(2026, 1, 4, 23, 59, tzinfo=UTC)
    assert cycle_of(sunday_night, "weekly") == "2026-W01"
    assert cycle_of(sunday_night + timedelta(minutes=1), "weekly") == "2026-W02"
    assert cycle_of(datetime(2027, 1, 1, tzinfo=UTC), "weekly") == "2026-W53"
    assert cycle_of(datetime(2026, 12, 31, 23, tzinfo=UTC), "monthly") == "2026-12"
    assert next_cycle_start(sunday_night, "weekly") == datetime(2026, 1, 5, tzinfo=UTC)
    assert next_cycle_start(datetime(2026, 1, 5, tzinfo=UTC), "weekly") == datetime(2026, 1, 12, tzinfo=UTC)
    assert next_cycle_start(datetime(2026, 12, 31, tzinfo=UTC), "monthly") == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_cycle_start(datetime(2026, 2, 1, tzinfo=UTC), "monthly") == datetime(2026, 3, 1, tzinfo=UTC)


amounts = st.decimals(D("-300.00"), D("300.00"), places=2)
terms_drawn = st.builds(
    Terms,
    hold_days=st.integers(0, 20),
    reserve_percent=st.decimals(D(0), D(100), places=2),
    reserve_days=st.integers(0, 40),
    currency=st.just("EUR"),
)


@given(
    payouts=st.lists(st.tuples(amounts, st.integers(0, 60)), max_size=12),
    runs=st.lists(st.integers(0, 80), max_size=5),
    terms=terms_drawn,
)
def test_what_was_paid_and_the_balance_always_add_up_to_the_ledger(
    payouts: list[tuple[Decimal, int]], runs: list[int], terms: Terms
) -> None:
    """Pay what is payable at each run's day, in order: paid + available + held + reserved - carried
    is the ledger's sum at every step, and no share is paid twice."""
    entries = [entry(str(amount), T0 + day * DAY) for amount, day in payouts]
    paid: dict[tuple[tuple[str, uuid.UUID], str], Decimal] = {}
    for day in sorted(runs):
        as_of = T0 + day * DAY
        found = balance(entries, paid, terms, as_of)
        due = sum((e.payout for e in entries if e.at <= as_of), D(0))
        assert sum(paid.values(), D(0)) + found.available + found.held + found.reserved - found.carried_negative == due
        assert min(figures(found)) >= 0
        if payable_now(found, terms):
            assert sum((p.amount for p in found.payable), D(0)) == found.available
            for share in found.payable:
                assert (share.entry.key, share.share) not in paid
                paid[(share.entry.key, share.share)] = share.amount


def test_an_entry_listed_twice_is_found_with_how_many_times() -> None:
    sale, back = entry("100.00"), entry("-50.00", kind="refund")
    assert repeated_entries([sale, back]) == {}
    assert repeated_entries([sale, back, back, back]) == {("refund", back.id): 3}
    # An order and its refund may share no id, but an order's id is also each of its sellers' entries': the
    # kind tells them apart.
    assert repeated_entries([sale, LedgerEntry(kind="edit", id=sale.id, at=T0, payout=D("1.00"))]) == {}

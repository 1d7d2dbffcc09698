"""The rate between two currencies at an instant (pricing/fx_rates.py): direct, inverse, crossed through
EUR, each pair's rate in force from its valid_from until the next one's. The reference works in exact
fractions and rounds with its own half-even rule: it shares the types, not the arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.pricing.fx_rates import FxBook, StoredRate, rate_problem

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stored(base: str, quote: str, rate: str | Decimal, *, days: int = 0, created: int = 0) -> StoredRate:
    return StoredRate(
        id=uuid4(),
        base=base,
        quote=quote,
        rate=Decimal(rate),
        source="manual",
        valid_from=T0 + timedelta(days=days),
        created_at=T0 + timedelta(seconds=created),
    )


def to_12(value: Fraction) -> Decimal:
    """`value` rounded half to even at 12 decimals, by integer arithmetic."""
    scaled = value * 10**12
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * rest
    if twice > scaled.denominator or (twice == scaled.denominator and whole % 2 == 1):
        whole += 1
    return Decimal(whole).scaleb(-12)


def test_a_pair_s_rate_is_in_force_from_its_valid_from_until_the_next_one() -> None:
    old, new = stored("TRY", "EUR", "0.027"), stored("TRY", "EUR", "0.026", days=31)
    book = FxBook([new, old])

    assert book.rate("TRY", "EUR", T0 - timedelta(microseconds=1)) is None
    found = book.rate("TRY", "EUR", T0 + timedelta(days=30))
    assert found is not None
    assert (found.rate, found.via, found.rate_id) == (Decimal("0.027"), "direct", old.id)
    later = book.rate("TRY", "EUR", T0 + timedelta(days=31))
    assert later is not None
    assert later.rate_id == new.id


def test_two_rates_from_the_same_instant_the_later_created_wins() -> None:
    first, second = stored("TRY", "EUR", "0.027"), stored("TRY", "EUR", "0.028", created=5)
    found = FxBook([second, first]).rate("TRY", "EUR", T0)
    assert found is not None
    assert found.rate_id == second.id
    assert len(FxBook([first, second])) == 2


def test_the_inverse_is_one_over_the_rate_at_12_decimals() -> None:
    usd = stored("EUR", "USD", "1.0850")
    found = FxBook([usd]).rate("USD", "EUR", T0)
    assert found is not None
    assert (found.rate, found.via, found.rate_id) == (Decimal("0.921658986175"), "inverse", usd.id)


def test_a_cross_goes_through_eur_and_rounds_once() -> None:
    usd, lira = stored("EUR", "USD", "1.085"), stored("EUR", "TRY", "37.5")
    found = FxBook([usd, lira]).rate("TRY", "USD", T0)
    assert found is not None
    assert (found.rate, found.via, found.rate_id, found.used) == (Decimal("0.028933333333"), "cross", None, (lira, usd))
    # A leg stored the other way (X → EUR) is inverted exactly, not rounded before the quotient.
    yen = stored("JPY", "EUR", "0.006")
    crossed = FxBook([yen, lira]).rate("JPY", "TRY", T0)
    assert crossed is not None
    assert crossed.rate == Decimal("0.225000000000")


def test_no_rate_and_no_path_through_eur_is_none_and_a_currency_to_itself_is_refused() -> None:
    book = FxBook([stored("EUR", "USD", "1.08")])
    assert book.rate("TRY", "USD", T0) is None
    assert book.rate("EUR", "TRY", T0) is None
    with pytest.raises(ValueError, match="itself"):
        book.rate("EUR", "EUR", T0)


@pytest.mark.parametrize(
    ("rate", "problem"),
    [
        ("1", None),
        ("0.000000000001", None),
        ("999999999999.999999999999", None),
        ("0", "above 0"),
        ("-1", "above 0"),
        ("NaN", "above 0"),
        ("Infinity", "above 0"),
        ("1000000000000", "above 0"),
        ("0.0000000000001", "12 decimals"),
    ],
)
def test_a_rate_is_above_zero_with_at_most_12_decimals(rate: str, problem: str | None) -> None:
    found = rate_problem(Decimal(rate))
    assert found is None if problem is None else problem in (found or "")


rates = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal("100000"), places=12, allow_nan=False, allow_infinity=False
).filter(lambda r: r > 0)


@settings(max_examples=200, deadline=None)
@given(forward=rates, to_base=rates, to_quote=rates)
def test_inverse_and_cross_equal_the_exact_fractions_rounded_half_even(
    forward: Decimal, to_base: Decimal, to_quote: Decimal
) -> None:
    book = FxBook([stored("EUR", "USD", forward), stored("EUR", "TRY", to_base), stored("EUR", "JPY", to_quote)])

    direct = book.rate("EUR", "USD", T0)
    inverse = book.rate("USD", "EUR", T0)
    cross = book.rate("TRY", "JPY", T0)
    assert direct is not None
    assert direct.rate == forward
    assert inverse is not None
    assert inverse.rate == to_12(1 / Fraction(forward))
    assert cross is not None
    assert cross.rate == to_12(Fraction(to_quote) / Fraction(to_base))
    for found in (inverse, cross):
        assert found.rate.as_tuple().exponent == -12


@settings(max_examples=100, deadline=None)
@given(starts=st.lists(st.integers(0, 60), min_size=1, max_size=8), probe=st.integers(-1, 70))
def test_the_rate_in_force_is_the_latest_started_at_or_before_the_instant(starts: list[int], probe: int) -> None:
    rows = [stored("TRY", "EUR", f"0.0{i + 1}", days=day, created=i) for i, day in enumerate(starts)]
    at = T0 + timedelta(days=probe)
    started = [row for row in rows if row.valid_from <= at]
    expected: UUID | None = max(started, key=lambda r: (r.valid_from, r.created_at)).id if started else None
    found = FxBook(reversed(rows)).rate("TRY", "EUR", at)
    assert (found.rate_id if found is not None else None) == expected


def test_a_locked_rate_keeps_its_id_and_a_locked_cross_rate_has_none() -> None:
    """An order edit converts at its order's locked rates: a direct one keeps the stored rate's id, a
    crossed one (no stored row of its own) has none, as the quote showed it (not a made-up id)."""
    direct_id = uuid4()
    book = FxBook([stored("EUR", "TRY", "35.1"), stored("EUR", "JPY", "160")]).locked(
        [("TRY", "JPY", Decimal("4.558404558405"), None, "cross"), ("EUR", "TRY", Decimal("36"), direct_id, "ecb")],
        T0 + timedelta(days=1),
    )
    crossed = book.rate("TRY", "JPY", T0 + timedelta(days=2))
    assert crossed is not None
    assert crossed.rate == Decimal("4.558404558405")
    assert crossed.rate_id is None
    direct = book.rate("EUR", "TRY", T0 + timedelta(days=2))
    assert direct is not None
    assert direct.rate == Decimal("36")
    assert direct.rate_id == direct_id
    before = book.rate("EUR", "TRY", T0)  # before the lock: the stored rate
    assert before is not None
    assert before.rate == Decimal("35.1")

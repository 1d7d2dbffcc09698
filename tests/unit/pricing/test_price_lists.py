"""Price-list selection (docs/price-lists.md), pure: which list prices a line, and at which quantity tier;
and, for any lists, the index selects what the reference engine's plain scan selects."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.pricing.price_lists import ListPrice, PriceBook, PriceList, label
from tests.unit.pricing.reference_engine.price_lists import list_price

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PRODUCT = UUID(int=7)
OTHER = UUID(int=8)


def price_list(n: int, *, amounts: dict[int, str], age_days: int = 1, **fields: object) -> PriceList:
    prices = tuple(ListPrice(PRODUCT, Decimal(amount), quantity) for quantity, amount in amounts.items())
    base: dict[str, object] = {"currency": "EUR", "priority": 0}
    base.update(fields)
    return PriceList(
        id=UUID(int=n),
        name=f"list-{n}",
        created_at=NOW - timedelta(days=age_days),
        prices=prices,
        **base,  # type: ignore[arg-type]
    )


def chosen(
    book: PriceBook, quantity: int = 1, group: str | None = None, channel: str | None = None
) -> tuple[int, str] | None:
    found = book.select("EUR", PRODUCT.int, quantity, group, channel, NOW)
    return None if found is None else (found.price_list.id.int, str(found.amount))


def test_the_highest_priority_wins_then_the_most_specific_then_the_newest() -> None:
    lists = [
        price_list(1, amounts={1: "10"}, priority=1),
        price_list(2, amounts={1: "9"}, priority=2),
        price_list(3, amounts={1: "8"}, priority=2, customer_groups=frozenset({"b2b"})),
        price_list(4, amounts={1: "7"}, priority=2, customer_groups=frozenset({"b2b"}), channels=frozenset({"web"})),
        price_list(5, amounts={1: "6"}, priority=2, customer_groups=frozenset({"b2b"}), age_days=0),
    ]
    book = PriceBook.of(lists)
    assert chosen(book) == (2, "9")  # no group: only the lists for everyone
    assert chosen(book, group="b2b") == (5, "6")  # one dimension set; the newer of the two
    assert chosen(book, group="b2b", channel="web") == (4, "7")  # both set beats one set
    assert chosen(PriceBook.of(lists[:1])) == (1, "10")


def test_the_highest_min_quantity_not_above_the_quantity_prices_the_line() -> None:
    book = PriceBook.of([price_list(1, amounts={1: "10", 10: "8", 100: "6"})])
    assert [chosen(book, q) for q in (1, 9, 10, 99, 100, 5000)] == [
        (1, "10"), (1, "10"), (1, "8"), (1, "8"), (1, "6"), (1, "6"),
    ]  # fmt: skip


def test_a_list_that_does_not_price_this_quantity_gives_way_to_the_next() -> None:
    wholesale = price_list(1, amounts={10: "5"}, priority=9)
    retail = price_list(2, amounts={1: "12"})
    book = PriceBook.of([wholesale, retail])
    assert chosen(book, 3) == (2, "12")
    assert chosen(book, 10) == (1, "5")


def test_windows_are_half_open_and_groups_and_channels_compare_folded() -> None:
    later = price_list(1, amounts={1: "5"}, priority=5, starts_at=NOW + timedelta(seconds=1))
    ended = price_list(2, amounts={1: "6"}, priority=5, ends_at=NOW)
    current = price_list(3, amounts={1: "7"}, starts_at=NOW, ends_at=NOW + timedelta(seconds=1))
    book = PriceBook.of([later, ended, current])
    assert chosen(book) == (3, "7")
    assert book.interval(NOW) != book.interval(NOW + timedelta(seconds=1))

    app = PriceBook.of([price_list(4, amounts={1: "3"}, channels=frozenset({"app"}))])
    assert chosen(app, channel="app") == (4, "3")
    assert chosen(app, channel="web") is None
    assert chosen(app) is None


def test_other_currencies_and_products_are_not_looked_at() -> None:
    book = PriceBook.of([price_list(1, amounts={1: "5"}, currency="USD")])
    assert chosen(book) is None
    assert book.select("USD", OTHER.int, 1, None, None, NOW) is None
    assert book.select("USD", PRODUCT.int, 1, None, None, NOW) is not None


_LABELS = st.sampled_from(["b2b", "B2B ", "retail", "web", "app"])
_PRODUCTS = [UUID(int=n) for n in range(1, 3)]


@st.composite
def books(draw: st.DrawFn) -> list[PriceList]:
    lists = []
    for n in range(draw(st.integers(0, 6))):
        starts = draw(st.none() | st.integers(-3, 3).map(lambda h: NOW + timedelta(hours=h)))
        length = draw(st.none() | st.integers(1, 4).map(lambda h: timedelta(hours=h)))
        keys = draw(
            st.sets(st.tuples(st.sampled_from(_PRODUCTS), st.sampled_from([1, 2, 5, 10])), min_size=2, max_size=8)
        )
        lists.append(
            PriceList(
                id=UUID(int=1000 + n),
                name=f"list-{n}",
                currency=draw(st.sampled_from(["EUR", "EUR", "TRY"])),
                priority=draw(st.sampled_from([0, 0, 0, 1])),
                created_at=NOW - timedelta(hours=draw(st.integers(1, 4))),
                customer_groups=frozenset(draw(st.sets(st.sampled_from(["b2b", "b2b", "retail"]), max_size=1))),
                channels=frozenset(draw(st.sets(st.sampled_from(["web", "web", "app"]), max_size=1))),
                starts_at=starts,
                ends_at=None if starts is None or length is None else starts + length,
                prices=tuple(ListPrice(p, Decimal(draw(st.integers(1, 999))), q) for p, q in sorted(keys)),
            )
        )
    return lists


@pytest.mark.slow  # thousands of random lists: in `make test`, not the unit loop
@settings(max_examples=300, deadline=None)
@given(
    lists=books(),
    product=st.sampled_from(_PRODUCTS),
    quantity=st.integers(1, 12),
    group=st.none() | _LABELS,
    channel=st.none() | _LABELS,
    hours=st.integers(-4, 8),
)
def test_the_index_selects_what_a_scan_of_every_list_and_price_selects(
    lists: list[PriceList], product: UUID, quantity: int, group: str | None, channel: str | None, hours: int
) -> None:
    now = NOW + timedelta(hours=hours)
    found = PriceBook.of(lists).select("EUR", product.int, quantity, label(group), label(channel), now)
    scanned = list_price(
        lists, currency="EUR", product_id=product, quantity=quantity, customer_group=group, channel=channel, now=now
    )
    assert (None if found is None else (found.price_list.id, found.amount)) == (
        None if scanned is None else (scanned[0].id, scanned[1])
    )


def test_an_offers_entries_price_only_that_offer_and_leave_the_products_own_selection_alone() -> None:
    offer, other_offer = UUID(int=70), UUID(int=71)
    plain = [price_list(1, amounts={1: "10"}, priority=1), price_list(2, amounts={1: "9"}, priority=0)]
    offered = (ListPrice(PRODUCT, Decimal("6"), 1, None, offer), ListPrice(PRODUCT, Decimal("5"), 10, None, offer))
    with_offer = [
        dataclasses.replace(plain[0], prices=plain[0].prices + offered),
        dataclasses.replace(plain[1], prices=(*plain[1].prices, ListPrice(PRODUCT, Decimal("4"), 1, None, offer))),
    ]
    before, after = PriceBook.of(plain), PriceBook.of(with_offer)
    for quantity in (1, 10):
        assert chosen(after, quantity) == chosen(before, quantity) == (1, "10")

    def offer_price(book: PriceBook, sold_from: UUID, quantity: int) -> tuple[int, str] | None:
        found = book.select_offer("EUR", sold_from.int, quantity, None, None, NOW)
        return None if found is None else (found.price_list.id.int, str(found.amount))

    # The highest priority list naming the offer wins, at its highest min_quantity <= quantity.
    assert [offer_price(after, offer, q) for q in (1, 9, 10)] == [(1, "6"), (1, "6"), (1, "5")]
    assert offer_price(after, other_offer, 1) is None
    assert offer_price(before, offer, 1) is None
    assert after.prices() == 5
    assert after.ruled == before.ruled == ()

"""The memos that make promotions and price lists a quote cannot use cost it nothing
(BENCHMARKS.md, "Decisions": indexing features a quote does not use) answer exactly what a fresh look would.

One book answers many quotes in turn (other currencies, groups, segments, channels, times on
either side of a promotion's or a list's dates): each answer must equal the reference's, written
from the docs without the production code, so a memo that kept an answer past an edge or across
kinds of quote fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.pricing.price_lists import ListPrice, PriceBook, PriceList, label
from quote_service.pricing.promotions import (
    AmountOff,
    Basket,
    Conditions,
    FreeDelivery,
    PercentOff,
    Promotion,
    PromotionBook,
)
from tests.unit.pricing.reference_engine.price_lists import list_price
from tests.unit.pricing.reference_engine.promotions import _in_force, _named

pytestmark = pytest.mark.slow  # tens of seconds: in `make test`, not the unit loop (docs/development.md)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CATEGORIES = ("books", "toys", "food")
PRODUCTS = ("p1", "p2", "p3")
LABELS = (None, "b2b", " B2B", "retail", "vip")
CHANNELS = (None, "web", "App ", "app")
CURRENCIES = ("EUR", "TRY")
HOURS = st.integers(-4, 8).map(lambda h: NOW + timedelta(hours=h))


def _names(pool: tuple[str | None, ...]) -> st.SearchStrategy[frozenset[str]]:
    return st.sets(st.sampled_from([name for name in pool if name is not None]), max_size=2).map(frozenset)


@st.composite
def promotion_lists(draw: st.DrawFn) -> list[Promotion]:
    found = []
    for n in range(draw(st.integers(0, 12))):
        currency = draw(st.none() | st.sampled_from(CURRENCIES))
        config = draw(
            st.sampled_from(
                [
                    PercentOff(percent=Decimal(10)),
                    AmountOff(amount=Decimal(5), currency="EUR"),
                    AmountOff(amount=Decimal(500), currency="TRY"),
                    FreeDelivery(),
                ]
            )
        )
        starts = draw(HOURS)
        length = draw(st.none() | st.integers(1, 5).map(lambda h: timedelta(hours=h)))
        conditions = Conditions(
            min_subtotal=draw(st.none() | st.sampled_from([Decimal(20), Decimal(100)])),
            currency=currency,
            category_ids=frozenset(draw(st.sets(st.sampled_from(CATEGORIES), max_size=2))),
            product_ids=frozenset(draw(st.sets(st.sampled_from(PRODUCTS), max_size=1))),
            customer_groups=draw(_names(LABELS)),
            customer_segments=draw(_names(LABELS)),
            channels=draw(_names(CHANNELS)),
        )
        found.append(
            Promotion(
                id=UUID(int=n + 1),
                name=f"promotion-{n}",
                conditions=conditions,
                config=config,
                priority=draw(st.integers(0, 2)),
                starts_at=starts,
                ends_at=None if length is None else starts + length,
                is_active=draw(st.booleans() | st.just(True)),
            )
        )
    return found


@st.composite
def baskets(draw: st.DrawFn) -> tuple[Basket, datetime]:
    basket = Basket(
        currency=draw(st.sampled_from(CURRENCIES)),
        subtotal=Decimal(draw(st.sampled_from([5, 20, 60, 100, 400]))),
        product_ids=frozenset(draw(st.sets(st.sampled_from(PRODUCTS), min_size=1, max_size=2))),
        category_ids=frozenset(draw(st.sets(st.sampled_from(CATEGORIES), max_size=2))),
        customer_group=draw(st.sampled_from(LABELS)),
        customer_segment=draw(st.sampled_from(LABELS)),
        channel=draw(st.sampled_from(CHANNELS)),
    )
    return basket, draw(HOURS)


def meeting(book: PromotionBook, basket: Basket, now: datetime) -> list[int]:
    """The book's answer for this basket (the engine asks with the same fields)."""
    return book.meeting_for(
        currency=basket.currency,
        subtotal=basket.subtotal,
        category_ids=basket.category_ids,
        product_ids=basket.product_ids,
        customer_group=basket.customer_group,
        customer_segment=basket.customer_segment,
        channel=basket.channel,
        now=now,
    )


def met(promotion: Promotion, basket: Basket, now: datetime) -> bool:
    """docs/promotions.md: in force, and every condition the promotion states holds for the basket."""
    c = promotion.conditions
    config = promotion.config
    return (
        _in_force(promotion, now)
        and (c.currency is None or c.currency == basket.currency)
        and (not isinstance(config, AmountOff) or config.currency == basket.currency)
        and (c.min_subtotal is None or basket.subtotal >= c.min_subtotal)
        and (
            (not c.category_ids and not c.product_ids)
            or bool(c.category_ids & basket.category_ids or c.product_ids & basket.product_ids)
        )
        and _named(c.customer_groups, basket.customer_group)
        and _named(c.customer_segments, basket.customer_segment)
        and _named(c.channels, basket.channel)
    )


@settings(max_examples=200, deadline=None)
@given(promotions=promotion_lists(), quotes=st.lists(baskets(), min_size=1, max_size=25))
def test_one_book_answers_every_kind_of_quote_in_turn_as_a_fresh_look_would(
    promotions: list[Promotion], quotes: list[tuple[Basket, datetime]]
) -> None:
    book = PromotionBook(promotions)
    for basket, now in quotes:
        expected = [p.id for p in book.ordered if met(p, basket, now)]
        assert [book.ordered[position].id for position in meeting(book, basket, now)] == expected


def test_a_promotion_starts_and_ends_for_a_kind_of_quote_already_seen() -> None:
    """The memo is per interval of the book's dates: the same kind of quote before, during and
    after a promotion's dates sees it only during them."""
    start, end = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    timed = Promotion(id=UUID(int=1), name="timed", config=FreeDelivery(), starts_at=start, ends_at=end)
    book = PromotionBook([timed])
    basket = Basket(currency="EUR", subtotal=Decimal(10), product_ids=frozenset({"p1"}), category_ids=frozenset())
    seen = [bool(meeting(book, basket, now)) for now in (NOW, start, end - timedelta(microseconds=1), end)]
    assert seen == [False, True, True, False]


def test_a_full_memo_starts_over_and_still_answers() -> None:
    from quote_service.pricing import promotions as module

    only_vip = Promotion(
        id=UUID(int=1),
        name="vip",
        conditions=Conditions(customer_groups=frozenset({"vip"})),
        config=FreeDelivery(),
        starts_at=NOW - timedelta(days=1),
    )
    book = PromotionBook([only_vip])
    for n in range(module.VIEWS_MEMO + 5):
        group = "vip" if n % 2 else f"group-{n}"
        basket = Basket(
            currency="EUR", subtotal=Decimal(1), product_ids=frozenset(), category_ids=frozenset(), customer_group=group
        )
        assert meeting(book, basket, NOW) == ([0] if group == "vip" else [])
    assert len(book.views) <= module.VIEWS_MEMO


_PRODUCT_IDS = [UUID(int=n) for n in range(1, 3)]


@st.composite
def price_lists(draw: st.DrawFn) -> list[PriceList]:
    lists = []
    for n in range(draw(st.integers(0, 8))):
        starts = draw(st.none() | HOURS)
        length = draw(st.none() | st.integers(1, 4).map(lambda h: timedelta(hours=h)))
        keys = draw(st.sets(st.tuples(st.sampled_from(_PRODUCT_IDS), st.sampled_from([1, 2, 5])), min_size=1))
        lists.append(
            PriceList(
                id=UUID(int=1000 + n),
                name=f"list-{n}",
                currency=draw(st.sampled_from(CURRENCIES)),
                priority=draw(st.integers(0, 1)),
                created_at=NOW - timedelta(hours=draw(st.integers(1, 4))),
                customer_groups=frozenset(filter(None, map(label, draw(_names(LABELS))))),
                channels=frozenset(filter(None, map(label, draw(_names(CHANNELS))))),
                starts_at=starts,
                ends_at=None if starts is None or length is None else starts + length,
                prices=tuple(ListPrice(p, Decimal(draw(st.integers(1, 999))), q) for p, q in sorted(keys)),
            )
        )
    return lists


@settings(max_examples=200, deadline=None)
@given(
    lists=price_lists(),
    lines=st.lists(
        st.tuples(
            st.sampled_from(CURRENCIES),
            st.sampled_from(_PRODUCT_IDS),
            st.integers(1, 6),
            st.sampled_from(LABELS),
            st.sampled_from(CHANNELS),
            HOURS,
        ),
        min_size=1,
        max_size=25,
    ),
)
def test_one_price_book_prices_every_kind_of_line_in_turn_as_a_scan_would(
    lists: list[PriceList], lines: list[tuple[str, UUID, int, str | None, str | None, datetime]]
) -> None:
    book = PriceBook.of(lists)
    for currency, product, quantity, group, channel, now in lines:
        found = book.select(currency, product.int, quantity, label(group), label(channel), now)
        scanned = list_price(
            lists,
            currency=currency,
            product_id=product,
            quantity=quantity,
            customer_group=group,
            channel=channel,
            now=now,
        )
        assert (None if found is None else (found.price_list.id, found.amount)) == (
            None if scanned is None else (scanned[0].id, scanned[1])
        )


def test_a_list_for_one_group_starts_for_a_line_already_priced_without_it() -> None:
    start = NOW + timedelta(hours=1)
    later = PriceList(
        id=UUID(int=1),
        name="from one o'clock",
        currency="EUR",
        priority=0,
        created_at=NOW - timedelta(days=1),
        customer_groups=frozenset({"b2b"}),
        starts_at=start,
        prices=(ListPrice(_PRODUCT_IDS[0], Decimal("9.50")),),
    )
    book = PriceBook.of([later])
    product = _PRODUCT_IDS[0].int
    assert book.select("EUR", product, 1, "b2b", None, NOW) is None
    assert book.select("EUR", product, 1, "retail", None, start) is None
    found = book.select("EUR", product, 1, "b2b", None, start)
    assert found is not None
    assert found.amount == Decimal("9.50")

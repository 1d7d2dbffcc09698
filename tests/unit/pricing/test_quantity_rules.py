"""Quantity rules, pure (docs/pricing.md#quantity-rules): which quantities an item may hold, a customer's
units in a window, and which rule set an item is under (a price-list entry's before its product's)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quote_service.pricing.price_lists import ListPrice, PriceBook, PriceList
from quote_service.pricing.quantity_book import QuantityBook, check_quantities
from quote_service.pricing.quantity_rules import QuantityRules, bought_within, quantity_problem, rules_problems
from quote_service.pricing.quote import Address, CatalogProduct, QuoteItemIn, QuoteRequest

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
PRODUCT = CatalogProduct(
    id=uuid.UUID(int=7),
    currency="TRY",
    current_price=Decimal("10.00"),
    min_price=Decimal(0),
    category_id="c",
    seller_id="s",
    is_active=True,
)
PID = str(PRODUCT.id)


def request(*quantities: int) -> QuoteRequest:
    return QuoteRequest(
        customer_id="c-1",
        items=[QuoteItemIn(product_id=PID, quantity=q) for q in quantities],
        delivery_address=Address(city="Ankara", country="TR"),
        currency="TRY",
    )


def allowed(rules: QuantityRules, quantity: int) -> bool:
    """Straight from the page: at least min_qty, at most max_qty, and on the step's grid."""
    low = rules.min_qty if rules.min_qty is not None else 1
    high = rules.max_qty if rules.max_qty is not None else 10_000
    start = rules.min_qty if rules.min_qty is not None else 0
    on_grid = rules.step is None or (quantity - start) % rules.step == 0
    return low <= quantity <= high and on_grid


rule_sets = st.builds(
    QuantityRules,
    min_qty=st.none() | st.integers(1, 30),
    max_qty=st.none() | st.integers(1, 60),
    step=st.none() | st.integers(1, 12),
)


@given(rule_sets, st.integers(1, 100))
def test_a_quantity_is_refused_exactly_when_the_page_says_it_is_not_allowed(
    rules: QuantityRules, quantity: int
) -> None:
    assert (quantity_problem(rules, quantity) is None) == allowed(rules, quantity)


@given(rule_sets)
def test_rules_are_refused_at_write_exactly_when_no_quantity_meets_them(rules: QuantityRules) -> None:
    some_allowed = any(allowed(rules, quantity) for quantity in range(1, 10_001))
    assert (rules_problems(rules, "quantity_rules") == []) == some_allowed


def test_units_count_inside_the_window_only() -> None:
    day = 86_400
    at = int(NOW.timestamp())
    purchases = [(at - 31 * day, 5), (at - 30 * day, 4), (at - 30 * day + 1, 3), (at - 60, 2)]

    assert bought_within(purchases, 30, NOW) == 3 + 2
    assert bought_within(purchases, 31, NOW) == 4 + 3 + 2
    assert bought_within(purchases, 1, NOW) == 2


def test_a_customer_limit_counts_earlier_items_of_the_product_and_says_what_is_left() -> None:
    book = QuantityBook.of({PID: QuantityRules(max_per_customer=5, window_days=7)}, [])
    assert book is not None
    bought = {PID: [(int((NOW - timedelta(days=2)).timestamp()), 2), (int((NOW - timedelta(days=8)).timestamp()), 9)]}

    fine, limits = check_quantities(request(1, 2), {PID: PRODUCT}, book, **_context(bought))
    problems, _ = check_quantities(request(2, 2), {PID: PRODUCT}, book, **_context(bought))

    assert fine == []
    assert [(limit.max_per_customer, limit.window_days, limit.remaining_for_customer) for limit in limits] == [
        (5, 7, 3)
    ]
    assert [(p.field, p.remaining_for_customer) for p in problems] == [("items[1].quantity", 1)]
    assert problems[0].message == "at most 5 per customer in 7 days: 1 left for this customer"


def _list(*prices: ListPrice, groups: frozenset[str] = frozenset()) -> PriceList:
    return PriceList(
        id=uuid.uuid4(),
        name="trade",
        currency="TRY",
        priority=0,
        created_at=NOW,
        customer_groups=groups,
        prices=prices,
    )


@pytest.mark.parametrize(
    ("group", "quantity", "expected"),
    [
        (None, 3, "must be at most 2"),  # the shop's own rules
        ("b2b", 3, "must be at least 10"),  # the trade list's first entry
        ("b2b", 10, None),
        ("b2b", 55, "must be 50, 75, 100, ... (steps of 25)"),  # its entry from 50 units
        ("b2b", 75, None),
    ],
)
def test_the_entry_that_prices_an_item_replaces_the_products_rules(
    group: str | None, quantity: int, expected: str | None
) -> None:
    trade = _list(
        ListPrice(PRODUCT.id, Decimal("8.00"), 1, QuantityRules(min_qty=10)),
        ListPrice(PRODUCT.id, Decimal("7.00"), 50, QuantityRules(min_qty=50, step=25)),
        groups=frozenset({"b2b"}),
    )
    prices = PriceBook.of([trade])
    book = QuantityBook.of({PID: QuantityRules(max_qty=2)}, prices.ruled)
    assert book is not None

    problems, _ = check_quantities(
        request(quantity),
        {PID: PRODUCT},
        book,
        price_lists=prices,
        currency="TRY",
        customer_group=group,
        channel=None,
        purchases={},
        now=NOW,
    )

    assert [p.message for p in problems] == ([] if expected is None else [expected])


def test_an_entry_without_rules_leaves_the_products_and_no_rules_anywhere_is_no_book() -> None:
    plain = _list(
        ListPrice(PRODUCT.id, Decimal("8.00")), ListPrice(PRODUCT.id, Decimal("7.00"), 5, QuantityRules(step=5))
    )
    prices = PriceBook.of([plain])
    book = QuantityBook.of({PID: QuantityRules(max_qty=3)}, prices.ruled)
    assert book is not None

    assert book.rules_for(PRODUCT, plain.id.int, 4) == QuantityRules(max_qty=3)
    assert book.rules_for(PRODUCT, plain.id.int, 5) == QuantityRules(step=5)
    assert QuantityBook.of({}, PriceBook.of([_list(ListPrice(PRODUCT.id, Decimal(1)))]).ruled) is None
    assert book.ruled == frozenset({PID})
    assert book.per_customer == frozenset()


def _context(bought: dict[str, list[tuple[int, int]]]) -> dict[str, object]:
    return {
        "price_lists": None,
        "currency": "TRY",
        "customer_group": None,
        "channel": None,
        "purchases": bought,
        "now": NOW,
    }

"""Quantity rules on offers, pure (docs/offers.md#quantity-rules): the chosen offer's own rules, else its
product's; an offer's per-customer limit keyed on the offer, a product's on its units from every seller."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from quote_service.pricing.offers import Choice, SnapOffer
from quote_service.pricing.quantity_book import QuantityBook, accepting, check_quantities, item_rules, limited_keys
from quote_service.pricing.quantity_rules import QuantityRules
from quote_service.pricing.quote import Address, CatalogProduct, QuoteItemIn, QuoteRequest

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
PRODUCT = CatalogProduct(
    id=uuid.UUID(int=7),
    currency="TRY",
    current_price=Decimal("10.00"),
    min_price=Decimal(0),
    category_id="c",
    seller_id="seller-a",
    is_active=True,
)
PID = str(PRODUCT.id)
CASED = SnapOffer(
    id=uuid.UUID(int=100), product_id=PRODUCT.id, seller_id="seller-b", current_price=Decimal(9), min_price=Decimal(0),
    stock=50, quantity_rules=QuantityRules(min_qty=6, step=6, max_per_customer=12),
)  # fmt: skip
PLAIN = SnapOffer(
    id=uuid.UUID(int=101), product_id=PRODUCT.id, seller_id="seller-c", current_price=Decimal(9), min_price=Decimal(0),
    stock=50,
)  # fmt: skip
OWN = QuantityRules(max_qty=3, max_per_customer=4)


def book() -> QuantityBook:
    found = QuantityBook.of({PID: OWN}, (), [CASED, PLAIN])
    assert found is not None
    return found


def request(*quantities: int) -> QuoteRequest:
    return QuoteRequest(
        customer_id="c-1",
        items=[QuoteItemIn(product_id=PID, quantity=q) for q in quantities],
        delivery_address=Address(city="Ankara", country="TR"),
        currency="TRY",
    )


def check(quantities: tuple[int, ...], offers: list[SnapOffer | None], purchases: dict[str, list[tuple[int, int]]]):
    choices = [Choice(o, PRODUCT.seller_id if o is None else o.seller_id, "named") for o in offers]
    return check_quantities(
        request(*quantities), {PID: PRODUCT}, book(), price_lists=None, currency="TRY", customer_group=None,
        channel=None, purchases=purchases, now=NOW, choices=choices,
    )  # fmt: skip


def test_an_offer_with_rules_is_under_its_own_and_one_without_under_its_products() -> None:
    rules = book()
    assert item_rules(rules, PRODUCT, CASED, None, 6) == (CASED.quantity_rules, CASED)
    assert item_rules(rules, PRODUCT, PLAIN, None, 6) == (OWN, None)
    assert item_rules(rules, PRODUCT, None, None, 6) == (OWN, None)
    assert PID in rules.ruled
    assert QuantityBook.of({}, (), [PLAIN]) is None  # no rules anywhere: a quote pays one `is None` test


def test_the_best_landed_filter_accepts_what_each_offers_rules_allow() -> None:
    accepts = accepting(book(), price_lists=None, currency="TRY", customer_group=None, channel=None, now=NOW)
    assert [accepts(PRODUCT, CASED, q) for q in (5, 6, 7, 12)] == [False, True, False, True]
    assert [accepts(PRODUCT, PLAIN, q) for q in (3, 4)] == [True, False]
    assert [accepts(PRODUCT, None, q) for q in (3, 4)] == [True, False]


def test_an_offers_limit_counts_its_own_units_and_a_products_every_sellers() -> None:
    at = int(NOW.timestamp()) - 60
    bought = {f"offer:{CASED.id}": [(at, 6)], PID: [(at, 1)]}
    problems, limits = check((6, 2, 1), [CASED, None, PLAIN], bought)
    # seller-b's case of 6: 6 of 12 left. The default's 2: 1 bought + 6 earlier in the basket > 4.
    assert [p.field for p in problems] == ["items[1].quantity", "items[2].quantity"]
    assert [p.remaining_for_customer for p in problems] == [0, 0]
    assert [(limit.key, limit.remaining_for_customer) for limit in limits] == [(f"offer:{CASED.id}", 6), (PID, 3)]
    assert limits[0].offer_id == CASED.id


def test_the_units_read_are_the_chosen_offers_and_the_products() -> None:
    choices = [Choice(CASED, "seller-b", "named"), Choice(PLAIN, "seller-c", "named")]
    assert limited_keys(request(6, 1), book(), choices) == [f"offer:{CASED.id}", PID]
    assert limited_keys(request(1), book(), None) == [PID]

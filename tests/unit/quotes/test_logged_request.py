"""The quote log's `request` (migration 0520) gives back what the engine reads of a request."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from quote_service.pricing.quote import Address, CustomerContext, QuoteItemIn, QuoteRequest, RequestContext
from quote_service.quotes.quote_log import logged_request, request_of_log


def test_a_logged_request_round_trips() -> None:
    request = QuoteRequest(
        customer_id="c-1",
        currency="EUR",
        items=[
            QuoteItemIn(product_id="p-1", quantity=2, unit_price=Decimal("25.50"), category_id="books", seller_id="s"),
            QuoteItemIn(product_id="p-2", quantity=1),
        ],
        delivery_address=Address(city="Berlin", country="DE", latitude=52.5, longitude=13.4, street="not kept"),
        pickup_address=Address(city="Hamburg", country="DE", latitude=53.5, longitude=10.0),
        is_express_delivery=True,
        coupon_codes=["WELCOME"],
        seller_id="s",
        logistics_provider="fast",
        channel="app",
        context=RequestContext(user_agent="ua", ab_test_group="B"),
    )
    customer = CustomerContext(customer_id="c-1", tier="gold", segment="vip", customer_group="b2b", test_group="B")
    raw = msgspec.json.encode(logged_request(request, customer))
    again, who = request_of_log(raw)
    assert who == customer
    assert again == msgspec.structs.replace(
        request, delivery_address=Address(city="Berlin", country="DE", latitude=52.5, longitude=13.4)
    )


def test_the_bare_minimum() -> None:
    request = QuoteRequest(
        customer_id="c", currency="TRY", items=[QuoteItemIn(product_id="p", quantity=1)],
        delivery_address=Address(city="Izmir", country="TR"),
    )  # fmt: skip
    again, who = request_of_log(msgspec.json.encode(logged_request(request, CustomerContext(customer_id="c"))))
    assert (again, who) == (request, CustomerContext(customer_id="c"))

"""The quote log's `request` (migration 0520) gives back what the engine reads of a request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from quote_service.pricing.engine import price_quote
from quote_service.pricing.quote import (
    Address,
    CustomerContext,
    EngineDefaults,
    Quote,
    QuoteItemIn,
    QuoteRequest,
    RequestContext,
)
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.quotes.quote_log import compact_request, log_values, logged_request, request_of_log


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


def _quoted(request: QuoteRequest) -> Quote:
    """The quote the engine makes of `request` (catalog-free: every item priced by the request)."""
    customer = CustomerContext(customer_id=request.customer_id)
    return price_quote(
        request, snapshot=ConfigSnapshot.build(version=1), products={}, flash={}, customer=customer,
        defaults=EngineDefaults(), now=datetime(2026, 11, 26, 9, tzinfo=UTC), quote_id=uuid.uuid4(),
    )  # fmt: skip


def _row(quote: Quote, request: QuoteRequest) -> dict[str, Any]:
    """What the quote log's row holds that a compact request leaves out, as asyncpg reads it back."""
    place = (request.delivery_address.city, request.delivery_address.country)
    values = msgspec.json.decode(msgspec.json.encode(log_values(quote, None, place)))
    return {"customer_id": values[1], "lines": values[15], "delivery_city": values[23], "delivery_country": values[24]}


def test_a_compact_request_leaves_out_what_the_row_holds_and_reads_back_with_it() -> None:
    request = QuoteRequest(
        customer_id="customer-000123", currency="TRY",
        items=[
            QuoteItemIn(product_id="p-1", quantity=2, unit_price=Decimal("25.50"), category_id="books", seller_id="s"),
            QuoteItemIn(product_id="p-2", quantity=1, unit_price=Decimal("9.90")),
        ],
        delivery_address=Address(city="Istanbul", country="TR", latitude=41.0, longitude=28.9),
        coupon_codes=["WELCOME10"], channel="web",
    )  # fmt: skip
    customer = CustomerContext(customer_id="customer-000123", tier="gold", customer_group="b2b")
    quote = _quoted(request)
    full, compact = (
        msgspec.json.encode(logged_request(request, customer)),
        msgspec.json.encode(compact_request(quote, request, customer)),
    )

    assert b"customer-000123" not in compact
    assert b"p-1" not in compact
    assert b"Istanbul" not in compact
    assert len(compact) < len(full) - 40
    assert request_of_log(compact, _row(quote, request)) == request_of_log(full) == (request, customer)
    with pytest.raises(ValueError, match="with its row"):
        request_of_log(compact)


def test_a_quote_whose_lines_do_not_answer_its_items_keeps_the_full_request() -> None:
    request = QuoteRequest(
        customer_id="c", currency="TRY", items=[QuoteItemIn(product_id="p", quantity=1, unit_price=Decimal(1))],
        delivery_address=Address(city="Izmir", country="TR"),
    )  # fmt: skip
    quote = _quoted(request)
    other = msgspec.structs.replace(request, items=[QuoteItemIn(product_id="q", quantity=1, unit_price=Decimal(1))])

    kept = compact_request(quote, other, CustomerContext(customer_id="c"))

    assert kept == logged_request(other, CustomerContext(customer_id="c"))
    assert request_of_log(msgspec.json.encode(kept))[0] == other


def test_an_exemption_is_kept_for_a_what_if() -> None:
    request = QuoteRequest(
        customer_id="c", currency="EUR", items=[QuoteItemIn(product_id="p", quantity=1, unit_price=Decimal(10))],
        delivery_address=Address(city="Berlin", country="DE"), tax_exemption="reverse_charge",
        customer_tax_id="DE123456789",
    )  # fmt: skip
    customer = CustomerContext(customer_id="c")
    again, _ = request_of_log(msgspec.json.encode(logged_request(request, customer)))
    assert (again.tax_exemption, again.customer_tax_id) == ("reverse_charge", "DE123456789")
    quote = _quoted(request)
    compact = msgspec.json.encode(compact_request(quote, request, customer))
    assert request_of_log(compact, _row(quote, request)) == (request, customer)

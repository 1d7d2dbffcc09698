"""What each role may do with quotes and their orders, over HTTP on real PostgreSQL and Redis.

A user prices at its account's tier and segment and quotes only catalog products; a quote is
read and ordered only by the caller that made it or an admin; inactive products are refused to
everyone; the identical-request cache is per caller and never hands out a quote that was
ordered, whichever process ordered it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.auth.policy import Maker
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.quotes.store import QuoteStore
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.orders.test_orders_api import build_quote, key, line, order, quotes, stored
from tests.integration.quotes.test_quote_api import QUOTE, client_with, quote_body
from tests.integration.rules.test_pricing_rules_api import create as create_rule

__all__ = ["quotes"]  # the QuoteStore fixture, used by name

Client = AsyncTestClient[Litestar]
ORDERS = "/api/v1/orders"


async def plain_user(settings: Settings, password_hash: str) -> Caller:
    """A `user` whose account has no tier and no segment."""
    return await make_caller(settings, password_hash, f"plain-{uuid.uuid4().hex[:6]}", "user")


async def gold_rule(client: Client, admin: Caller) -> None:
    """A USER_TIER rule: gold customers pay 3 % less."""
    await create_rule(client, admin, type="USER_TIER", configuration={"tiers": {"gold": -3}}, region=None)


def catalog_body(customer_id: str, product: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return quote_body(customer_id=customer_id, items=[{"product_id": product["id"], "quantity": 1}], **overrides)


@pytest.fixture
async def still(settings: Settings) -> AsyncIterator[Client]:
    """A client whose quotes are all priced at one instant: the identical-request cache never
    reuses a quote across a minute boundary, so a test of it must not meet one."""
    instant = utcnow()
    async with AsyncTestClient(app=create_app(settings, quote_clock=lambda: instant)) as held:
        yield held


async def place(client: Client, headers: dict[str, str], quote_id: str) -> Any:
    return await client.post(ORDERS, json={"quote_id": quote_id}, headers={**headers, **key()})


# --- tier and segment ----------------------------------------------------------------------------


async def test_a_user_cannot_state_a_tier_or_segment_other_than_its_own(
    client: Client, admin: Caller, settings: Settings, password_hash: str
) -> None:
    await gold_rule(client, admin)
    product = await create_product(client, admin, base_price="100.00", min_price="50.00")
    user = await plain_user(settings, password_hash)
    mine = str(user.id)

    picked = await client.post(QUOTE, json=catalog_body(mine, product, customer_tier="gold"), headers=user.headers)
    segment = await client.post(QUOTE, json=catalog_body(mine, product, customer_segment="vip"), headers=user.headers)
    plain = expect_ok(await client.post(QUOTE, json=catalog_body(mine, product), headers=user.headers))

    assert set(field_errors(expect_error(picked, 422, "VALIDATION_FAILED"))) == {"customer_tier"}
    assert set(field_errors(expect_error(segment, 422, "VALIDATION_FAILED"))) == {"customer_segment"}
    assert plain["subtotal"] == "100.00"


async def test_a_user_prices_at_its_account_tier_and_may_repeat_it(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    await gold_rule(client, admin)
    product = await create_product(client, admin, base_price="100.00", min_price="50.00")
    mine = str(shopper.id)  # the shopper's account is gold / vip

    implied = expect_ok(await client.post(QUOTE, json=catalog_body(mine, product), headers=shopper.headers))
    stated = expect_ok(
        await client.post(
            QUOTE,
            json=catalog_body(mine, product, customer_tier="GOLD", customer_segment="vip"),
            headers=shopper.headers,
        )
    )

    assert (implied["subtotal"], stated["subtotal"]) == ("97.00", "97.00")


async def test_a_service_caller_may_state_the_tier(client: Client, admin: Caller, service_key: dict[str, str]) -> None:
    await gold_rule(client, admin)
    product = await create_product(client, admin, base_price="100.00", min_price="50.00")

    gold = expect_ok(
        await client.post(QUOTE, json=catalog_body("c-1", product, customer_tier="gold"), headers=service_key)
    )
    plain = expect_ok(await client.post(QUOTE, json=catalog_body("c-1", product), headers=service_key))

    assert (gold["subtotal"], plain["subtotal"]) == ("97.00", "100.00")


# --- inactive products and client prices --------------------------------------------------------


async def test_an_inactive_product_is_409_at_quote_time_for_every_caller(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin)
    expect_ok(await client.delete(f"/api/v1/products/{product['id']}", headers=admin.headers))
    items = [{"product_id": product["id"], "quantity": 3, "unit_price": "0.01"}]

    as_user = await client.post(
        QUOTE, json=quote_body(customer_id=str(shopper.id), items=items), headers=shopper.headers
    )
    as_service = await client.post(QUOTE, json=quote_body(items=items), headers=service_key)

    for response in (as_user, as_service):
        assert set(field_errors(expect_error(response, 409, "PRODUCT_UNAVAILABLE"))) == {"items[0].product_id"}


async def test_a_user_may_not_quote_items_it_prices_itself(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin)
    items = [
        {"product_id": product["id"], "quantity": 1},
        {"product_id": "not-in-catalog", "quantity": 3, "unit_price": "0.01"},
        {"product_id": str(uuid.uuid4()), "quantity": 1, "unit_price": "0.01"},
    ]

    as_user = await client.post(
        QUOTE, json=quote_body(customer_id=str(shopper.id), items=items), headers=shopper.headers
    )
    as_service = expect_ok(await client.post(QUOTE, json=quote_body(items=items), headers=service_key))

    refused = field_errors(expect_error(as_user, 422, "CLIENT_PRICE_NOT_ALLOWED"))
    assert set(refused) == {"items[1].product_id", "items[2].product_id"}
    assert [i["price_source"] for i in as_service["items"]] == ["catalog", "request", "request"]


async def test_a_checkouts_quote_with_request_priced_lines_is_the_checkouts_to_order(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], key_maker: Maker, quotes: QuoteStore
) -> None:
    """A user orders only quotes it made, and its own quotes hold no request-priced line (refused
    when it quoted): a checkout's quote for the shopper does not exist for the shopper."""
    product = await create_product(client, admin)
    outside = {**product, "id": "ext-widget-7", "current_price": "0.01"}
    quote = await stored(
        quotes, build_quote(str(shopper.id), [line(product, 1), line(outside, 3, price_source="request")]), key_maker
    )

    expect_error(await order(client, shopper.headers, quote), 404, "NOT_FOUND")
    placed = expect_ok(await order(client, service_key, quote), 201)

    assert [i["price_source"] for i in placed["items"]] == ["catalog", "request"]


# --- reading a quote ----------------------------------------------------------------------------


async def test_only_the_quotes_maker_or_an_admin_reads_it(
    client: Client,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    settings: Settings,
    password_hash: str,
) -> None:
    product = await create_product(client, admin)
    for_shopper = expect_ok(await client.post(QUOTE, json=catalog_body(str(shopper.id), product), headers=service_key))
    own = expect_ok(await client.post(QUOTE, json=catalog_body(str(shopper.id), product), headers=shopper.headers))
    other_user = await plain_user(settings, password_hash)
    created = expect_ok(await client.post("/api/v1/api-keys", json={"name": "other"}, headers=admin.headers), 201)
    other_key = {"X-API-Key": created["key"]}

    def read(quote: dict[str, Any], headers: dict[str, str]) -> Any:
        return client.get(f"/api/v1/quotes/{quote['quote_id']}", headers=headers)

    # Whoever did not make it meets it as an unknown quote, even the customer it was made for.
    for quote, headers in ((for_shopper, shopper.headers), (for_shopper, other_key), (own, other_user.headers)):
        refused = expect_error(await read(quote, headers), 404, "NOT_FOUND")
        assert refused["message"] == f"quote {quote['quote_id']} not found or expired"
    expect_error(await read(own, service_key), 404, "NOT_FOUND")
    assert expect_ok(await read(own, shopper.headers)) == own
    assert expect_ok(await read(for_shopper, service_key)) == for_shopper
    assert expect_ok(await read(own, admin.headers)) == own


# --- the identical-request cache ----------------------------------------------------------------


async def test_an_ordered_quote_is_never_handed_out_again(
    still: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    client = still
    product = await create_product(client, admin, stock=10)
    body = catalog_body(str(shopper.id), product)
    first = expect_ok(await client.post(QUOTE, json=body, headers=shopper.headers))
    assert expect_ok(await client.post(QUOTE, json=body, headers=shopper.headers))["quote_id"] == first["quote_id"]

    async with client_with(settings) as other_process:  # its own caches and store: another worker
        expect_ok(await place(other_process, shopper.headers, first["quote_id"]), 201)
    again = expect_ok(await client.post(QUOTE, json=body, headers=shopper.headers))

    assert again["quote_id"] != first["quote_id"]
    expect_ok(await place(client, shopper.headers, again["quote_id"]), 201)


async def test_identical_requests_of_different_callers_get_different_quotes(
    still: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    client = still
    product = await create_product(client, admin)
    other_key = expect_ok(await client.post("/api/v1/api-keys", json={"name": "other"}, headers=admin.headers), 201)
    body = catalog_body("c-shared", product)

    ids = [
        expect_ok(await client.post(QUOTE, json=body, headers=headers))["quote_id"]
        for headers in (service_key, {"X-API-Key": other_key["key"]}, admin.headers, service_key)
    ]

    assert len(set(ids[:3])) == 3
    assert ids[3] == ids[0]  # the same caller still gets its cached quote


async def test_a_quote_taken_for_an_order_is_marked_in_redis(
    client: Client, admin: Caller, service_key: dict[str, str], key_maker: Maker, quotes: QuoteStore
) -> None:
    product = await create_product(client, admin)
    quote = await stored(quotes, build_quote("c-marked", [line(product, 1)]), key_maker)
    assert not await quotes.was_ordered(quote.quote_id)

    expect_ok(await order(client, service_key, quote), 201)

    assert await quotes.was_ordered(quote.quote_id)


async def test_after_a_stream_of_distinct_baskets_only_probes_are_remembered_until_a_repeat(
    still: Client, admin: Caller, service_key: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Distinct baskets never hit the identical-request cache: past RECENT_IDLE_AFTER in a row, a quote is
    remembered only one in RECENT_PROBE (docs/hot-path.md); a probe that is repeated turns it back on."""
    from quote_service.quotes import service as service_module

    monkeypatch.setattr(service_module, "RECENT_IDLE_AFTER", 3)
    monkeypatch.setattr(service_module, "RECENT_PROBE", 4)
    product = await create_product(still, admin)

    async def quoted(customer: str) -> str:
        return str(
            expect_ok(await still.post(QUOTE, json=catalog_body(customer, product), headers=service_key))["quote_id"]
        )

    first = [await quoted(f"c-{n}") for n in range(1, 7)]  # quotes 1-3 remembered, 4 (a probe), 5-6 not
    again = [await quoted(f"c-{n}") for n in (1, 5)]
    assert again[0] == first[0]  # remembered before the stream was long
    assert again[1] != first[4]  # 5th in a row: not remembered
    assert await quoted("c-5") == again[1]  # the repeat of c-1 turned remembering back on

"""Stock reservations of offers' units (docs/reservations.md, docs/offers.md#stock): a reserving quote holds the
units of a line sold from another seller's offer as it holds a product's — counted against the offer's stock
for every other buyer (a reserving quote, an order, an order edit), capped per customer, given back on release,
replacement and expiry, and consumed by the quote's own order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.offers.test_offers_api import make_offer
from tests.integration.reservations.test_reservations import Clock
from tests.waiting import until

Client = AsyncTestClient[Litestar]
QUOTE = "/api/v1/quote"
ORDERS = "/api/v1/orders"


@pytest.fixture
async def product(client: Client, admin: Caller) -> dict[str, Any]:
    """seller-a's product at 40.00, 10 in stock (its default offer)."""
    return await create_product(
        client, admin, seller_id="seller-a", base_price="40.00", min_price="0", cost_price="0", stock=10
    )


def body(customer: str, *items: dict[str, Any], reserve: bool = True, **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "items": list(items),
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
        **({"reserve_stock": True} if reserve else {}),
        **fields,
    }


def of(product: dict[str, Any], offer: dict[str, Any], quantity: int) -> dict[str, Any]:
    return {"product_id": product["id"], "quantity": quantity, "offer_id": offer["id"]}


async def order(client: Client, headers: dict[str, str], quote_id: str) -> Any:
    return await client.post(
        ORDERS, json={"quote_id": quote_id}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )


async def held(pool: asyncpg.Pool, offer: dict[str, Any]) -> int:
    """The offer's units live holds hold now."""
    units: int = await pool.fetchval(
        "SELECT coalesce(sum(quantity), 0)::integer FROM reservation_offer_holds WHERE offer_id = $1"
        " AND expires_at > now()",
        uuid.UUID(offer["id"]),
    )
    return units


async def offer_stock(pool: asyncpg.Pool, offer: dict[str, Any]) -> int:
    stock: int = await pool.fetchval("SELECT stock FROM offers WHERE id = $1", uuid.UUID(offer["id"]))
    return stock


async def test_a_reserving_quote_holds_an_offers_units_against_every_other_buyer(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=3)
    quote = expect_ok(await client.post(QUOTE, json=body("alice", of(product, offer, 2)), headers=service_key))
    assert quote["reservation"] == {
        "expires_at": quote["valid_until"],
        "lines": [{"product_id": product["id"], "quantity": 2, "offer_id": offer["id"]}],
    }
    assert (await offer_stock(pool, offer), await held(pool, offer)) == (3, 2)
    shown = expect_ok(await client.get(f"/api/v1/quotes/{quote['quote_id']}/reservation", headers=service_key))
    assert shown["lines"] == quote["reservation"]["lines"]

    # Another reserving quote: only the one unit not held fits.
    short = await client.post(QUOTE, json=body("bob", of(product, offer, 2)), headers=service_key)
    assert set(field_errors(expect_error(short, 409, "INSUFFICIENT_STOCK"))) == {"items[0].quantity"}
    # A plain order cannot take held units either.
    plain = expect_ok(
        await client.post(QUOTE, json=body("carol", of(product, offer, 2), reserve=False), headers=service_key)
    )
    refused = expect_error(await order(client, service_key, plain["quote_id"]), 409, "INSUFFICIENT_STOCK")
    assert "held for other quotes" in field_errors(refused)["items[0].quantity"]
    # The product's own stock is not the offer's: it is not held.
    own = {"product_id": product["id"], "quantity": 10, "seller_id": "seller-a"}
    expect_ok(await client.post(QUOTE, json=body("dave", own), headers=service_key))
    assert (await offer_stock(pool, offer), await held(pool, offer)) == (3, 2)

    # The quote's own order consumes its hold and takes the units.
    expect_ok(await order(client, service_key, quote["quote_id"]), 201)
    assert (await offer_stock(pool, offer), await held(pool, offer)) == (1, 0)
    status = await pool.fetchval("SELECT status FROM reservations WHERE quote_id = $1", uuid.UUID(quote["quote_id"]))
    assert status == "consumed"
    expect_error(await order(client, service_key, plain["quote_id"]), 409, "INSUFFICIENT_STOCK")  # 2 wanted, 1 left


async def test_an_offers_stock_cannot_go_below_its_held_units(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=5)
    expect_ok(await client.post(QUOTE, json=body("alice", of(product, offer, 3)), headers=service_key))
    url = f"/api/v1/offers/{offer['id']}"
    below = await client.patch(url, json={"stock": 2}, headers=admin.headers)
    assert set(field_errors(expect_error(below, 409, "INSUFFICIENT_STOCK"))) == {"stock"}
    assert await offer_stock(pool, offer) == 5
    assert expect_ok(await client.patch(url, json={"stock": 3}, headers=admin.headers))["stock"] == 3


async def test_release_and_replacement_give_an_offers_units_back(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=4)
    first = expect_ok(await client.post(QUOTE, json=body("alice", of(product, offer, 3)), headers=service_key))
    assert await held(pool, offer) == 3
    # A refresh of the quote moves its hold: the units counted once, not twice.
    moved = body("alice", of(product, offer, 4), replaces_quote_id=first["quote_id"])
    second = expect_ok(await client.post(QUOTE, json=moved, headers=service_key))
    assert await held(pool, offer) == 4
    released = expect_ok(await client.delete(f"/api/v1/quotes/{second['quote_id']}/reservation", headers=service_key))
    assert released["status"] == "released"
    assert await held(pool, offer) == 0
    expect_ok(await client.post(QUOTE, json=body("bob", of(product, offer, 4)), headers=service_key))
    assert await offer_stock(pool, offer) == 4


async def test_a_customer_holds_at_most_the_cap_of_an_offers_units(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], settings: Settings
) -> None:
    cap = settings.max_held_units_per_product
    offer = await make_offer(client, admin, product, current_price="30.00", stock=cap + 5)
    expect_ok(await client.post(QUOTE, json=body("alice", of(product, offer, cap)), headers=service_key))
    over = await client.post(QUOTE, json=body("alice", of(product, offer, 1)), headers=service_key)
    assert set(field_errors(expect_error(over, 409, "HOLD_LIMIT_EXCEEDED"))) == {"items[0].quantity"}


async def test_an_order_edit_cannot_take_an_offers_units_held_for_a_quote(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=3)
    own = {"product_id": product["id"], "quantity": 1, "seller_id": "seller-a"}
    plain = expect_ok(await client.post(QUOTE, json=body("carol", own, reserve=False), headers=service_key))
    placed = expect_ok(await order(client, service_key, plain["quote_id"]), 201)
    shown = expect_ok(
        await client.post(f"{ORDERS}/{placed['id']}/edits", json={"add": [of(product, offer, 2)]}, headers=service_key),
        201,
    )
    expect_ok(await client.post(QUOTE, json=body("alice", of(product, offer, 2)), headers=service_key))
    commit = await client.post(
        f"{ORDERS}/{placed['id']}/edits/{shown['edit_id']}/commit",
        headers={**service_key, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert set(field_errors(expect_error(commit, 409, "INSUFFICIENT_STOCK"))) == {"add[0].quantity"}
    assert await offer_stock(pool, offer) == 3


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def timed(settings: Settings, clock: Clock) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings, quote_clock=clock)) as held:
        yield held


async def test_an_expired_hold_of_an_offer_counts_no_more_and_the_sweeper_drops_it(
    timed: Client, admin: Caller, clock: Clock, pool: asyncpg.Pool
) -> None:
    created = expect_ok(await timed.post("/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers), 201)
    headers = {"X-API-Key": created["key"]}
    product = await create_product(
        timed, admin, seller_id="seller-a", base_price="40.00", min_price="0", cost_price="0", stock=10
    )
    offer = await make_offer(timed, admin, product, current_price="30.00", stock=2)
    quote = expect_ok(await timed.post(QUOTE, json=body("alice", of(product, offer, 2)), headers=headers))
    expect_error(
        await timed.post(QUOTE, json=body("bob", of(product, offer, 1)), headers=headers), 409, "INSUFFICIENT_STOCK"
    )

    clock.offset = timedelta(minutes=15, seconds=1)  # past the quote's valid_until

    expect_ok(await timed.post(QUOTE, json=body("bob", of(product, offer, 1)), headers=headers))

    async def dropped() -> bool:
        count = await pool.fetchval(
            "SELECT count(*) FROM reservation_offer_holds WHERE quote_id = $1", uuid.UUID(quote["quote_id"])
        )
        return bool(count == 0)

    await until(dropped, "the sweeper dropped the expired reservation's offer holds", within=5)
    status = await pool.fetchval("SELECT status FROM reservations WHERE quote_id = $1", uuid.UUID(quote["quote_id"]))
    assert status == "expired"

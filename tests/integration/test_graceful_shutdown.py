"""SIGTERM under load: requests in flight finish, and nothing accepted is lost.

A real `quote-service serve --workers 2` takes a stream of quotes and flash purchases; SIGTERM
arrives while requests are in flight. Afterwards every quote that was answered 200 must be in
PostgreSQL's quote_log (written behind the request, so only a drain at shutdown puts the last
ones there) and in Redis, and every purchase answered 201 must be in the ledger.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Awaitable
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.flash import SALES, Client, new_sale
from tests.integration.servers import cli_env, served
from tests.waiting import until

pytestmark = pytest.mark.slow


def basket(n: int, products: list[str]) -> dict[str, Any]:
    return {
        "customer_id": f"c-{n}",
        "currency": "TRY",
        "items": [{"product_id": products[n % len(products)], "quantity": 1 + n % 3}],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0 + n / 1e5, "longitude": 28.97},
    }


class Load:
    """What the clients saw: answers, refused connections, and requests lost after they were sent."""

    def __init__(self) -> None:
        self.quotes: list[str] = []
        self.purchases: list[str] = []
        self.unanswered_quotes: list[str] = []
        """Customers whose quote request was sent and then lost its connection (no answer)."""
        self.unanswered_purchases: list[str] = []
        self.refused = asyncio.Event()
        """Set once the server refused a connection: it had stopped accepting."""

    async def send(
        self, call: Awaitable[httpx.Response], customer: str, unanswered: list[str]
    ) -> httpx.Response | None:
        """The answer; None when the server refused the connection or the request lost its answer."""
        try:
            return await call
        except httpx.ConnectError:  # never reached the server: it no longer accepts connections
            self.refused.set()
        except httpx.TransportError:  # sent, then the connection died: judged by what the server did
            unanswered.append(customer)
        return None


async def customers_with_a_trace(conn: asyncpg.Connection, load: Load) -> tuple[list[str], list[str]]:
    """Of the unanswered requests, those the server carried out all the same: answers dropped."""
    quoted = await conn.fetch(
        "SELECT DISTINCT customer_id FROM quote_log WHERE customer_id = any($1::text[])", load.unanswered_quotes
    )
    bought = await conn.fetch(
        "SELECT DISTINCT customer_id FROM flash_purchases WHERE customer_id = any($1::text[])",
        load.unanswered_purchases,
    )
    return [row["customer_id"] for row in quoted], [row["customer_id"] for row in bought]


async def test_sigterm_drains_requests_and_write_behind_buffers(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    """A request the server no longer accepts (refused connection) is fine; one it accepted must be
    answered. A request that was sent and then lost its connection counts as accepted when the
    server carried it out (its quote is logged, its purchase is in the ledger): an answer dropped
    mid-drain fails the test."""
    products = [(await create_product(client, admin, stock=1000, min_price="10.00"))["id"] for _ in range(5)]
    sale, _ = await new_sale(client, admin, stock=20_000, item={"allocated_stock": 10_000, "per_user_limit": 5})
    env = cli_env(DATABASE_URL=settings.database_url or "", REDIS_URL=settings.redis_url or "")
    load = Load()
    stop = asyncio.Event()

    async def quoting(http: httpx.AsyncClient, worker: int) -> None:
        n = worker
        while not stop.is_set() and not load.refused.is_set():
            n += 100
            call = http.post("/api/v1/quote", json=basket(n, products), headers=service_key)
            response = await load.send(call, f"c-{n}", load.unanswered_quotes)
            if response is None:
                continue
            assert response.status_code in (200, 503), response.text
            if response.status_code == 200:
                load.quotes.append(response.json()["data"]["quote_id"])

    async def buying(http: httpx.AsyncClient, worker: int) -> None:
        n = worker
        while not stop.is_set() and not load.refused.is_set():
            n += 100
            body = {"product_id": sale["items"][0]["product_id"], "quantity": 1, "customer_id": f"b-{n}"}
            headers = {**service_key, "Idempotency-Key": uuid.uuid4().hex}
            call = http.post(f"{SALES}/{sale['id']}/purchases", json=body, headers=headers)
            response = await load.send(call, f"b-{n}", load.unanswered_purchases)
            if response is None:
                continue
            assert response.status_code in (201, 503), response.text
            if response.status_code == 201:
                load.purchases.append(response.json()["data"]["purchase_id"])

    with served(env, "--workers", "2") as (base, process, log_file):
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            tasks = [asyncio.create_task(quoting(http, w)) for w in range(24)]
            tasks += [asyncio.create_task(buying(http, w)) for w in range(8)]
            await until(lambda: len(load.quotes) > 50, "the load gets going", within=60)
            in_flight_before = len(load.quotes)
            process.send_signal(signal.SIGTERM)
            # Load keeps coming while the server drains, until it refuses connections (or is gone).
            await until(lambda: load.refused.is_set() or process.poll() is not None, "the server stops", within=60)
            stop.set()
            await asyncio.gather(*tasks)
        code = await asyncio.to_thread(process.wait, 60)
        log = log_file.read_text()
    assert code == 0, log
    assert in_flight_before > 50, "the load did not get going"
    assert load.quotes
    assert load.purchases

    conn = await asyncpg.connect(settings.database_url or "")
    try:
        logged_ids = {
            str(r["quote_id"])
            for r in await conn.fetch(
                "SELECT quote_id FROM quote_log WHERE quote_id = any($1::uuid[])", [uuid.UUID(q) for q in load.quotes]
            )
        }
        logged = len(logged_ids)
        recorded = await conn.fetchval(
            "SELECT count(*) FROM flash_purchases WHERE id = any($1::uuid[])",
            [uuid.UUID(p) for p in load.purchases],
        )
        dropped_quotes, dropped_purchases = await customers_with_a_trace(conn, load)
    finally:
        await conn.close()
    missing = [(position, q) for position, q in enumerate(load.quotes) if q not in logged_ids]
    assert logged == len(load.quotes), (
        f"{len(load.quotes) - logged} of {len(load.quotes)} answered quotes missing from quote_log "
        f"(answered as number, id: {missing}; SIGTERM after {in_flight_before}); the server's log:\n{log[-6000:]}"
    )
    assert recorded == len(load.purchases)
    assert not dropped_quotes, f"quotes priced and logged whose answers were dropped mid-drain: {dropped_quotes}"
    assert not dropped_purchases, f"purchases made whose answers were dropped mid-drain: {dropped_purchases}"
    redis = Redis.from_url(settings.redis_url or "")
    try:
        stored = await redis.exists(*(f"qs:quote:{q}" for q in load.quotes))
    finally:
        await redis.aclose()
    assert stored == len(load.quotes)

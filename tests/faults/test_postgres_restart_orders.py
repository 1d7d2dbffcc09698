"""An order storm while PostgreSQL restarts: only 201 or 503, and every 201 stored exactly once.

Connections dropped mid-request surface in asyncpg as many exception classes (InterfaceError
"connection is closed", InternalClientError "cannot switch to state N", AdminShutdownError,
CannotConnectNowError, ConnectionResetError...). Each must answer 503 + Retry-After, so that
a client retrying as documented (same Idempotency-Key) gets its order exactly once.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving
from tests.faults.scenario import ORDERS, QUOTE, Outcome, basket, seed, timed_request

pytestmark = [pytest.mark.long, pytest.mark.slow]

ORDERS_IN_STORM = 400
CONCURRENCY = 16


async def test_orders_during_postgres_restarts_are_201_or_503_and_stored_once(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, LOG_LEVEL="WARNING")
    with serving(env, "--workers", "2") as service:
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(base_url=service.base, timeout=30, limits=limits) as http:
            data = await seed(http, private_pg.url)
            quotes = []
            for n in range(ORDERS_IN_STORM):
                body = basket(n, data.products, customer_id=data.shopper_id)
                response = await http.post(QUOTE, json=body, headers=data.shopper)
                assert response.status_code == 200, response.text
                quotes.append(response.json()["data"]["quote_id"])
            keys = [uuid.uuid4().hex for _ in quotes]
            outcomes: dict[int, Outcome] = {}
            queue = list(range(len(quotes)))

            async def ordering() -> None:
                while queue:
                    n = queue.pop()
                    headers = {**data.shopper, "Idempotency-Key": keys[n]}
                    outcomes[n] = await timed_request(
                        http, "POST", ORDERS, json={"quote_id": quotes[n]}, headers=headers
                    )

            async def restarts() -> None:
                for _ in range(3):
                    await asyncio.sleep(0.8)  # the storm's rhythm (real clock on purpose): orders between restarts
                    await asyncio.to_thread(private_pg.restart, "fast")

            started = time.monotonic()
            await asyncio.gather(restarts(), *(ordering() for _ in range(CONCURRENCY)))
            storm_seconds = time.monotonic() - started

            statuses: dict[int, int] = {}
            for outcome in outcomes.values():
                statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            print(f"{len(outcomes)} orders in {storm_seconds:.1f} s across 3 restarts: statuses {statuses}")
            unexpected = {n: o for n, o in outcomes.items() if o.status not in (201, 503)}
            errors = [line[:3000] for line in service.log_text().splitlines() if "unhandled_exception" in line]
            assert not unexpected, (next(iter(unexpected.values())), errors)
            assert statuses.get(503), "no order met a restart: the storm did not overlap one"
            for outcome in outcomes.values():
                if outcome.status == 503:
                    assert "retry-after" in outcome.headers
                    assert outcome.body is not None
                    assert outcome.body["error"]["code"] == "DEPENDENCY_UNAVAILABLE"

            # A client that retries its 503s with the same key gets each order once.
            retried = [n for n, o in outcomes.items() if o.status == 503]
            for n in retried:
                headers = {**data.shopper, "Idempotency-Key": keys[n]}
                response = await http.post(ORDERS, json={"quote_id": quotes[n]}, headers=headers)
                assert response.status_code in (200, 201), response.text

    accepted = {n: o.body["data"]["id"] for n, o in outcomes.items() if o.status == 201 and o.body}
    conn = await asyncpg.connect(private_pg.url)
    try:
        rows = await conn.fetch("SELECT id, idempotency_key FROM orders")
    finally:
        await conn.close()
    stored_ids = [str(r["id"]) for r in rows]
    assert len(stored_ids) == len(set(stored_ids))
    by_key: dict[str, int] = {}
    for row in rows:
        by_key[row["idempotency_key"]] = by_key.get(row["idempotency_key"], 0) + 1
    assert all(count == 1 for count in by_key.values()), "an Idempotency-Key placed two orders"
    for n, order_id in accepted.items():
        assert order_id in stored_ids, f"order {n} answered 201 but is not stored"
    assert len(rows) == len(outcomes), "every order, accepted at once or on retry, stored once"

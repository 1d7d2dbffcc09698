"""A promotion's money budget (docs/promotions.md#budgets) stays exact when a worker is killed and
Redis is emptied while orders race for it: PostgreSQL's row lock is its only count.

60 orders of 5.00 each race two workers for a budget of 100.00 (20 orders); one worker is
SIGKILLed and Redis flushed mid-run; every request that got no answer is sent again with its
Idempotency-Key, and a quote the flush took is made again (quotes live in Redis). Then exactly
20 orders hold the promotion, `budget_used` is their sum, and the other 40 were refused (409
PROMOTION_BUDGET_EXHAUSTED, or a new quote no longer offering it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving
from tests.faults.scenario import ORDERS, QUOTE, basket, seed
from tests.faults.test_worker_kill import _workers
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

ORDERS_SENT = 60


async def test_a_budget_is_exact_after_a_worker_kill_and_an_emptied_redis(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url)
    with serving(env, "--workers", "2") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url, products=ORDERS_SENT)
            body = {
                "name": "Five off, 100.00 budget",
                "kind": "AMOUNT_OFF",
                "starts_at": "2020-01-01T00:00:00Z",
                "config": {"amount": "5.00", "currency": "TRY"},
                "budget": {"amount": "100.00", "currency": "TRY"},
            }
            created = await http.post("/api/v1/promotions", json=body, headers=data.admin)
            assert created.status_code == 201, created.text
            promotion_id = uuid.UUID(created.json()["data"]["id"])

            async def quoted(n: int) -> str | None:
                """A quote of basket n counting on the promotion; None once quotes no longer offer it."""
                for _ in range(100):
                    try:
                        response = await http.post(QUOTE, json=basket(n, data.products[n:]), headers=data.service_key)
                    except httpx.TransportError:  # the killed worker's
                        await asyncio.sleep(0.1)
                        continue
                    if response.status_code != 200:
                        await asyncio.sleep(0.1)
                        continue
                    answer = response.json()["data"]
                    if answer["applied_promotions"]:
                        return str(answer["quote_id"])
                    if any(r["reason"] == "BUDGET_EXHAUSTED" for r in answer["rejected_promotions"]):
                        return None
                    await asyncio.sleep(0.1)  # the configuration reaches the other worker within a second
                raise AssertionError(f"no quote for basket {n}")

            await until(lambda: service.log_text().count('"event":"started"') >= 2, "both workers started", within=60)
            quotes: list[str | None] = [await quoted(n) for n in range(ORDERS_SENT)]
            workers = _workers(service)

            async def order(n: int) -> str:
                """Order basket n until it is answered: "placed", or "refused" (the budget is gone)."""
                key = f"budget-{n}"
                for _ in range(100):
                    if quotes[n] is None:
                        return "refused"
                    try:
                        response = await http.post(
                            ORDERS, json={"quote_id": quotes[n]}, headers={**data.service_key, "Idempotency-Key": key}
                        )
                    except httpx.TransportError:  # the killed worker had it: send it again
                        await asyncio.sleep(0.1)
                        continue
                    code = response.json().get("error", {}).get("code") if response.status_code >= 400 else None
                    if response.status_code == 201:
                        return "placed"
                    if code == "PROMOTION_BUDGET_EXHAUSTED":
                        return "refused"
                    if code == "QUOTE_EXPIRED":  # Redis was emptied with the quote in it: quote again
                        quotes[n], key = await quoted(n), f"budget-{n}-{uuid.uuid4().hex[:8]}"
                        continue
                    await asyncio.sleep(0.1)  # 503, or the key still in flight on the killed worker
                raise AssertionError(f"basket {n} got no answer")

            async def faults() -> None:
                await asyncio.sleep(0.05)
                os.kill(workers[0], signal.SIGKILL)
                redis = Redis.from_url(private_redis.url)
                try:
                    await redis.flushall()
                finally:
                    await redis.aclose()

            statuses, _ = await asyncio.gather(asyncio.gather(*(order(n) for n in range(ORDERS_SENT))), faults())
            assert service.alive()

    assert statuses.count("placed") == 20, statuses
    assert statuses.count("refused") == ORDERS_SENT - 20, statuses
    conn = await asyncpg.connect(private_pg.url)
    try:
        used = await conn.fetchval("SELECT budget_used FROM promotions WHERE id = $1", promotion_id)
        taken = await conn.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM promotion_redemptions WHERE promotion_id = $1", promotion_id
        )
        orders = await conn.fetchval("SELECT count(*) FROM promotion_redemptions WHERE promotion_id = $1", promotion_id)
    finally:
        await conn.close()
    assert (used, taken, orders) == (100, 100, 20)

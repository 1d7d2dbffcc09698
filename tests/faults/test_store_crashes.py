"""What a crash of PostgreSQL or Redis costs, measured under load (printed with `-s`).

PostgreSQL SIGKILLed (every backend: a host crash) for 4 s during quotes and orders: quotes need
no database once the product and principal caches are warm and keep answering 200; orders
answer 503 + Retry-After, never 500; after the restart (crash recovery) orders succeed again
within seconds, and every 201 is stored.

Redis SIGKILLed and restarted empty during quotes: quotes answer 503 while it is down (a quote
is answered only once Redis holds it) and 200 again within seconds of its return.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving
from tests.faults.scenario import ORDERS, QUOTE, Outcome, Seed, basket, seed, timed_request
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

OUTAGE = 4.0
# One API key sends every quote: on a quiet machine that is more than the default per-client
# limit allows a worker (6,000 a minute), and a 429 is not what these tests are about.
UNLIMITED = "100000000"
RECOVERY_BOUND = 5.0  # seconds from the store answering again to the service answering again


def _statuses(outcomes: list[Outcome]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


def _first_success_after(outcomes: list[Outcome], moment: float, status: int) -> float:
    return min(o.started + o.seconds for o in outcomes if o.status == status and o.started >= moment) - moment


async def _quote_for_order(http: httpx.AsyncClient, data: Seed, n: int) -> str:
    body = basket(n, data.products, customer_id=data.shopper_id)
    response = await http.post(QUOTE, json=body, headers=data.shopper)
    assert response.status_code == 200, response.text
    quote_id: str = response.json()["data"]["quote_id"]
    return quote_id


async def test_postgres_crash_costs_orders_only_for_the_outage(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, LOG_LEVEL="WARNING", RATE_LIMIT_PER_MINUTE=UNLIMITED)
    with serving(env, "--workers", "2") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url)
            quotes_for_orders = [await _quote_for_order(http, data, n) for n in range(600)]
            # "Warm" means every worker: a worker that never saw the service key has no principal
            # to fall back on and must ask PostgreSQL (a 503 while it is down). Each request on a
            # connection of its own may land on either worker: 40 of them warm both in practice.
            for n in range(40):
                async with httpx.AsyncClient(base_url=service.base, timeout=30) as fresh:
                    warm = await fresh.post(QUOTE, json=basket(n, data.products), headers=data.service_key)
                    assert warm.status_code == 200, warm.text
            quotes: list[Outcome] = []
            orders: list[tuple[Outcome, str]] = []
            stop = asyncio.Event()

            async def quoting(worker: int) -> None:
                n = worker
                while not stop.is_set():
                    n += 4
                    body = basket(n, data.products)  # every quote new: none from the recent-quote cache
                    quotes.append(await timed_request(http, "POST", QUOTE, json=body, headers=data.service_key))

            async def ordering() -> None:
                # As a checkout system does: a 503 is retried with the same quote and Idempotency-Key
                # (sooner than Retry-After, to see the moment orders work again), so the quotes last
                # through the outage however fast the 503s come back.
                while not stop.is_set() and quotes_for_orders:
                    key = uuid.uuid4().hex
                    headers = {**data.shopper, "Idempotency-Key": key}
                    body = {"quote_id": quotes_for_orders.pop()}
                    while True:
                        outcome = await timed_request(http, "POST", ORDERS, json=body, headers=headers)
                        orders.append((outcome, key))
                        if outcome.status != 503 or stop.is_set():
                            break
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(0.02)

            load = [asyncio.create_task(quoting(w)) for w in range(4)]
            load += [asyncio.create_task(ordering()) for _ in range(4)]
            await until(lambda: len(quotes) >= 20 and len(orders) >= 4, "the load gets going", within=60)
            killed_at = time.monotonic()
            await asyncio.to_thread(private_pg.kill)
            await asyncio.sleep(OUTAGE)  # the outage's length: a real clock on purpose
            await asyncio.to_thread(private_pg.start)
            back_at = time.monotonic()
            await asyncio.sleep(RECOVERY_BOUND + 1)  # the window the recovery bound is judged in
            stop.set()
            await asyncio.gather(*load)

    order_outcomes = [o for o, _ in orders]
    during = [o for o in quotes if killed_at <= o.started < back_at]
    print(
        f"PostgreSQL down {back_at - killed_at:.1f} s (kill, then start with crash recovery): "
        f"quotes during the outage {_statuses(during)}, orders overall {_statuses(order_outcomes)}, "
        f"first 201 order {_first_success_after(order_outcomes, back_at, 201):.2f} s after PostgreSQL was back"
    )
    assert all(o.status in (200, 503) for o in quotes), _statuses(quotes)
    assert all(o.status in (201, 503) for o in order_outcomes), _statuses(order_outcomes)
    assert during
    refused = [o.body for o in during if o.status != 200]
    assert not refused, f"quotes need no database once caches are warm: {len(refused)} refused, e.g. {refused[:2]}"
    assert _first_success_after(order_outcomes, back_at, 201) <= RECOVERY_BOUND
    for o in order_outcomes:
        if o.status == 503:
            assert "retry-after" in o.headers
    accepted = [str(o.body["data"]["id"]) for o, _ in orders if o.status == 201 and o.body]
    conn = await asyncpg.connect(private_pg.url)
    try:
        stored = {str(r["id"]) for r in await conn.fetch("SELECT id FROM orders")}
    finally:
        await conn.close()
    assert set(accepted) <= stored, "an order answered 201 was lost in the crash"


async def test_redis_crash_costs_quotes_only_for_the_outage(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, LOG_LEVEL="WARNING", RATE_LIMIT_PER_MINUTE=UNLIMITED)
    with serving(env, "--workers", "2") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url)
            quotes: list[Outcome] = []
            stop = asyncio.Event()

            async def quoting(worker: int) -> None:
                n = worker
                while not stop.is_set():
                    n += 4
                    body = basket(n, data.products)  # every quote new: none from the recent-quote cache
                    quotes.append(await timed_request(http, "POST", QUOTE, json=body, headers=data.service_key))
                    await asyncio.sleep(0.01)

            load = [asyncio.create_task(quoting(w)) for w in range(4)]
            await until(lambda: len(quotes) >= 20, "the load gets going", within=60)
            killed_at = time.monotonic()
            await asyncio.to_thread(private_redis.kill)
            await asyncio.sleep(OUTAGE)  # the outage's length: a real clock on purpose
            restarting_at = time.monotonic()
            await asyncio.to_thread(private_redis.restart_empty)
            back_at = time.monotonic()
            await asyncio.sleep(RECOVERY_BOUND + 1)  # the window the recovery bound is judged in
            stop.set()
            await asyncio.gather(*load)

    during = [o for o in quotes if killed_at + 0.5 <= o.started and o.started + o.seconds < restarting_at]
    after = [o for o in quotes if o.started >= back_at + RECOVERY_BOUND]
    slowest = max(o.seconds for o in during)
    print(
        f"Redis down {back_at - killed_at:.1f} s (kill, restart empty): quotes during the outage "
        f"{_statuses(during)} (slowest {slowest:.2f} s), first 200 "
        f"{_first_success_after(quotes, back_at, 200):.2f} s after Redis was back, afterwards {_statuses(after)}"
    )
    assert all(o.status in (200, 503, 504) for o in quotes), _statuses(quotes)
    assert during
    assert all(o.status != 200 for o in during), "a quote is answered only once Redis holds it"
    assert after
    assert all(o.status == 200 for o in after)
    assert _first_success_after(quotes, back_at, 200) <= RECOVERY_BOUND

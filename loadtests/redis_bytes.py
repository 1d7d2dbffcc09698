"""Redis bytes per thing the service keeps: the figures of docs/operations.md#redis-sizing.

    uv run python loadtests/redis_bytes.py [--count 2000] [--port 8772]

Serves on a private redis-server and a scratch database (loadtests/plumbing.py's
`private_service`, demo data seeded), then does `--count` of each operation below and divides
the growth of Redis's `used_memory` by the count:

- a quote (the soak's 3-line basket: three demo products, WELCOME10, gold tier, a pickup address);
- a quote with `reserve_stock` (its units are held in PostgreSQL; Redis keeps the quote alone);
- an order of such a quote, with a per-customer-limited coupon (the quote's ordered mark and the
  customer's coupon counter);
- a flash purchase, each by another customer (the sale hash's per-customer count, and the
  purchase's idempotency marker);
- a competitor observation while no consumer may store it (the consumers are held back by a lock
  on `competitor_prices`), then once they have.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from plumbing import PrivateService, private_service

CONCURRENCY = 16


def basket(products: list[str], **extra: Any) -> dict[str, Any]:
    """The soak's 3-line basket (loadtests/soak.py)."""
    chosen = random.sample(products, 3)
    return {
        "customer_id": f"c-{uuid.uuid4().hex[:12]}", "seller_id": "seller-anatolia",
        "items": [{"product_id": p, "quantity": random.randint(1, 3)} for p in chosen],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
        "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0186, "longitude": 29.0023},
        "is_express_delivery": False, "coupon_codes": ["WELCOME10"], "currency": "TRY", "customer_tier": "gold",
        **extra,
    }  # fmt: skip


async def each(count: int, one: Callable[[int], Awaitable[None]]) -> None:
    """`one(n)` for n in range(count), CONCURRENCY at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def gated(n: int) -> None:
        async with gate:
            await one(n)

    await asyncio.gather(*(gated(n) for n in range(count)))


def used(service: PrivateService) -> int:
    return int(service.store.info("memory")["used_memory"])


def report(what: str, each_bytes: float, count: int) -> None:
    print(f"  {what:<58} {each_bytes:8.0f} B each ({count} of them)", flush=True)


async def measure(service: PrivateService, what: str, count: int, work: Callable[[], Awaitable[None]]) -> None:
    before = used(service)
    await work()
    report(what, (used(service) - before) / count, count)


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def post(http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    """POST, again after a 503 (a refusal changes nothing) or a 504 (not stored) on a loaded box."""
    for _ in range(20):
        response = await http.post(path, json=body, headers=headers)
        if response.status_code not in (503, 504):
            return response
        await asyncio.sleep(0.5)
    return response


async def admin_headers(http: httpx.AsyncClient) -> dict[str, str]:
    login = {"username": "demo-admin", "password": "quote-service-admin"}
    token = (await ok(await http.post("/api/v1/auth/token", json=login)))["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def new_product(http: httpx.AsyncClient, admin: dict[str, str], stock: int) -> str:
    """A TRY product of seller-anatolia with `stock` units (the demo's would run out)."""
    product = {"sku": f"SIZING-{uuid.uuid4().hex[:8]}", "name": "Sizing", "category_id": "electronics",
               "seller_id": "seller-anatolia", "currency": "TRY", "base_price": "100.00", "min_price": "50.00",
               "cost_price": "40.00", "stock": stock}  # fmt: skip
    return str((await ok(await http.post("/api/v1/products", json=product, headers=admin), 201))["id"])


async def quotes_and_orders(
    service: PrivateService, http: httpx.AsyncClient, admin: dict[str, str], count: int
) -> None:
    key = {"X-API-Key": service.key}
    stocked = [await new_product(http, admin, count * 10) for _ in range(3)]
    once = {"code": "SIZING1", "type": "PERCENTAGE", "value": 5, "valid_from": "2025-01-01T00:00:00Z",
            "per_customer_limit": 1}  # fmt: skip
    await ok(await http.post("/api/v1/coupons", json=once, headers=admin), 201)
    ids: list[str] = []

    async def quote(_: int) -> None:
        await ok(await post(http, "/api/v1/quote", basket(service.products), key))

    await each(50, quote)  # warm: caches, the snapshot, connections

    async def reserving(_: int) -> None:
        body = basket(stocked, reserve_stock=True, coupon_codes=["WELCOME10", "SIZING1"])
        ids.append((await ok(await post(http, "/api/v1/quote", body, key)))["quote_id"])

    async def order(n: int) -> None:
        headers = {**key, "Idempotency-Key": f"sizing-{n}"}
        await ok(await post(http, "/api/v1/orders", {"quote_id": ids[n]}, headers), 201)

    await measure(service, "quote (3 lines)", count, lambda: each(count, quote))
    await measure(
        service, "quote with reserve_stock (the holds are in PostgreSQL)", count, lambda: each(count, reserving)
    )
    await measure(service, "order (ordered mark + one coupon counter)", count, lambda: each(count, order))


async def flash_purchases(service: PrivateService, http: httpx.AsyncClient, admin: dict[str, str], count: int) -> None:
    product_id = await new_product(http, admin, count * 2)
    now = datetime.now(UTC)
    sale = {"name": "Sizing", "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "items": [{"product_id": product_id, "flash_price": "60.00", "allocated_stock": count * 2,
                       "per_user_limit": 1}]}  # fmt: skip
    sale_id = (await ok(await http.post("/api/v1/flash-sales", json=sale, headers=admin), 201))["id"]
    key = {"X-API-Key": service.key}
    body = {"product_id": product_id, "quantity": 1}

    async def buy(n: int) -> None:
        headers = {**key, "Idempotency-Key": f"sizing-buy-{n}"}
        path, buyer = f"/api/v1/flash-sales/{sale_id}/purchases", {**body, "customer_id": f"buyer-{n}"}
        await ok(await post(http, path, buyer, headers), 201)

    await buy(count)  # the counters exist before measuring
    await measure(service, "flash purchase (customer count + idempotency marker)", count, lambda: each(count, buy))


async def observations(service: PrivateService, http: httpx.AsyncClient, admin: dict[str, str], count: int) -> None:
    seen = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    batch = [{"product_id": random.choice(service.products), "competitor": f"rival-{n % 7}",
              "price": f"{100 + n % 50}.50", "currency": "TRY", "observed_at": seen} for n in range(count)]  # fmt: skip
    conn = await asyncpg.connect(service.database_url)
    try:
        start = used(service)
        async with conn.transaction():
            await conn.execute("LOCK TABLE competitor_prices IN EXCLUSIVE MODE")  # no consumer stores, none acks
            for first in range(0, count, 1000):
                chunk = {"observations": batch[first : first + 1000]}
                await ok(await http.post("/api/v1/competitor-prices", json=chunk, headers=admin), 202)
            waiting = used(service)
        while await conn.fetchval("SELECT count(*) FROM competitor_price_inbox") > 0:  # noqa: ASYNC110 - polls PostgreSQL
            await asyncio.sleep(0.5)
        await asyncio.sleep(6)  # one recovery pass of the consumers (every 5 s) trims what they acknowledged
        done = used(service)
    finally:
        await conn.close()
    report("competitor observation on the stream, not yet stored", (waiting - start) / count, count)
    report("... the same once stored and acknowledged (trimmed)", (done - start) / count, count)


async def run(service: PrivateService, count: int) -> None:
    async with httpx.AsyncClient(base_url=service.base, timeout=60) as http:
        admin = await admin_headers(http)
        await quotes_and_orders(service, http, admin, count)
        await flash_purchases(service, http, admin, count)
        await observations(service, http, admin, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8772)
    args = parser.parse_args()
    print(f"Redis bytes per item, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (used_memory growth ÷ count):", flush=True)
    # A loaded box must not turn a quote into a 504 half-way: each one counted is stored.
    with private_service(port=args.port, workers=1, QUOTE_TIMEOUT="30") as service:
        asyncio.run(run(service, args.count))


if __name__ == "__main__":
    main()

"""Webhooks under orders: how long an `order.created` takes to reach a receiver, and what writing
the event (the outbox row in the order's transaction) adds to an order's latency.

    uv run python loadtests/bench_webhooks.py [--orders 1000] [--concurrency 4] [--latency-orders 300]
        [--poll-interval 0.5] [--workers 1] [--port 8791]

One run serves on a private Redis and a scratch database with the demo data
(plumbing.private_service, WEBHOOK_ALLOW_PRIVATE=true), with a real receiver on 127.0.0.1
(tests/webhook_receiver.py: answers 200 at once) subscribed to `order.created`. Then:

1. latency: `--latency-orders` orders one after another, in blocks of 50 alternating between the
   subscription active (the order's transaction writes the event and its delivery) and inactive
   (`webhook_emit` finds no subscriber and writes nothing); p50/p95 of each, and the difference;
2. lag: `--orders` orders from `--concurrency` clients at once; for each, the time from its 201
   reaching the client to its delivery reaching the receiver; p50/p99/max, and how long the last
   one took. The sender looks for due deliveries every `--poll-interval` seconds
   (WEBHOOK_POLL_INTERVAL), which bounds the lag from below.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from plumbing import interpreter, private_service

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.webhook_receiver import receiving

BLOCK = 50


async def order(http: httpx.AsyncClient, key: str, product: str) -> tuple[str, float, float]:
    """A quote and its order; (order id, when the 201 arrived (time.time), the order's latency in s)."""
    headers = {"X-API-Key": key}
    body = {
        "customer_id": f"bench-{uuid.uuid4().hex[:12]}",
        "currency": "TRY",
        "items": [{"product_id": product, "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
    }
    quoted = await http.post("/api/v1/quote", json=body, headers=headers)
    quoted.raise_for_status()
    keyed = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    started = time.perf_counter()
    answer = await http.post("/api/v1/orders", json={"quote_id": quoted.json()["data"]["quote_id"]}, headers=keyed)
    latency = time.perf_counter() - started
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]["id"], time.time(), latency


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def pending(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT id, status, attempts, last_status_code, last_error, next_attempt_at, created_at"
            " FROM webhook_deliveries WHERE status <> 'delivered'"
        )
    finally:
        await conn.close()


async def bench(base: str, key: str, products: list[str], database_url: str, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        login = {"username": "demo-admin", "password": "quote-service-admin"}
        token = (await http.post("/api/v1/auth/token", json=login)).json()["data"]["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        products = products[:20]
        for product in products:  # the demo's 40-85 units a product would run out
            stocked = await http.post(
                f"/api/v1/products/{product}/stock", json={"delta": 100_000, "reason": "bench"}, headers=admin
            )
            assert stocked.status_code == 200, stocked.text
        with receiving() as receiver:
            made = await http.post(
                "/api/v1/webhooks", json={"url": receiver.url(), "events": ["order.created"]}, headers=admin
            )
            assert made.status_code == 201, made.text
            hook = made.json()["data"]["id"]

            timings: dict[bool, list[float]] = {True: [], False: []}
            for n in range(args.latency_orders):
                active = (n // BLOCK) % 2 == 0
                if n % BLOCK == 0:
                    switched = await http.patch(f"/api/v1/webhooks/{hook}", json={"is_active": active}, headers=admin)
                    assert switched.status_code == 200, switched.text
                timings[active].append((await order(http, key, products[n % len(products)]))[2])
            on, off = timings[True], timings[False]
            print(
                f"order latency, one client: subscribed p50 {percentile(on, 0.5):.2f} ms p95 {percentile(on, 0.95):.2f}"
                f" ms ({len(on)}); no subscriber p50 {percentile(off, 0.5):.2f} ms p95 {percentile(off, 0.95):.2f} ms"
                f" ({len(off)}); the outbox adds {percentile(on, 0.5) - percentile(off, 0.5):+.2f} ms at p50"
            )
            await http.patch(f"/api/v1/webhooks/{hook}", json={"is_active": True}, headers=admin)

            received_before = len(receiver.snapshot())
            answered: dict[str, float] = {}
            queue = list(range(args.orders))
            started = time.time()

            async def client() -> None:
                while queue:
                    n = queue.pop()
                    order_id, at, _ = await order(http, key, products[n % len(products)])
                    answered[order_id] = at

            await asyncio.gather(*(client() for _ in range(args.concurrency)))
            placed = time.time() - started

            arrived: dict[str, float] = {}
            deadline = time.monotonic() + 120
            while not answered.keys() <= arrived.keys() and time.monotonic() < deadline:
                for got in receiver.snapshot()[received_before:]:
                    order_id = json.loads(got.body)["data"]["order"]["id"]
                    arrived.setdefault(order_id, got.at)
                await asyncio.sleep(0.1)
            missing = set(answered) - set(arrived)
            if missing:
                print(f"{len(missing)} orders' events not arrived after 120 s; their deliveries:")
                for row in await pending(database_url):
                    print("  ", dict(row))
                raise SystemExit(1)
            lags = [arrived[o] - answered[o] for o in answered]
            last = max(arrived[o] for o in answered)
            print(
                f"{args.orders} orders in {placed:.1f} s ({args.orders / placed:.0f}/s, {args.concurrency} clients); "
                f"each order.created delivered; lag from the 201 to the receiver: p50 "
                f"{percentile(lags, 0.5):.0f} ms, p99 {percentile(lags, 0.99):.0f} ms, max {max(lags) * 1000:.0f} ms; "
                f"last delivery {last - started:.1f} s after the first order"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency-orders", type=int, default=300)
    parser.add_argument("--poll-interval", default="0.5", help="WEBHOOK_POLL_INTERVAL of the served service")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    print(interpreter())
    print(f"WEBHOOK_POLL_INTERVAL={args.poll_interval}, {args.workers} worker(s)")
    env = {"WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_POLL_INTERVAL": args.poll_interval}
    with private_service(port=args.port, workers=args.workers, **env) as service:
        asyncio.run(bench(service.base, service.key, service.products, service.database_url, args))


if __name__ == "__main__":
    main()

"""What an order costs end to end, one client at a time: `POST /api/v1/orders` of a fresh quote,
its latency as the client sees it (docs/errors.md#idempotency-keys: the key's claim, the look-up
of an earlier answer, the transaction).

    uv run python loadtests/bench_orders.py [--orders 300] [--runs 3] [--port 8790]
    PYTHONPATH=/path/to/other/checkout uv run python loadtests/bench_orders.py   # the same, another tree

Each run serves on a private Redis and a scratch database with the demo data
(plumbing.private_service), then sends `--orders` quote + order pairs one after another (a demo
product, a new customer and Idempotency-Key each), then as many again with a double submit (the
same order twice at once: the second waits for the first and answers its order). It prints the
order latency's p50 and p95 per run and the medians over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import httpx
from plumbing import interpreter, private_service


async def one_run(base: str, key: str, products: list[str], orders: int) -> tuple[list[float], list[float]]:
    headers = {"X-API-Key": key}
    single: list[float] = []
    double: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for n in range(2 * orders):
            body = {
                "customer_id": f"bench-{uuid.uuid4().hex[:12]}",
                "currency": "TRY",
                "items": [{"product_id": products[n % len(products)], "quantity": 1}],
                "delivery_address": {"city": "Istanbul", "country": "TR"},
            }
            quoted = await http.post("/api/v1/quote", json=body, headers=headers)
            quoted.raise_for_status()
            order = {"quote_id": quoted.json()["data"]["quote_id"]}
            keyed = {**headers, "Idempotency-Key": f"bench-{uuid.uuid4()}"}
            started = time.perf_counter()
            if n < orders:
                answer = await http.post("/api/v1/orders", json=order, headers=keyed)
                assert answer.status_code == 201, answer.text
                single.append(time.perf_counter() - started)
            else:
                twins = await asyncio.gather(*(http.post("/api/v1/orders", json=order, headers=keyed) for _ in "ab"))
                assert [t.status_code for t in twins] == [201, 201], [t.text for t in twins]
                assert twins[0].json()["data"]["id"] == twins[1].json()["data"]["id"]
                double.append(time.perf_counter() - started)
    return single, double


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300, help="orders (and as many double submits) per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    print(interpreter())
    p50s, p95s, twin50s = [], [], []
    for run in range(args.runs):
        with private_service(port=args.port, workers=1) as service:
            single, double = asyncio.run(one_run(service.base, service.key, service.products, args.orders))
        p50s.append(percentile(single, 0.5))
        p95s.append(percentile(single, 0.95))
        twin50s.append(percentile(double, 0.5))
        print(
            f"run {run + 1}: order p50 {p50s[-1]:.2f} ms, p95 {p95s[-1]:.2f} ms; double submit p50 {twin50s[-1]:.2f} ms"
        )
    print(
        f"median of {args.runs} runs: order p50 {statistics.median(p50s):.2f} ms, p95 {statistics.median(p95s):.2f} ms;"
        f" double submit p50 {statistics.median(twin50s):.2f} ms"
    )


if __name__ == "__main__":
    main()

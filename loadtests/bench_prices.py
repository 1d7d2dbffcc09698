"""Benchmark: POST /api/v1/prices, 100 products a call, one worker (docs/markets.md#display-prices).

    .venv/bin/python loadtests/bench_prices.py [--calls 400] [--products 100] [--currency TRY]

Serves `quote-service serve --workers 1` on a private redis-server and a scratch database seeded
with the demo (loadtests/plumbing.py; products added to reach `--products`), then sends `--calls`
calls one after another (after 40 to warm up), each naming `--products` products, and prints p50, p99 and max ms
per call as the client sees it (HTTP on localhost included). Target: p99 <= 25 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.plumbing import free_port, private_service

WARM_UP = 40


def more_products(base: str, count: int) -> list[str]:
    """`count` more TRY products (the demo has ~70), created by the demo admin."""
    if count <= 0:
        return []
    with httpx.Client(base_url=base, timeout=10) as http:
        login = {"username": "demo-admin", "password": "quote-service-admin"}
        token = http.post("/api/v1/auth/token", json=login).json()["data"]["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        made = []
        for n in range(count):
            body = {"sku": f"BENCH-PRICES-{n}", "name": f"Bench product {n}", "category_id": "electronics",
                    "seller_id": "bench", "currency": "TRY", "base_price": f"{100 + n}.00", "min_price": "0",
                    "stock": 100}  # fmt: skip
            created = http.post("/api/v1/products", json=body, headers=headers).raise_for_status()
            made.append(created.json()["data"]["id"])
    return made


def main(args: argparse.Namespace) -> None:
    with private_service(port=free_port(), workers=1) as service:
        ids = (service.products + more_products(service.base, args.products - len(service.products)))[: args.products]
        body = {"product_ids": ids, "currency": args.currency}
        took = []
        with httpx.Client(base_url=service.base, headers={"X-API-Key": service.key}, timeout=10) as http:
            for n in range(WARM_UP + args.calls):
                start = time.perf_counter()
                response = http.post("/api/v1/prices", json=body)
                elapsed = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                if n >= WARM_UP:
                    took.append(elapsed)
            data = response.json()["data"]
        took.sort()
        p50 = statistics.median(took)
        p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
        print(
            f"{args.calls} calls of {len(ids)} products ({len(data['items'])} priced, {len(data['errors'])} errors): "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {took[-1]:.2f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--currency", default="TRY")
    main(parser.parse_args())

"""Benchmark: generating coupon code batches (docs/promotions.md#code-batches), one worker.

    .venv/bin/python loadtests/bench_coupon_codes.py [--runs 3] [--count 10000]

Serves `quote-service serve --workers 1` on a private redis-server and a scratch database seeded
with the demo (loadtests/plumbing.py), then asks `POST /api/v1/coupons/WELCOME10/codes` for
`--count` codes `--runs` times (the codes add up: each run draws against every code made before),
and once for 100,000, printing the wall time of each call as the client sees it and the codes
listed as CSV. Target: 10,000 codes in under 5 s.
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

PATH = "/api/v1/coupons/WELCOME10/codes"


def timed(http: httpx.Client, count: int) -> float:
    start = time.perf_counter()
    made = http.post(PATH, json={"count": count}).raise_for_status().json()["data"]
    took = time.perf_counter() - start
    assert made["count"] == count
    return took


def main(args: argparse.Namespace) -> None:
    with (
        private_service(port=free_port(), workers=1) as service,
        httpx.Client(base_url=service.base, timeout=120) as http,
    ):
        login = {"username": "demo-admin", "password": "quote-service-admin"}
        token = http.post("/api/v1/auth/token", json=login).json()["data"]["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        runs = [timed(http, args.count) for _ in range(args.runs)]
        large = timed(http, 100_000)
        start = time.perf_counter()
        listed = http.get(PATH, params={"format": "csv"}).raise_for_status().text.count("\n") - 1
        listing = time.perf_counter() - start
    print(
        f"{args.count:,} codes: " + ", ".join(f"{t:.2f} s" for t in runs) + f" (median {statistics.median(runs):.2f} s)"
    )
    print(f"100,000 codes: {large:.2f} s; {listed:,} codes listed as CSV in {listing:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=10_000)
    main(parser.parse_args())

"""Benchmark: what one tax extension answering in 5 ms adds to a quote's latency (docs/extensions.md).

    .venv/bin/python loadtests/extension_latency.py [--quotes 300] [--rounds 2] [--delay-ms 5]

Serves `quote-service serve --workers 1` (WEBHOOK_ALLOW_PRIVATE=true) on a private redis-server and a
scratch database, and runs the example tax engine (examples/tax_extension.py, its own process) answering
after `--delay-ms`. Then, in alternating phases (`--rounds` of each, so drift on a shared box hits both
alike), sends `--quotes` quotes one after another (after 40 to warm up), each a new customer (the
identical-request cache never answers), one ad-hoc line delivered to Germany: with no extension, and with
a tax extension for Germany (the engine's amounts used). Prints p50 and p99 ms of each as the client sees
them (HTTP on localhost included) and the difference: the extension's added p50 / p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.plumbing import ADMIN_URL, database, free_port, start_redis, stop, wait_ready
from quote_service.webhooks import signing

ROOT = Path(__file__).resolve().parents[1]

WARM_UP = 40


def quote_body(customer: str) -> dict[str, object]:
    return {
        "customer_id": customer,
        "currency": "EUR",
        "items": [{"product_id": "bench-book", "quantity": 2, "unit_price": "12.50", "seller_id": "seller-1"}],
        "delivery_address": {"city": "Berlin", "country": "DE"},
    }


def timed(http: httpx.Client, phase: str, count: int, taxed: bool) -> list[float]:
    """Milliseconds of `count` quotes (after the warm-up), checking each was taxed as the phase says."""
    took = []
    for n in range(WARM_UP + count):
        start = time.perf_counter()
        response = http.post("/api/v1/quote", json=quote_body(f"{phase}-{n}-{time.monotonic_ns()}"))
        elapsed = (time.perf_counter() - start) * 1000
        response.raise_for_status()
        quote = response.json()["data"]
        assert (quote.get("tax_source") == "extension") is taxed, quote
        if n >= WARM_UP:
            took.append(elapsed)
    return took


def engine_alone(url: str, secret: str, count: int) -> list[float]:
    """Milliseconds of `count` signed calls straight to the engine (after the warm-up): its own round trip
    on this box now, which the extension's added latency holds."""
    body = json.dumps({"currency": "EUR", "lines": [{"line": 0, "net": "25.00", "gross": "25.00"}]}).encode()
    took = []
    with httpx.Client(timeout=10) as http:
        for n in range(WARM_UP + count):
            headers = dict(signing.headers([secret], f"msg_bench_{n}", int(time.time()), body))
            start = time.perf_counter()
            http.post(url, content=body, headers=headers).raise_for_status()
            if n >= WARM_UP:
                took.append((time.perf_counter() - start) * 1000)
    return took


def listening(port: int, seconds: float = 30) -> None:
    """Wait until something accepts connections on `port` of 127.0.0.1."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def percentiles(took: list[float]) -> tuple[float, float]:
    ordered = sorted(took)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="qs-bench-ext-"))
    redis_port, port, engine_port = free_port(), free_port(), free_port()
    store = start_redis(redis_port, None, "noeviction", root)
    name = f"qs_ext_{os.getpid()}"
    asyncio.run(database(name, create=True))
    env = {**os.environ, "DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
           "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
           "RATE_LIMIT_PER_MINUTE": "100000000", "ENVIRONMENT": "development",
           "WEBHOOK_ALLOW_PRIVATE": "true"}  # fmt: skip
    cli = [sys.executable, "-m", "quote_service.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603 - our own CLI
    subprocess.run(  # noqa: S603 - our own CLI
        [*cli, "create-user", "--username", "bench-admin", "--role", "admin", "--password-stdin"],
        env=env, input=b"quote-service-admin\n", check=True, capture_output=True,
    )  # fmt: skip
    server = subprocess.Popen(  # noqa: S603
        [*cli, "serve", "--port", str(port), "--workers", "1"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    engine = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, server)
        with httpx.Client(base_url=base, timeout=10) as http:
            login = {"username": "bench-admin", "password": "quote-service-admin"}
            token = http.post("/api/v1/auth/token", json=login).raise_for_status().json()["data"]["access_token"]
            admin = {"Authorization": f"Bearer {token}"}
            made = http.post(
                "/api/v1/extensions",
                json={"kind": "tax", "url": f"http://127.0.0.1:{engine_port}/tax", "timeout_ms": 1000,
                      "applies_to": {"countries": ["DE"]}, "is_active": False},
                headers=admin,
            ).raise_for_status().json()["data"]  # fmt: skip
            key = http.post("/api/v1/api-keys", json={"name": "bench"}, headers=admin).json()["data"]["key"]
        engine = subprocess.Popen(  # noqa: S603 - our own example
            [sys.executable, str(ROOT / "examples" / "tax_extension.py"), "--port", str(engine_port),
             "--secret", made["secret"], "--delay-ms", str(args.delay_ms)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        listening(engine_port)
        alone = percentiles(engine_alone(made["url"], made["secret"], args.quotes))
        results: dict[bool, list[float]] = {False: [], True: []}
        with (
            httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=10) as http,
            httpx.Client(base_url=base, headers=admin, timeout=10) as admin_http,
        ):
            for round_number in range(args.rounds):
                for active in (False, True):
                    change = {"is_active": active}
                    admin_http.patch(f"/api/v1/extensions/{made['id']}", json=change).raise_for_status()
                    phase = f"r{round_number}-{'ext' if active else 'own'}"
                    results[active] += timed(http, phase, args.quotes, taxed=active)
        own, ext = percentiles(results[False]), percentiles(results[True])
        print(f"{len(results[False])} quotes each, one worker, the engine answering after {args.delay_ms:g} ms")
        print(f"without an extension: p50 {own[0]:.2f} ms, p99 {own[1]:.2f} ms")
        print(f"with one tax extension: p50 {ext[0]:.2f} ms, p99 {ext[1]:.2f} ms")
        print(f"added: p50 {ext[0] - own[0]:+.2f} ms, p99 {ext[1] - own[1]:+.2f} ms")
        print(f"the engine alone (signed calls from here): p50 {alone[0]:.2f} ms, p99 {alone[1]:.2f} ms")
    finally:
        if engine is not None:
            engine.kill()
            engine.wait()
        stop(server)
        store.kill()
        store.wait()
        asyncio.run(database(name, create=False))
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--delay-ms", type=float, default=5.0)
    main(parser.parse_args())

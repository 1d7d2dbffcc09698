"""The quote path in one process, without HTTP: what each layer costs in CPU, steadily enough to
compare two versions of the code (a server on a shared machine moves ±10 % between runs).

    uv run python loadtests/bench_hot_path.py [--quotes 3000] [--rounds 7] [--concurrency 64]
    PYTHONPATH=/path/to/other/checkout uv run python loadtests/bench_hot_path.py   # the same, another tree

One app (`create_app`, its own lifespan, on this event loop with uvloop as granian runs it) on a
fresh database `qs_hot_<pid>` (seed-demo) and Redis db 14 (flushed), and the reference echo app
(loadtests/reference_app.py). Each round sends `--quotes` distinct demo baskets (the wrk script's:
1-4 demo products, WELCOME10, random customers) from `--concurrency` tasks straight to the ASGI
callables, and reads this process's CPU time (every thread). Per round, in turn:

- `full`: the service's ASGI app, real quotes (lean edge, quote service, engine, store: Redis group
  commit and the quote log to PostgreSQL);
- `echo`: the reference app with the same bodies (bare Litestar + msgspec);
- `service`: `QuoteService.quote` called directly (no ASGI, no body decoding);
- `glue`: the service's ASGI app with `QuoteService.quote` answering one canned quote (what the
  edge, the request context and Litestar's entry cost around a quote).
`--full-only` runs the first alone, round after round: a profiler attached to the process
(`py-spy record --pid`) then sees nothing else.

It prints each layer's median CPU µs per request, full ÷ echo and echo ÷ full (the in-process
counterpart of bench.py's quote ÷ reference, without granian's own ~25 µs a request on both), and
the garbage collector's collections and time per quote in the `full` rounds. `--garbage` also
counts the objects that quotes leave in reference cycles (none is the goal: docs/hot-path.md#garbage).
Needs the servers of the README's test setup.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import msgspec
import uvloop
from plumbing import ADMIN_URL, REDIS_URL, database, interpreter

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
App = Callable[[dict[str, Any], Receive, Callable[[Message], Awaitable[None]]], Awaitable[None]]


def basket(ids: list[str], rng: random.Random) -> bytes:
    """One body as loadtests/plumbing.py's wrk script makes them."""
    items = [{"product_id": rng.choice(ids), "quantity": rng.randint(1, 5)} for _ in range(rng.randint(1, 4))]
    return msgspec.json.encode(
        {
            "customer_id": f"c-{rng.randrange(1, 10**9)}", "seller_id": "seller-anatolia", "items": items,
            "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
            "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0186, "longitude": 29.0023},
            "is_express_delivery": rng.random() < 0.5, "coupon_codes": ["WELCOME10"], "currency": "TRY",
            "customer_tier": "gold",
        }
    )  # fmt: skip


def scope(key: bytes) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http", "method": "POST",
        "root_path": "", "path": "/api/v1/quote", "raw_path": b"/api/v1/quote", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"), (b"x-api-key", key)],
        "state": {},
    }  # fmt: skip


async def post(app: App, body: bytes, key: bytes) -> int:
    """One quote request to an ASGI callable, as a server hands it over; the status."""
    sent = False
    status = 0

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope(key), receive, send)
    return status


async def drive(requests: list[Callable[[], Awaitable[Any]]], concurrency: int) -> float:
    """Run the requests from `concurrency` tasks; this process's CPU µs per request."""
    pending = iter(requests)

    async def client() -> None:
        for request in pending:
            await request()

    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return (time.process_time() - started) / len(requests) * 1e6


class Collections:
    """The garbage collector's collections and their time, from gc.callbacks."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started


async def lifespan(app: App) -> Callable[[], Awaitable[None]]:
    """Start the app's lifespan on this loop; returns what stops it."""
    incoming: asyncio.Queue[Message] = asyncio.Queue()
    outgoing: asyncio.Queue[Message] = asyncio.Queue()
    await incoming.put({"type": "lifespan.startup"})
    life = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.ensure_future(app(life, incoming.get, outgoing.put))
    started = await outgoing.get()
    if started["type"] != "lifespan.startup.complete":
        raise SystemExit(f"the app did not start: {started.get('message', started)}")

    async def stop() -> None:
        await incoming.put({"type": "lifespan.shutdown"})
        await outgoing.get()
        await task

    return stop


async def service_key(app: App) -> tuple[bytes, list[str]]:
    """A new service API key (made by the demo admin) and the demo products' ids, from a started app."""
    import httpx

    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    login = {"username": "demo-admin", "password": "quote-service-admin"}
    token = (await http.post("/api/v1/auth/token", json=login)).json()["data"]["access_token"]
    admin = {"Authorization": f"Bearer {token}"}
    made = await http.post("/api/v1/api-keys", json={"name": "hot-path"}, headers=admin)
    key = made.json()["data"]["key"].encode()
    listed = await http.get("/api/v1/products", params={"limit": 500}, headers=admin)
    return key, [product["id"] for product in listed.json()["data"]["items"]]


async def measure(args: argparse.Namespace) -> None:
    import reference_app

    from quote_service.app import create_app
    from quote_service.pricing.quote import QuoteRequest
    from quote_service.quotes.service import QuoteService
    from quote_service.web.request import strict_decoder

    app: Any = create_app()
    echo: Any = reference_app.create_app()
    stop = await lifespan(app)
    try:
        key, ids = await service_key(app)
        rng = random.Random(args.seed)
        assert await post(app, basket(ids, rng), key) == 200  # the edge learns the key
        quotes: QuoteService = app.state.quotes
        principal = app.state.auth.known_api_key(key)
        decoder = strict_decoder(QuoteRequest)
        canned = await quotes.quote(decoder.decode(basket(ids, rng)), principal)
        real_quote = QuoteService.quote

        async def canned_quote(*_: Any, **__: Any) -> Any:
            return canned

        def statuses(target: App, bodies: list[bytes], seen: Counter[int]) -> list[Callable[[], Awaitable[Any]]]:
            async def one(body: bytes) -> None:
                seen[await post(target, body, key)] += 1

            return [lambda body=body: one(body) for body in bodies]  # type: ignore[misc]

        collections = Collections()
        cpu: dict[str, list[float]] = {"full": [], "echo": [], "service": [], "glue": []}
        gc_count = gc_seconds = 0.0
        quoted = 0
        for round_ in range(args.rounds + 1):  # round 0 warms every path
            bodies = [basket(ids, rng) for _ in range(args.quotes)]
            seen: Counter[int] = Counter()
            before = (collections.count, collections.seconds)
            full = await drive(statuses(app, bodies, seen), args.concurrency)
            after = (collections.count, collections.seconds)
            if args.full_only:
                cpu["full"].append(full)
                print(f"round {round_}: full {full:.1f} µs")
                continue
            echoed = await drive(statuses(echo, bodies, seen), args.concurrency)
            fresh = [decoder.decode(basket(ids, rng)) for _ in range(args.quotes)]
            service = await drive([lambda r=r: quotes.quote(r, principal) for r in fresh], args.concurrency)  # type: ignore[misc]
            QuoteService.quote = canned_quote  # type: ignore[method-assign]
            try:
                glue = await drive(statuses(app, bodies, seen), args.concurrency)
            finally:
                QuoteService.quote = real_quote  # type: ignore[method-assign]
            if set(seen) != {200}:
                raise SystemExit(f"not every request was answered 200: {dict(seen)}")
            if round_ == 0:
                continue
            for name, value in (("full", full), ("echo", echoed), ("service", service), ("glue", glue)):
                cpu[name].append(value)
            gc_count += after[0] - before[0]
            gc_seconds += after[1] - before[1]
            quoted += args.quotes
            print(f"round {round_}: " + ", ".join(f"{name} {values[-1]:.1f}" for name, values in cpu.items()) + " µs")
        if args.full_only:
            print(f"full {statistics.median(cpu['full']):.1f} µs per request (median); {interpreter()}")
            return
        median = {name: statistics.median(values) for name, values in cpu.items()}
        print(
            f"\n{interpreter()}\n{args.quotes} quotes x {args.rounds} rounds, {args.concurrency} concurrent; "
            f"CPU µs per request, medians:\n"
            f"  full {median['full']:.1f} | echo {median['echo']:.1f} | service {median['service']:.1f} | "
            f"glue {median['glue']:.1f}\n"
            f"  full ÷ echo {median['full'] / median['echo']:.2f} (echo ÷ full {median['echo'] / median['full']:.3f})\n"
            f"  garbage collector in the full rounds: {gc_count / quoted * 1000:.2f} collections and "
            f"{gc_seconds / quoted * 1e6:.2f} µs per 1,000 quotes / per quote"
        )
        if args.garbage:
            await cyclic_garbage(app, ids, key, rng, args.concurrency)
    finally:
        await stop()


async def cyclic_garbage(app: App, ids: list[str], key: bytes, rng: random.Random, concurrency: int) -> None:
    """Objects 1,000 full quotes leave in reference cycles (freed only by the garbage collector)."""
    bodies = [basket(ids, rng) for _ in range(1000)]
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await drive([lambda body=body: post(app, body, key) for body in bodies], concurrency)  # type: ignore[misc]
        gc.collect()
        found = Counter(type(thing).__qualname__ for thing in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    print(f"  cyclic garbage per 1,000 quotes: {sum(found.values())} objects {found.most_common(6)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=3000, help="requests per layer and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--garbage", action="store_true", help="also count what quotes leave in reference cycles")
    parser.add_argument(
        "--full-only", action="store_true", help="only the full path, round after round (to profile it: py-spy --pid)"
    )
    args = parser.parse_args()
    with demo_environment("qs_hot"):
        uvloop.run(measure(args))


@contextlib.contextmanager
def demo_environment(prefix: str) -> Iterator[None]:
    """A fresh database `<prefix>_<pid>` holding the demo data (seed-demo) and Redis db 14 flushed,
    named in os.environ for `create_app`; the database is dropped afterwards."""
    name = f"{prefix}_{os.getpid()}"
    asyncio.run(database(name, create=True))
    os.environ.update(
        DATABASE_URL=ADMIN_URL.rsplit("/", 1)[0] + "/" + name, REDIS_URL=REDIS_URL, LOG_LEVEL="WARNING",
        LOG_FORMAT="json", RATE_LIMIT_PER_MINUTE="100000000", ENVIRONMENT="development",
    )  # fmt: skip
    try:
        subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)  # noqa: S603, S607
        seed = [sys.executable, "-m", "quote_service.cli", "seed-demo"]
        subprocess.run(seed, env=os.environ, check=True, capture_output=True)  # noqa: S603 - our own CLI
        yield
    finally:
        asyncio.run(database(name, create=False))


if __name__ == "__main__":
    main()

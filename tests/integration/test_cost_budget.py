"""What a quote costs, as counts that do not move with the machine: a check that fails (issue 62).

Three fixed workloads are priced in this process through the real app (its own lifespan on the
test's event loop, requests handed straight to its ASGI callable, the lean edge and a service API
key as a checkout sends them), on the test's PostgreSQL and Redis:

- `simple`: the README's request (one ad-hoc line, express, no catalog product), nothing configured;
- `demo`: seed-demo's catalog and configuration (without its generated history), a 5-unit basket
  of three demo products that a price list (group b2b), two promotions and WELCOME10 all price;
- `marketplace`: 200 lines from 20 sellers, shipping profiles for 16 of them, 30 promotions.

Per warm quote (a new customer each, so the identical-request cache never answers; the stored
quotes already compressed with a trained dictionary) it counts the function calls of this thread
(`Meter`: everything the quote runs, the group commit's Redis call included, but the event loop's
own code and coroutines resuming), the Redis commands sent (redis-py's `pack_command`), the SQL
statements sent (asyncpg's protocol calls), and after the quotes the bytes of each quote-log row
(`pg_column_size`) and of each stored quote (`STRLEN` of its Redis value). A background loop that
wakes during a measured quote only adds, so each count is the least of SAMPLES quotes. Each is
checked against tests/cost_budget.toml; COST_DETAIL=1 prints the calls by function.

A feature a quote does not use must cost it nothing: the simple body is priced again once a price
list, promotions and fee rules in another currency and another seller's shipping profile are
configured, and must count exactly the same calls. docs/hot-path.md#the-cost-budget says how to
change a budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import dis
import inspect
import itertools
import os
import platform
import selectors
import sys
import tomllib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from quote_service.cli import demo
from quote_service.config import Settings
from quote_service.quotes.compact import MIN_SAMPLES
from quote_service.quotes.deadlines import DeadlineWatch
from quote_service.quotes.store import _GroupCommit
from tests.integration.conftest import Caller
from tests.integration.conftest import _stop as stop_shared
from tests.integration.expect import expect_ok

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
from bench_hot_path import lifespan, scope  # the benchmark's ASGI driver
from bench_shipping import CATEGORIES, promotion_body  # its marketplace's promotions

BUDGET_FILE = Path(__file__).resolve().parents[1] / "cost_budget.toml"
DETAIL = os.environ.get("COST_DETAIL") == "1"
SAMPLES = 5
"""Quotes measured per workload: each count is the least of them."""
_PACK_COMMAND = AbstractConnection.pack_command.__code__
_DEADLINE_CHECK = DeadlineWatch._check.__code__
_GROUP_COMMIT = _GroupCommit.task_name
_LOOP_FILES = (str(Path(asyncio.__file__).parent), selectors.__file__)
_SQL_CALLS = frozenset({"query", "bind_execute", "bind_execute_many", "copy_in", "copy_out", "bind"})


@dataclass
class Cost:
    """What one quote cost (or, in the budget file, may cost)."""

    calls: int
    redis_commands: int
    sql_statements: int
    log_row_bytes: int
    stored_bytes: int
    redis_seen: dict[str, int] = field(default_factory=dict)
    """The Redis commands by name (not budgeted: for the failure message)."""


class Meter:
    """A profile function (`sys.setprofile`) counting the calls this thread makes while it is set, and among
    them the Redis commands and SQL statements sent.

    Counted: each call of a Python function (a coroutine or generator when it starts, not each time it
    resumes: how often a read waits for its socket depends on timing) and of a C function, in the
    request's task, the group commit's (its Redis call) and callbacks outside any task; not those the
    event loop's own Python code makes (asyncio, selectors: per iteration, not per quote), the deadline
    watch's timer (it fires every 5 ms while a request is in flight: by the clock, not per quote) nor
    other tasks' (background loops wake by the clock)."""

    def __init__(self) -> None:
        self.request = asyncio.current_task()
        """The task the measured request runs in (the test's own: the ASGI callable is awaited in it)."""
        self.calls = 0
        self.redis: Counter[str] = Counter()
        self.sql = 0
        self.seen: Counter[str] = Counter()
        """With COST_DETAIL=1 in the environment: the calls by function, to compare two runs."""

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if code.co_filename.startswith(_LOOP_FILES) or code is _DEADLINE_CHECK:
            return
        task = asyncio.current_task()
        if task is not None and task is not self.request and task.get_name() != _GROUP_COMMIT:
            return  # another request's, or a background loop's (the flash-sale scheduler, the quote log's writer)
        if event == "call":
            if code.co_flags & _RESUMABLE and frame.f_lasti != _start(code):
                return  # a coroutine or generator resumed, not called
            self.calls += 1
            if DETAIL:
                self.seen[f"{code.co_filename}:{code.co_name}"] += 1
            if code is _PACK_COMMAND:
                name = frame.f_locals["args"][0]
                self.redis[name.decode() if isinstance(name, bytes) else str(name).split()[0]] += 1
        elif event == "c_call":
            self.calls += 1
            if DETAIL:
                self.seen[f"{code.co_filename}:{code.co_name} -> {getattr(arg, '__qualname__', arg)}"] += 1
            if (
                getattr(arg, "__name__", "") in _SQL_CALLS
                and type(getattr(arg, "__self__", None)).__name__ == "Protocol"
            ):
                self.sql += 1


_RESUMABLE = inspect.CO_COROUTINE | inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR
_STARTS: dict[CodeType, int] = {}


def _start(code: CodeType) -> int:
    """The offset of the RESUME a coroutine or generator's first run stops at (where its frame stands
    when the profiler hears of its start)."""
    start = _STARTS.get(code)
    if start is None:
        start = _STARTS[code] = next(i.offset for i in dis.get_instructions(code) if i.opname == "RESUME")
    return start


@dataclass
class Served:
    """The started app, its HTTP client for setup, an admin's headers and a service key's raw bytes."""

    app: Litestar
    http: httpx.AsyncClient
    admin: dict[str, str]
    key: bytes

    async def made(self, path: str, body: dict[str, Any]) -> Any:
        return expect_ok(await self.http.post(path, json=body, headers=self.admin), 201)


@contextlib.asynccontextmanager
async def started(app: Litestar, admin: Caller) -> AsyncIterator[Served]:
    """The app started on this event loop (its lifespan), with a new service key: the worker's shared
    started app of these settings is stopped first (two lifespans of one app would share its state),
    as for a test marked `fresh_app`; the next test's `client` starts it again."""
    await stop_shared(app)
    stop = await lifespan(app)
    try:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://cost") as http:
            served = Served(app, http, admin.headers, b"")
            served.key = (await served.made("/api/v1/api-keys", {"name": "cost"}))["key"].encode()
            yield served
    finally:
        await stop()


async def cost_of(served: Served, bodies: Iterator[bytes], settings: Settings, redis_url: str) -> Cost:
    """The least counts over SAMPLES quotes of `bodies` once the path is warm, and the most bytes of their
    log rows and stored values. Warm: a quote of each body shape priced and the stored quotes compressed
    with a trained dictionary (quotes/compact.py trains one on the first MIN_SAMPLES quotes)."""
    async with _redis(redis_url) as redis:
        for n in itertools.count():
            quote_id = await _quote(served, next(bodies))
            stored = await redis.get(f"qs:quote:{quote_id}")
            if n >= MIN_SAMPLES and stored is not None and stored[17:18] != b"{":  # a dictionary's frame
                break
            assert n < MIN_SAMPLES + 100, "no dictionary was trained"
            if n >= MIN_SAMPLES:
                await asyncio.sleep(0.02)  # the keeper trains it in the background
        meters: list[Meter] = []
        ids = []
        for _ in range(SAMPLES):
            body = next(bodies)
            await asyncio.sleep(0.01)  # the deadline watch's timer drops the last quote's entry
            meter = Meter()
            sys.setprofile(meter)
            try:
                status, answer = await post_reading(served, body)
            finally:
                sys.setprofile(None)
            assert status == 200, answer
            meters.append(meter)
            ids.append(msgspec.json.decode(answer)["data"]["quote_id"])
        stored_bytes = [await redis.strlen(f"qs:quote:{quote_id}") for quote_id in ids]
    if DETAIL:
        least = min(meters, key=lambda m: m.calls)
        print("\n".join(f"{count:6d} {name}" for name, count in sorted(least.seen.items())))
    return Cost(
        calls=min(m.calls for m in meters),
        redis_commands=min(sum(m.redis.values()) for m in meters),
        sql_statements=min(m.sql for m in meters),
        log_row_bytes=max(await _row_sizes(settings, ids)),
        stored_bytes=max(stored_bytes),
        redis_seen=dict(min(meters, key=lambda m: sum(m.redis.values())).redis),
    )


async def post_reading(served: Served, body: bytes) -> tuple[int, bytes]:
    """A quote request to the app's ASGI callable, as granian hands it over: its status and body."""
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await served.app(scope(served.key), receive, send)  # type: ignore[arg-type]
    return status, b"".join(chunks)


async def _quote(served: Served, body: bytes) -> str:
    status, answer = await post_reading(served, body)
    assert status == 200, answer
    return str(msgspec.json.decode(answer)["data"]["quote_id"])


@contextlib.asynccontextmanager
async def _redis(url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


async def _row_sizes(settings: Settings, ids: list[str]) -> list[int]:
    """The bytes of each quote's quote-log row as PostgreSQL stores it (written behind, every 0.2 s)."""
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        for _ in range(200):
            found = await conn.fetch(
                "SELECT pg_column_size(q.*) AS size FROM quote_log q WHERE quote_id = any($1::uuid[])", ids
            )
            if len(found) == len(ids):
                return [row["size"] for row in found]
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"{len(ids) - len(found)} of {len(ids)} quotes never reached the quote log")


def budget(workload: str) -> Cost:
    return Cost(**tomllib.loads(BUDGET_FILE.read_text())[workload])


def measured_on() -> str:
    """The interpreter the budgets were counted on (the file's `python`): another one's standard library
    makes a few calls more or less."""
    return str(tomllib.loads(BUDGET_FILE.read_text())["python"])


def check(workload: str, cost: Cost) -> None:
    """Every measure of `cost` within the workload's budget, or a message naming what went over."""
    allowed = budget(workload)
    print(f"{workload}: {cost}")  # shown with -s
    over = [
        f"{workload}: {name} {got} > budget {limit}"
        + (f" (Redis commands sent: {cost.redis_seen})" if name == "redis_commands" else "")
        for name in ("calls", "redis_commands", "sql_statements", "log_row_bytes", "stored_bytes")
        if (got := getattr(cost, name)) > (limit := getattr(allowed, name))
    ]
    assert not over, (
        f"a quote costs more than tests/cost_budget.toml allows ({cost}): " + "; ".join(over) + ". Make it cheaper,"
        " or raise the budget with a line in BENCHMARKS.md naming the feature and its measured µs a quote"
        f" (docs/hot-path.md#the-cost-budget). Counted on CPython {platform.python_version()}; the budgets on"
        f" {measured_on()}."
    )


def customers(prefix: str) -> Iterator[str]:
    """Customer ids of one length (a row's bytes do not depend on which quote it is)."""
    return (f"{prefix}-{n:06d}" for n in itertools.count())


def simple_bodies() -> Iterator[bytes]:
    """The README's request (one ad-hoc line, express), each from a new customer."""
    for customer in customers("customer"):
        yield msgspec.json.encode(
            {
                "customer_id": customer, "seller_id": "seller-1",
                "items": [{"product_id": "go-readme-item", "quantity": 2, "unit_price": 25.50,
                           "category_id": "electronics"}],
                "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
                "is_express_delivery": True, "coupon_codes": [], "currency": "TRY",
            }
        )  # fmt: skip


async def configure_unused(served: Served, product_id: str) -> None:
    """Features the simple body never uses: a price list, promotions (a GIFT among them) and fee rules in
    another currency, a per-customer-limited promotion on a channel it does not name, a shipping profile
    of another seller, and taxes as markets have them (docs/taxes.md): a compound TAX_RATE on another
    category, an EUR price list that rounds its own way, an installment plan; quantity rules on the list's
    entry and on its product (docs/pricing.md#quantity-rules: the caller made it with some)."""
    since = "2020-01-01T00:00:00Z"
    await served.made(
        "/api/v1/price-lists",
        {"name": "unused", "currency": "EUR", "rounding_mode": "HALF_EVEN", "tax_calculation": "UNIT",
         "prices": [{"product_id": product_id, "amount": "10.00", "quantity_rules": {"step": 2}}]},
    )  # fmt: skip
    eur = {"currency": "EUR"}
    for n, kind, config, conditions, extra in (
        (0, "PERCENT_OFF", {"percent": 10}, eur, {}),
        (1, "FREE_DELIVERY", {}, eur, {}),
        (2, "GIFT", {"product_id": product_id}, eur, {}),  # its stock is read only for a quote that could meet it
        (3, "PERCENT_OFF", {"percent": 5}, eur | {"channels": ["newsletter"]}, {"per_customer_limit": 1}),  # uses
    ):
        await served.made(
            "/api/v1/promotions",
            {"name": f"unused {n}", "kind": kind, "config": config, "conditions": conditions, "starts_at": since}
            | extra,
        )
    for name, rule_type, configuration in (
        ("unused-delivery", "DELIVERY_FEE", {"base_fee": "4.90", "currency": "EUR"}),
        ("unused-small", "SMALL_BASKET", {"threshold": "20", "fee": "2.50", "currency": "EUR"}),
        (
            "unused-otv",
            "TAX_RATE",
            {"components": [{"code": "OTV", "rate": 20}, {"code": "KDV", "rate": 20, "compound": True}]},
        ),
    ):
        await served.made(
            "/api/v1/pricing-rules",
            {"name": name, "type": rule_type, "configuration": configuration, "priority": 9, "effective_from": since,
             **({"category_id": "unused-perfume"} if rule_type == "TAX_RATE" else {})},
        )  # fmt: skip
    await served.made(
        "/api/v1/installment-plans",
        {"name": "unused", "bin_prefixes": ["454360"], "currency": "TRY",
         "options": [{"count": 3, "rate": 0, "funded_by": "platform"}]},
    )  # fmt: skip
    await served.made(
        "/api/v1/shipping-profiles",
        {"seller_id": "seller-unused", "countries": ["TR"], "currency": "TRY", "options": [
            {"code": "standard", "name": "Standard", "base_fee": "24.90", "eta_days_min": 2, "eta_days_max": 4}]},
    )  # fmt: skip


async def test_the_simple_body_within_budget_and_unused_features_cost_it_nothing(
    app: Litestar, admin: Caller, settings: Settings, redis_url: str
) -> None:
    async with started(app, admin) as served:
        bodies = simple_bodies()
        plain = await cost_of(served, bodies, settings, redis_url)
        check("simple", plain)
        product = await served.made("/api/v1/products", {
            "sku": "COST-1", "name": "Cost", "category_id": "electronics", "seller_id": "seller-unused",
            "currency": "TRY", "base_price": "25.50", "min_price": "1.00", "stock": 10,
            "quantity_rules": {"min_qty": 2, "max_per_customer": 4}})  # fmt: skip
        await configure_unused(served, product["id"])
        configured = await cost_of(served, bodies, settings, redis_url)
    assert configured.calls == plain.calls, (
        f"the simple body costs {configured.calls - plain.calls} calls more once price lists, promotions, fee"
        " rules and a shipping profile it never uses are configured: a feature a quote does not use must cost"
        " it nothing (docs/hot-path.md#the-cost-budget)"
    )
    assert (configured.redis_commands, configured.sql_statements) == (plain.redis_commands, plain.sql_statements)


async def _no_history(pool: asyncpg.Pool, *, now: Any) -> None:
    return None


DEMO_SKUS = (("DEMO-ELEC-002", 1), ("DEMO-GROC-001", 3), ("DEMO-HOME-001", 1))
"""The demo basket: no flash-sale product (seed-demo's sale starts a minute after it), three grocery
units (buy 2, get 1), home goods (the platform-funded promotion)."""


async def test_the_demo_workload_within_budget(
    app: Litestar,
    admin: Caller,
    settings: Settings,
    pool: asyncpg.Pool,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # seed-demo's catalog and configuration, without the quote history it generates (~3 s, and no quote reads it)
    monkeypatch.setattr(demo, "seed_history", _no_history)
    await demo.seed_demo(settings, pool)
    # Promotions of one priority stack in the order of their ids, which are random, and the deal search's
    # work follows that order (909 or 958 calls, run by run): a priority each, by name, makes it one order.
    await pool.execute(
        "UPDATE promotions p SET priority = r.rank FROM"
        " (SELECT id, row_number() OVER (ORDER BY name) AS rank FROM promotions) r WHERE p.id = r.id"
    )
    rows = await pool.fetch(
        "SELECT sku, id::text AS id FROM products WHERE sku = any($1::text[])", [s for s, _ in DEMO_SKUS]
    )
    ids = {row["sku"]: row["id"] for row in rows}

    def bodies() -> Iterator[bytes]:
        for customer in customers("c-demo"):
            yield msgspec.json.encode({
                "customer_id": customer, "seller_id": "seller-anatolia", "currency": "TRY",
                "items": [{"product_id": ids[sku], "quantity": quantity} for sku, quantity in DEMO_SKUS],
                "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
                "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0186, "longitude": 29.0023},
                "coupon_codes": ["WELCOME10"], "customer_tier": "gold", "customer_group": "b2b",
            })  # fmt: skip

    async with started(app, admin) as served:
        cost = await cost_of(served, bodies(), settings, redis_url)
        answer = msgspec.json.decode((await post_reading(served, next(bodies())))[1])["data"]
    # What this workload is there for: a price list, promotions and the coupon all price it.
    assert {line["price_source"] for line in answer["items"]} == {"price_list"}
    assert answer["applied_promotions"]
    assert answer["applied_coupons"]
    check("demo", cost)


async def configure_marketplace(served: Served) -> list[str]:
    """20 sellers of 10 products each, shipping profiles for all but every fifth seller (those take the
    delivery rules), 30 promotions of every kind (loadtests/bench_shipping.py's, fewer); the products' ids."""
    ids = []
    for s in range(20):
        seller = f"cost-seller-{s:02d}"
        for n in range(10):
            product = await served.made("/api/v1/products", {
                "sku": f"COST-{s:02d}-{n}", "name": f"Cost {s}/{n}", "category_id": CATEGORIES[n],
                "seller_id": seller, "currency": "TRY", "base_price": f"{20 + 37 * s + 11 * n}.{n}0",
                "min_price": "0", "stock": 1000, "weight": f"{1 + (s + n) % 40 / 10}"})  # fmt: skip
            ids.append(product["id"])
        if s % 5 == 4:
            continue
        await served.made("/api/v1/shipping-profiles", {
            "seller_id": seller, "countries": ["TR"], "currency": "TRY", "options": [
                {"code": "standard", "name": "Standard", "base_fee": "24.90", "per_kg": "1.50", "max_fee": "79.90",
                 "free_above": f"{5 + s * 2}00.00", "eta_days_min": 2, "eta_days_max": 4},
                {"code": "express", "name": "Express", "base_fee": "59.90", "eta_days_min": 1, "eta_days_max": 1,
                 "express": True}]})  # fmt: skip
    for n in range(30):
        promotion = promotion_body(n, ids[n * 5]) | {"priority": n}  # one order, not the random ids' (demo test)
        await served.made("/api/v1/promotions", promotion)
    return ids


async def test_a_200_line_marketplace_basket_within_budget(
    app: Litestar, admin: Caller, settings: Settings, redis_url: str
) -> None:
    async with started(app, admin) as served:
        ids = await configure_marketplace(served)

        def bodies() -> Iterator[bytes]:
            for customer in customers("c-market"):
                yield msgspec.json.encode({
                    "customer_id": customer, "currency": "TRY",
                    "items": [{"product_id": product, "quantity": 1 + n % 3} for n, product in enumerate(ids)],
                    "delivery_address": {"city": "Ankara", "country": "TR", "latitude": 39.93, "longitude": 32.86},
                    "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.01, "longitude": 28.98},
                    "logistics_provider": "fastship",
                })  # fmt: skip

        cost = await cost_of(served, bodies(), settings, redis_url)
        answer = msgspec.json.decode((await post_reading(served, next(bodies())))[1])["data"]
    assert (len(answer["items"]), len(answer["shipments"])) == (200, 20)
    assert answer["applied_promotions"]
    check("marketplace", cost)

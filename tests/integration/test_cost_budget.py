"""What a quote costs, as counts that do not move with the machine: a check that fails (issue 62).

Three fixed workloads are priced in this process through the real app (its own lifespan on the
test's event loop, requests handed straight to its ASGI callable, the lean edge and a service API
key as a checkout sends them), on the test's PostgreSQL and Redis:

- `simple`: the README's request (one ad-hoc line, express, no catalog product), nothing configured;
- `demo`: seed-demo's catalog and configuration (without its generated history), a 5-unit basket
  of three demo products that a price list (group b2b), two promotions and WELCOME10 all price;
- `marketplace`: 200 lines from 20 sellers, shipping profiles for 16 of them, 30 promotions.

Per warm quote (a new customer each, so the identical-request cache never answers; the stored
quotes already compressed with a trained dictionary) it counts, with what runs by the clock pinned
(loadtests/clock_pins.py: the background loops wait until woken, the deadline timers stop, principals
never expire), the function calls of every task of the process (`Meter`: the request's, the group
commit's Redis call, and any task started on the quote's behalf; not the event loop's own code nor
coroutines resuming), the Redis commands sent (each connection's `send_packed_command`, however they
were packed), the SQL statements sent
(asyncpg's own query logger on every connection of the app's pools, and its protocol's calls for what
the logger does not see: prepared statements, COPY), and after the quotes the bytes of each quote-log
row (`pg_column_size`) and of each stored quote (`STRLEN` of its Redis value). Each count is the MOST
of SAMPLES quotes (work on every other quote shows; a count over its budget is taken again once, over
SAMPLES more quotes, and the smaller maximum judged: a one-off, such as an ABC cache refilled after any
`register` in the process, fails nothing, a call on every second quote fails both), and `writer_calls`
is the quote log writer's pass over their rows, a row (its calls over SAMPLES rows). Each is checked against
tests/cost_budget.toml; COST_DETAIL=1 prints the calls by function. A fourth workload, `card_bin`, is
the simple body paid by a card whose BIN an installment plan names (one SQL statement: the plans).

The calls do not depend on the interpreter's patch release: redis-py's `async_timeout` (its timeout
below CPython 3.11.3) is left out as asyncio's own `timeouts` is. The instruction budget
(test_instruction_budget.py) does depend on the interpreter's build: `.python-version` names the one.

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
from collections.abc import AsyncIterator, Coroutine, Iterator
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

from quote_service.cache import lean_redis
from quote_service.cli import demo
from quote_service.config import Settings
from quote_service.observability import gc_pauses
from quote_service.quotes.compact import MIN_SAMPLES
from quote_service.quotes.deadlines import DeadlineWatch
from tests.integration.conftest import Caller
from tests.integration.conftest import _stop as stop_shared
from tests.integration.expect import expect_ok

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
import workloads  # the workloads' bodies and configuration, shared with the instruction counter
from bench_hot_path import lifespan, scope  # the benchmark's ASGI driver
from clock_pins import ClockPins, drain_log

BUDGET_FILE = Path(__file__).resolve().parents[1] / "cost_budget.toml"
DETAIL = os.environ.get("COST_DETAIL") == "1"
SAMPLES = 5
"""Quotes measured per workload: each count is the most of them."""
_SEND_PACKED = AbstractConnection.send_packed_command.__code__
_LEAN_SEND = lean_redis._Pipe.send.__code__
"""The hot path's pipelined connection (quote_service/cache/lean_redis.py): its commands count as any other."""
_DEADLINE_CHECK = DeadlineWatch._check.__code__
_GC_TIMER = gc_pauses._timed.__code__
_REDIS_WATCH = lean_redis._Pipe._look.__code__
_BY_THE_CLOCK = (_DEADLINE_CHECK, _GC_TIMER, _REDIS_WATCH)
_LOOP_FILES: tuple[str, ...] = (str(Path(asyncio.__file__).parent), selectors.__file__)
with contextlib.suppress(ImportError):  # redis-py's timeout below CPython 3.11.3 (asyncio's own above it)
    import async_timeout

    _LOOP_FILES += (async_timeout.__file__,)
_RELEASE = "PoolConnectionHolder.release"
"""asyncpg's pool releases a connection in a task of its own (`asyncio.shield`) that resets it; which task's
release lands in a quote's window is timing (the quote log writer's, a background loop's), so no release is
counted: what a quote asks PostgreSQL is what its own tasks send."""


def _releasing(task: asyncio.Task[Any] | None) -> bool:
    return task is not None and getattr(task.get_coro(), "__qualname__", "") == _RELEASE


_SQL_CALLS = frozenset({"query", "bind_execute", "bind_execute_many", "copy_in", "copy_out", "bind"})


@dataclass
class Cost:
    """What one quote cost (or, in the budget file, may cost)."""

    calls: int
    writer_calls: int
    """The quote log writer's calls a row: its pass over the SAMPLES quotes' rows, over SAMPLES (it varies
    by a few calls with where its segment stands: its budget has ~10 % of headroom)."""
    redis_commands: int
    sql_statements: int
    log_row_bytes: int
    stored_bytes: int
    redis_seen: dict[str, int] = field(default_factory=dict)
    """The Redis commands by name (not budgeted: for the failure message)."""
    sql_seen: list[str] = field(default_factory=list)
    """The SQL statements the query logger saw (not budgeted: for the failure message)."""


class Meter:
    """A profile function (`sys.setprofile`) counting the calls this thread makes while it is set, and among
    them the Redis commands and SQL statements sent.

    Counted: each call of a Python function (a coroutine or generator when it starts, not each time it
    resumes: how often a read waits for its socket depends on timing) and of a C function, in every task
    and callback (the request's, the group commit's, any task the quote starts); not those the event loop's
    own Python code makes (asyncio, selectors, redis-py's async_timeout: per iteration, not per quote), the
    deadline watch's check, the pipelined Redis connection's watch (a timer a second after a send: it fired
    inside a quote's window now and then, +3 calls), the garbage collector's pause timer (a collection lands
    in whichever window it happens to), nor the tasks of background loops that run by the clock (pinned meanwhile; a
    channel's follower still polls every second within its pass)."""

    def __init__(self, timed: frozenset[asyncio.Task[Any]] = frozenset()) -> None:
        self.timed = timed
        """The tasks of background loops that run by the clock (pinned, but a channel's follower polls
        within its pass): not counted. The group commit, woken by each put, is."""
        self.calls = 0
        self.redis: Counter[str] = Counter()
        self.sql = 0
        """SQL statements asyncpg's protocol was asked to send (`_SQL_CALLS`)."""
        self.logged: list[str] = []
        """SQL statements asyncpg's query logger saw (`sql_logger`)."""
        self.seen: Counter[str] = Counter()
        """With COST_DETAIL=1 in the environment: the calls by function, to compare two runs."""

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if code.co_filename.startswith(_LOOP_FILES) or code in _BY_THE_CLOCK:
            return
        task = asyncio.current_task()
        if (self.timed and task in self.timed) or _releasing(task):
            return
        if event == "call":
            if code.co_flags & _RESUMABLE and frame.f_lasti != _start(code):
                return  # a coroutine or generator resumed, not called
            self.calls += 1
            if DETAIL:
                self.seen[f"{code.co_filename}:{code.co_name}"] += 1
            if code is _SEND_PACKED:  # every command leaves through it, however packed (store.py packs in C)
                self.redis.update(command_names(frame.f_locals["command"]))
            elif code is _LEAN_SEND:
                self.redis.update(command_names(frame.f_locals["packed"]))
        elif event == "c_call":
            self.calls += 1
            if DETAIL:
                self.seen[f"{code.co_filename}:{code.co_name} -> {getattr(arg, '__qualname__', arg)}"] += 1
            if (
                getattr(arg, "__name__", "") in _SQL_CALLS
                and type(getattr(arg, "__self__", None)).__name__ == "Protocol"
            ):
                self.sql += 1

    @property
    def sql_statements(self) -> int:
        """Statements sent: what the query logger saw, or the protocol's calls where those are more."""
        return max(self.sql, len(self.logged))


def command_names(packed: bytes | str | list[bytes]) -> list[str]:
    """The names of the Redis commands in what a connection sends (RESP arrays of bulk strings)."""
    data = packed.encode() if isinstance(packed, str) else packed if isinstance(packed, bytes) else b"".join(packed)
    names, at = [], 0
    while at < len(data) and data[at : at + 1] == b"*":
        end = data.index(b"\r\n", at)
        count = int(data[at + 1 : end])
        at = end + 2
        for n in range(count):
            end = data.index(b"\r\n", at)
            size = int(data[at + 1 : end])
            if n == 0:
                names.append(data[end + 2 : end + 2 + size].decode().upper())
            at = end + 2 + size + 2
    return names


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
    """The started app, its HTTP client for setup, an admin's headers, a service key's raw bytes and the
    pins on what runs by the clock."""

    app: Litestar
    http: httpx.AsyncClient
    admin: dict[str, str]
    key: bytes
    pins: ClockPins

    async def made(self, path: str, body: dict[str, Any]) -> Any:
        return expect_ok(await self.http.post(path, json=body, headers=self.admin), 201)


@contextlib.asynccontextmanager
async def started(app: Litestar, admin: Caller) -> AsyncIterator[Served]:
    """The app started on this event loop (its lifespan), with a new service key and its clock's work
    pinnable (loadtests/clock_pins.py): the worker's shared started app of these settings is stopped first
    (two lifespans of one app would share its state), as for a test marked `fresh_app`; the next test's
    `client` starts it again."""
    await stop_shared(app)
    with ClockPins() as pins:
        pins.watch_app(app)
        stop = await lifespan(app)
        try:
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://cost") as http:
                served = Served(app, http, admin.headers, b"", pins)
                served.key = (await served.made("/api/v1/api-keys", {"name": "cost"}))["key"].encode()
                yield served
        finally:
            await pins.unpin()
            await stop()


@contextlib.contextmanager
def sql_logger(app: Litestar, meter: Meter) -> Iterator[None]:
    """asyncpg's query logger on every connection the app's pools hold, each statement it times kept in
    `meter.logged` with the task that sent it (a background loop's, that runs by the clock, left out)."""

    def logged(query: Any) -> None:  # asyncpg times a statement only for a connection with a logger
        pass

    time_and_log = asyncpg.connection.Connection._time_and_log

    def timed(conn: Any, query: str, args: Any, timeout: Any) -> Any:
        task = asyncio.current_task()
        if task not in meter.timed and not _releasing(task):
            meter.logged.append(query)
        return time_and_log(conn, query, args, timeout)

    pools = [app.state.pool, *getattr(app.state.get("read_pools"), "pools", ())]
    connections = [holder._con for pool in pools for holder in getattr(pool, "_holders", ()) if holder._con]
    for conn in connections:
        conn.add_query_logger(logged)
    asyncpg.connection.Connection._time_and_log = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        asyncpg.connection.Connection._time_and_log = time_and_log  # type: ignore[method-assign]
        for conn in connections:
            conn.remove_query_logger(logged)


async def metered(served: Served, meter: Meter, work: Any) -> Any:
    """`await work` with `meter` counting (the query logger's calls arrive a loop iteration late: waited for)."""
    with sql_logger(served.app, meter):
        sys.setprofile(meter)
        try:
            done = await work
        finally:
            sys.setprofile(None)
        await asyncio.sleep(0)
    return done


async def cost_of(served: Served, bodies: Iterator[bytes], settings: Settings, redis_url: str) -> Cost:
    """The most counts over SAMPLES quotes of `bodies` once the path is warm (calls with each quote's share
    of the quote log writer's pass), and the most bytes of their log rows and stored values. Warm: a quote
    of each body shape priced and the stored quotes compressed with a trained dictionary (quotes/compact.py
    trains one on the first MIN_SAMPLES quotes); then what runs by the clock is pinned."""
    async with _redis(redis_url) as redis:
        for n in itertools.count():
            quote_id = await _quote(served, next(bodies))
            stored = await redis.get(f"qs:quote:{quote_id}")
            if n >= MIN_SAMPLES and stored is not None and stored[17:18] != b"{":  # a dictionary's frame
                break
            assert n < MIN_SAMPLES + 100, "no dictionary was trained"
            if n >= MIN_SAMPLES:
                await asyncio.sleep(0.02)  # the keeper trains it in the background
        await served.pins.pin()
        for _ in range(2):  # on the pool's connection the loops' last passes left on top (its statements prepared)
            await _quote(served, next(bodies))
        await drain_log(served.app)
        served.pins.tick()
        meters: list[Meter] = []
        ids = []
        for _ in range(SAMPLES):
            meter = Meter(served.pins.timed_tasks())
            status, answer = await metered(served, meter, post_reading(served, next(bodies)))
            served.pins.tick()  # what the deadline watch's timer does between two quotes
            assert status == 200, answer
            meters.append(meter)
            ids.append(msgspec.json.decode(answer)["data"]["quote_id"])
        writer = Meter(served.pins.timed_tasks())
        await metered(served, writer, drain_log(served.app))  # the writer's pass over the SAMPLES rows
        stored_bytes = [await redis.strlen(f"qs:quote:{quote_id}") for quote_id in ids]
    if DETAIL:
        print("calls per sample:", [m.calls for m in meters], "writer:", writer.calls)
        least = min(meters, key=lambda m: m.calls)
        extra = max(meters, key=lambda m: m.calls).seen - least.seen
        print("the most's calls beyond the least's:", dict(extra.most_common(30)))
        most = max(meters, key=lambda m: m.calls)
        print("\n".join(f"{count:6d} {name}" for name, count in sorted(most.seen.items())))
        print("the quote log writer's pass over the quotes' rows:")
        print("\n".join(f"{count:6d} {name}" for name, count in sorted(writer.seen.items())))
    most_redis = max(meters, key=lambda m: sum(m.redis.values()))
    return Cost(
        calls=max(m.calls for m in meters),
        writer_calls=-(-writer.calls // SAMPLES),
        redis_commands=sum(most_redis.redis.values()),
        sql_statements=max(m.sql_statements for m in meters),
        log_row_bytes=max(await _row_sizes(settings, ids)),
        stored_bytes=max(stored_bytes),
        redis_seen=dict(most_redis.redis),
        sql_seen=max(meters, key=lambda m: m.sql_statements).logged,
    )


def post_reading(served: Served, body: bytes) -> Coroutine[Any, Any, tuple[int, bytes]]:
    """A quote request to the app's ASGI callable, as granian hands it over: its status and body."""
    return asgi_request(served.app, body, served.key)


async def asgi_request(app: Litestar, body: bytes, key: bytes, **other: Any) -> tuple[int, bytes]:
    """A request to the app's ASGI callable, as a server hands it over (the quote's scope, or with `other`
    fields): its status and body."""
    sent = scope(key) if not other else {**scope(key), **other}
    sent_body = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if sent_body:
            return {"type": "http.disconnect"}
        sent_body = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(sent, receive, send)  # type: ignore[arg-type]
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


def over_budget(workload: str, cost: Cost) -> list[str]:
    allowed = budget(workload)
    return [
        f"{workload}: {name} {got} > budget {limit}"
        + (f" (Redis commands sent: {cost.redis_seen})" if name == "redis_commands" else "")
        + (f" (SQL sent: {[' '.join(q.split())[:80] for q in cost.sql_seen]})" if name == "sql_statements" else "")
        for name in ("calls", "writer_calls", "redis_commands", "sql_statements", "log_row_bytes", "stored_bytes")
        if (got := getattr(cost, name)) > (limit := getattr(allowed, name))
    ]


async def judged(workload: str, served: Served, bodies: Iterator[bytes], settings: Settings, redis_url: str) -> Cost:
    """`cost_of`, taken again once when over its budget: each count the smaller of the two maxima."""
    cost = await cost_of(served, bodies, settings, redis_url)
    if not over_budget(workload, cost):
        return cost
    again = await cost_of(served, bodies, settings, redis_url)
    smaller = {name: min(getattr(cost, name), getattr(again, name)) for name in BUDGETED}
    return Cost(**smaller, redis_seen=again.redis_seen, sql_seen=again.sql_seen)


BUDGETED = ("calls", "writer_calls", "redis_commands", "sql_statements", "log_row_bytes", "stored_bytes")


def check(workload: str, cost: Cost) -> None:
    """Every measure of `cost` within the workload's budget, or a message naming what went over."""
    print(f"{workload}: {cost}")  # shown with -s
    over = over_budget(workload, cost)
    assert not over, (
        f"a quote costs more than tests/cost_budget.toml allows ({cost}): " + "; ".join(over) + ". Make it cheaper,"
        " or raise the budget with a line in BENCHMARKS.md naming the feature and its measured µs a quote"
        f" (docs/hot-path.md#the-cost-budget). Counted on CPython {platform.python_version()}; the budgets on"
        f" {measured_on()}."
    )


async def configure_unused(served: Served, product_id: str) -> None:
    """Features the simple body never uses: a price list, promotions (a GIFT among them) and fee rules in
    another currency, a per-customer-limited promotion on a channel it does not name, a shipping profile
    of another seller, and taxes as markets have them (docs/taxes.md): a compound TAX_RATE on another
    category, an EUR price list that rounds its own way, an installment plan; quantity rules on the list's
    entry and on its product (docs/pricing.md#quantity-rules: the caller made it with some); a tax and a shipping
    extension for other countries (docs/extensions.md); another seller's offer of that product (docs/offers.md)."""
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
    for kind in ("tax", "shipping"):  # docs/extensions.md: extensions for another country are never looked at
        await served.made(
            "/api/v1/extensions",
            {"kind": kind, "url": f"https://{kind}.example.invalid/", "applies_to": {"countries": ["DE", "FR"]}},
        )
    # Another seller's offer of the product (docs/offers.md): only a basket holding it chooses an offer.
    await served.made(
        "/api/v1/offers", {"product_id": product_id, "seller_id": "seller-other", "current_price": "20.00", "stock": 5}
    )


async def test_the_simple_body_within_budget_and_unused_features_cost_it_nothing(
    app: Litestar, admin: Caller, settings: Settings, redis_url: str
) -> None:
    async with started(app, admin) as served:
        bodies = workloads.simple_bodies()
        plain = await judged("simple", served, bodies, settings, redis_url)
        check("simple", plain)
        product = await served.made("/api/v1/products", {
            "sku": "COST-1", "name": "Cost", "category_id": "electronics", "seller_id": "seller-unused",
            "currency": "TRY", "base_price": "25.50", "min_price": "1.00", "stock": 10,
            "quantity_rules": {"min_qty": 2, "max_per_customer": 4}})  # fmt: skip
        await configure_unused(served, product["id"])
        configured = await judged("simple", served, bodies, settings, redis_url)
        if configured.calls > plain.calls:  # counted once more: a timer may land in either run (below)
            again = await cost_of(served, bodies, settings, redis_url)
            configured.calls = min(configured.calls, again.calls)
    # At most, not equal: each count is the most one quote of its run took, and a quote of either run may take
    # one call more by the clock (make test's second stage saw plain 385, configured 384, once in four runs, and
    # the other way round on a loaded box); a call every quote pays is counted in both tries.
    assert configured.calls <= plain.calls, (
        f"the simple body costs {configured.calls - plain.calls} calls more once price lists, promotions, fee"
        " rules and a shipping profile it never uses are configured: a feature a quote does not use must cost"
        " it nothing (docs/hot-path.md#the-cost-budget)"
    )
    assert (configured.redis_commands, configured.sql_statements) == (plain.redis_commands, plain.sql_statements)


async def _no_history(pool: asyncpg.Pool, *, now: Any) -> None:
    return None


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
    await pool.execute(workloads.DEMO_PRIORITIES)
    rows = await pool.fetch(
        "SELECT sku, id::text AS id FROM products WHERE sku = any($1::text[])", list(workloads.DEMO_LOOKUP)
    )
    ids = {row["sku"]: row["id"] for row in rows}

    def bodies() -> Iterator[bytes]:
        return workloads.demo_bodies(ids)

    async with started(app, admin) as served:
        cost = await judged("demo", served, bodies(), settings, redis_url)
        answer = msgspec.json.decode((await post_reading(served, next(bodies())))[1])["data"]
    # What this workload is there for: a price list, promotions and the coupon all price it.
    assert {line["price_source"] for line in answer["items"]} == {"price_list"}
    assert answer["applied_promotions"]
    assert answer["applied_coupons"]
    check("demo", cost)


async def test_a_200_line_marketplace_basket_within_budget(
    app: Litestar, admin: Caller, settings: Settings, redis_url: str
) -> None:
    async with started(app, admin) as served:
        ids = await workloads.configure_marketplace(served.made)

        def bodies() -> Iterator[bytes]:
            return workloads.marketplace_bodies(ids)

        cost = await judged("marketplace", served, bodies(), settings, redis_url)
        answer = msgspec.json.decode((await post_reading(served, next(bodies())))[1])["data"]
    assert (len(answer["items"]), len(answer["shipments"])) == (200, 20)
    assert answer["applied_promotions"]
    check("marketplace", cost)


async def test_a_card_bin_quote_within_budget(app: Litestar, admin: Caller, settings: Settings, redis_url: str) -> None:
    """The simple body paid by a card whose BIN an installment plan names: its plans are read (one SQL
    statement, counted by asyncpg's query logger) and the options priced (docs/taxes.md#installments)."""
    async with started(app, admin) as served:
        await workloads.configure_card_bin(served.made)
        cost = await judged("card_bin", served, workloads.card_bin_bodies(), settings, redis_url)
        answer = msgspec.json.decode((await post_reading(served, next(workloads.card_bin_bodies("c-seen"))))[1])
    assert answer["data"]["installment_options"]
    check("card_bin", cost)

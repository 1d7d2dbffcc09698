"""Flash-sale purchases under real concurrency: a running `quote-service serve` (two workers)
on real PostgreSQL and Redis, hit by thousands of simultaneous HTTP purchase attempts.

The in-process test client serialises requests, so these tests start the real server and fire
at it with httpx. Each test then checks the promises of docs/flash-sales.md against the stores
themselves: sold ≤ allocated, every customer ≤ limit, every acknowledged purchase in the
ledger exactly once with its one order (and no order without its purchase), Redis counters in
step with the ledger (or brought back by reconcile after a flush), and never a 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import asyncpg
import httpx
import pytest

from quote_service.cache.redis import RedisClient
from quote_service.config import Settings
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import SALES, Client, buy, new_sale
from tests.integration.servers import cli_env, running_server

pytestmark = [pytest.mark.long, pytest.mark.slow, pytest.mark.redis_backends]

ALLOCATED = 100
LIMIT = 2
ATTEMPTS = 2_000
CUSTOMERS = 400
ROUNDS = 3
FLUSH_ROUNDS = 2
# Units acknowledged (as seen by the client) after which the test's Redis db is flushed.
FLUSH_AT_UNITS = (25, 50, 75)
IN_FLIGHT = 100  # requests on the wire at once: CLIENTS clients of IN_FLIGHT // CLIENTS connections each
CLIENTS = 10
REFUSALS = {"SOLD_OUT", "PURCHASE_LIMIT_EXCEEDED"}
CENT = Decimal("0.01")
CONFIRMED = "Purchase confirmed"
REPLAYED = "Purchase already made with this Idempotency-Key"


# -- plumbing -------------------------------------------------------------------------------------


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """`quote-service serve --workers 2` on this test's own (cleaned) database and Redis db."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    with running_server(env, "--workers", "2") as base:
        yield base


@pytest.fixture
async def fleet(server: str) -> AsyncIterator[list[httpx.AsyncClient]]:
    """CLIENTS httpx clients sharing IN_FLIGHT connections to the server.

    Several small pools rather than one of 100 connections: httpcore checks every pooled
    connection (a socket poll each) for every request, so one big pool makes the client, not
    the server, the bottleneck of a storm.
    """
    per_client = IN_FLIGHT // CLIENTS
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(httpx.AsyncClient(base_url=server, limits=limits, timeout=30.0))
            for _ in range(CLIENTS)
        ]


@pytest.fixture
def http(fleet: list[httpx.AsyncClient]) -> httpx.AsyncClient:
    """One of the clients, for single requests."""
    return fleet[0]


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(settings.database_url or "")
    yield conn
    await conn.close()


@dataclass(frozen=True, slots=True)
class Attempt:
    customer: str
    quantity: int
    key: str


@dataclass(frozen=True, slots=True)
class Outcome:
    attempt: Attempt
    status: int
    body: dict[str, Any]
    replayed: bool = False
    """The answer carried `Idempotent-Replayed: true` (the key's first answer, sent again)."""

    @property
    def code(self) -> str:
        """ "ok" for a success, else the error code (or the status for a non-JSON answer)."""
        if self.status < 400:
            return "ok"
        error = self.body.get("error") or {}
        return str(error.get("code", self.status))


@dataclass(slots=True)
class Storm:
    """Every attempt's answer, and the time the storm took."""

    outcomes: list[Outcome]
    seconds: float

    def statuses(self) -> Counter[int]:
        return Counter(o.status for o in self.outcomes)

    def codes(self) -> Counter[tuple[int, str]]:
        return Counter((o.status, o.code) for o in self.outcomes)

    def won(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 201]

    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 201]


def plan(rng: random.Random, prefix: str, *, attempts: int, customers: int) -> list[Attempt]:
    """`attempts` purchases of 1 or 2 units spread evenly over `customers`, in random order."""
    names = [f"{prefix}-c{n}" for n in range(customers)]
    planned = [Attempt(names[n % customers], rng.choice((1, 2)), uuid.uuid4().hex) for n in range(attempts)]
    rng.shuffle(planned)
    return planned


async def attempt(http: httpx.AsyncClient, headers: dict[str, str], sale: dict[str, Any], planned: Attempt) -> Outcome:
    response = await buy(http, headers, sale, quantity=planned.quantity, key=planned.key, customer_id=planned.customer)
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {"raw": response.text}
    return Outcome(planned, response.status_code, body, response.headers.get("Idempotent-Replayed") == "true")


async def storm(
    fleet: list[httpx.AsyncClient],
    headers: dict[str, str],
    sale: dict[str, Any],
    planned: list[Attempt],
    on_answer: Callable[[Outcome], Awaitable[None]] | None = None,
) -> Storm:
    """Launch every attempt at once and collect the answers.

    Attempts are dealt round-robin to the clients; each client has as many on the wire as it
    has connections and the rest wait on its semaphore (httpcore's own queue is quadratic in
    the number of waiting requests).
    """
    gates = [asyncio.Semaphore(IN_FLIGHT // len(fleet)) for _ in fleet]

    async def one(n: int, item: Attempt) -> Outcome:
        async with gates[n % len(fleet)]:
            outcome = await attempt(fleet[n % len(fleet)], headers, sale, item)
        if on_answer is not None:
            await on_answer(outcome)
        return outcome

    started = time.perf_counter()
    outcomes = list(await asyncio.gather(*(one(n, item) for n, item in enumerate(planned))))
    return Storm(outcomes, time.perf_counter() - started)


async def ledger_rows(db: asyncpg.Connection, sale_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT id, customer_id, quantity, product_id, idempotency_key FROM flash_purchases
           WHERE flash_sale_id = $1""",
        uuid.UUID(sale_id),
    )


async def sold_of(db: asyncpg.Connection, sale_id: str) -> int:
    sold: int = await db.fetchval("SELECT sold FROM flash_sale_items WHERE flash_sale_id = $1", uuid.UUID(sale_id))
    return sold


def per_customer(pairs: list[tuple[str, int]]) -> Counter[str]:
    units: Counter[str] = Counter()
    for customer, quantity in pairs:
        units[customer] += quantity
    return units


def sale_key(sale: dict[str, Any]) -> str:
    return f"qs:{{fs:{sale['id']}}}:sale"


async def redis_counters(redis: RedisClient, sale: dict[str, Any]) -> tuple[int | None, dict[str, int]]:
    """(remaining units, {customer: units bought} for non-zero counts) from the sale's hash."""
    product = sale["items"][0]["product_id"]
    raw = cast(dict[bytes, bytes], await redis.hgetall(sale_key(sale)))
    remaining = raw.get(f"s:{product}".encode())
    prefix = f"b:{product}:"
    bought = {
        name.decode()[len(prefix) :]: int(value)
        for name, value in raw.items()
        if name.decode().startswith(prefix) and int(value) != 0
    }
    return (None if remaining is None else int(remaining)), bought


async def remaining_seen(http: httpx.AsyncClient, admin: Caller, sale: dict[str, Any]) -> int:
    read = expect_ok(await http.get(f"{SALES}/{sale['id']}", headers=admin.headers))
    left: int = read["items"][0]["remaining_stock"]
    return left


async def reconcile(http: httpx.AsyncClient, admin: Caller, sale: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = expect_ok(await http.post(f"{SALES}/{sale['id']}/reconcile", headers=admin.headers))
    return report


async def storm_sale(client: Client, admin: Caller, *, allocated: int, limit: int) -> dict[str, Any]:
    sale, _ = await new_sale(
        client, admin, stock=allocated, item={"allocated_stock": allocated, "per_user_limit": limit}
    )
    return sale


def check_answers(result: Storm, sale: dict[str, Any], *, refusals: set[str]) -> None:
    """No 5xx; every answer is a 201 for what was asked or one of the expected 409 refusals."""
    server_errors = [o for o in result.outcomes if o.status >= 500]
    assert not server_errors, f"{len(server_errors)} 5xx answers, e.g. {server_errors[0]}"
    assert set(result.statuses()) <= {201, 409}, result.codes()
    for outcome in result.refused():
        assert outcome.code in refusals, outcome
        assert outcome.body["success"] is False
    for outcome in result.won():
        data = outcome.body["data"]
        assert outcome.body["message"] == CONFIRMED, outcome  # every key is fresh: nothing is a replay
        assert data["flash_sale_id"] == sale["id"]
        assert data["product_id"] == sale["items"][0]["product_id"]
        assert (data["customer_id"], data["quantity"]) == (outcome.attempt.customer, outcome.attempt.quantity)
        assert data["status"] == "confirmed"


def check_ledger_matches_answers(result: Storm, rows: list[asyncpg.Record]) -> None:
    """Every 201 is exactly one ledger row (same customer, quantity, key) and every row was a 201."""
    ids = Counter(str(r["id"]) for r in rows)
    assert all(n == 1 for n in ids.values())
    acknowledged = Counter(o.body["data"]["purchase_id"] for o in result.won())
    assert acknowledged == ids, "201 purchase ids and ledger ids differ"
    by_id = {str(r["id"]): r for r in rows}
    for outcome in result.won():
        row = by_id[outcome.body["data"]["purchase_id"]]
        assert (row["customer_id"], row["quantity"], row["idempotency_key"]) == (
            outcome.attempt.customer,
            outcome.attempt.quantity,
            outcome.attempt.key,
        )


async def check_orders_match_ledger(db: asyncpg.Connection, sale: dict[str, Any], result: Storm) -> None:
    """Every purchase is an order (docs/flash-sales.md#a-purchase-is-an-order): each ledger row has exactly
    one order of its own, the one its 201 named, charging what the 201 said; no order without its row."""
    rows = await db.fetch(
        """SELECT p.id AS purchase_id, p.order_id, o.id AS own_order, o.total_amount
           FROM flash_purchases p FULL JOIN orders o ON o.flash_purchase_id = p.id
           WHERE p.flash_sale_id = $1 OR o.flash_sale_id = $1""",
        uuid.UUID(sale["id"]),
    )
    assert all(r["purchase_id"] is not None and r["order_id"] == r["own_order"] for r in rows), rows
    answered = {o.body["data"]["purchase_id"]: o.body["data"] for o in result.won()}
    for row in rows:
        data = answered.get(str(row["purchase_id"]))
        if data is not None:
            assert (data["order_id"], data["total"]) == (str(row["order_id"]), str(row["total_amount"].quantize(CENT)))


def by_ledger(result: Storm) -> int:
    """Refusals PostgreSQL made after Redis had allowed the purchase (Redis had drifted).

    For reporting only: Redis's own refusals say how many units or purchases were left
    ("(3 left)"), the ledger's do not (purchases.refusal).
    """
    return sum(1 for o in result.refused() if o.code in REFUSALS and "(" not in o.body["message"])


def summary(label: str, result: Storm) -> str:
    codes = ", ".join(f"{status} {code}: {n}" for (status, code), n in sorted(result.codes().items()))
    rate = len(result.outcomes) / result.seconds
    return (
        f"{label}: {len(result.outcomes)} attempts in {result.seconds:.2f}s ({rate:.0f}/s) - {codes}"
        f" - refused by the ledger: {by_ledger(result)}"
    )


# -- 1. the storm ---------------------------------------------------------------------------------


async def test_a_storm_sells_exactly_the_allocation_within_every_limit_round_after_round(
    client: Client,
    admin: Caller,
    service_key: dict[str, str],
    fleet: list[httpx.AsyncClient],
    http: httpx.AsyncClient,
    redis: RedisClient,
    db: asyncpg.Connection,
) -> None:
    for round_ in range(ROUNDS):
        sale = await storm_sale(client, admin, allocated=ALLOCATED, limit=LIMIT)
        planned = plan(random.Random(f"storm-{round_}"), f"r{round_}", attempts=ATTEMPTS, customers=CUSTOMERS)
        assert {a.quantity for a in planned} == {1, 2}

        result = await storm(fleet, service_key, sale, planned)
        print(summary(f"storm round {round_}", result))

        check_answers(result, sale, refusals=REFUSALS)
        won = result.won()
        assert sum(o.attempt.quantity for o in won) == ALLOCATED
        answered = per_customer([(o.attempt.customer, o.attempt.quantity) for o in won])
        assert max(answered.values()) <= LIMIT
        assert result.codes()[(409, "SOLD_OUT")] > 0

        rows = await ledger_rows(db, sale["id"])
        check_ledger_matches_answers(result, rows)
        await check_orders_match_ledger(db, sale, result)
        recorded = per_customer([(r["customer_id"], r["quantity"]) for r in rows])
        assert sum(recorded.values()) == ALLOCATED
        assert max(recorded.values()) <= LIMIT
        assert recorded == answered
        assert {str(r["product_id"]) for r in rows} == {sale["items"][0]["product_id"]}
        assert await sold_of(db, sale["id"]) == ALLOCATED
        assert await remaining_seen(http, admin, sale) == 0

        # Redis decided every purchase and was never flushed: its counters are the ledger's.
        remaining, bought = await redis_counters(redis, sale)
        assert remaining == 0
        assert bought == dict(recorded)
        report = await reconcile(http, admin, sale)
        assert report["counters_were_missing"] is False
        assert report["corrections"] == []


# -- 2. the last unit -----------------------------------------------------------------------------


async def test_two_hundred_buyers_for_the_last_unit_one_wins(
    client: Client,
    admin: Caller,
    service_key: dict[str, str],
    fleet: list[httpx.AsyncClient],
    http: httpx.AsyncClient,
    redis: RedisClient,
    db: asyncpg.Connection,
) -> None:
    sale = await storm_sale(client, admin, allocated=1, limit=1)
    planned = [Attempt(f"last-c{n}", 1, uuid.uuid4().hex) for n in range(200)]

    result = await storm(fleet, service_key, sale, planned)
    print(summary("last unit", result))

    check_answers(result, sale, refusals={"SOLD_OUT"})
    assert result.codes() == {(201, "ok"): 1, (409, "SOLD_OUT"): 199}
    rows = await ledger_rows(db, sale["id"])
    assert len(rows) == 1
    check_ledger_matches_answers(result, rows)
    assert await sold_of(db, sale["id"]) == 1
    assert await remaining_seen(http, admin, sale) == 0
    winner = result.won()[0].attempt.customer
    assert await redis_counters(redis, sale) == (0, {winner: 1})


# -- 3. one Idempotency-Key, many concurrent requests ----------------------------------------------


async def test_concurrent_requests_with_one_key_make_one_purchase(
    client: Client,
    admin: Caller,
    service_key: dict[str, str],
    fleet: list[httpx.AsyncClient],
    http: httpx.AsyncClient,
    redis: RedisClient,
    db: asyncpg.Connection,
) -> None:
    """The first request takes the units and marks the key pending; the others wait for it
    (up to purchases.PENDING_WAIT_SECONDS = 5 s, far more than one ledger write) and replay it:
    all answer 201 with the first answer, and only the first is not marked a replay."""
    sale = await storm_sale(client, admin, allocated=12, limit=3)
    product = sale["items"][0]["product_id"]
    for round_ in range(3):
        customer, key = f"idem-c{round_}", f"idem-key-{round_}"
        same = [Attempt(customer, 2, key)] * 50

        result = await storm(fleet, service_key, sale, same)
        print(summary(f"one key round {round_}", result))

        assert result.codes() == {(201, "ok"): 50}
        assert Counter(o.replayed for o in result.outcomes) == {False: 1, True: 49}
        assert {o.body["message"] for o in result.outcomes} == {CONFIRMED}
        first = result.outcomes[0].body["data"]
        assert all(o.body["data"] == first for o in result.outcomes)
        rows = [r for r in await ledger_rows(db, sale["id"]) if r["customer_id"] == customer]
        assert [(str(r["id"]), r["quantity"], r["idempotency_key"]) for r in rows] == [(first["purchase_id"], 2, key)]
        _, bought = await redis_counters(redis, sale)
        assert bought[customer] == 2

        # The key is bound to its body; the replays took nothing from the customer's limit.
        conflict = await buy(http, service_key, sale, quantity=1, key=key, customer_id=customer)
        expect_error(conflict, 409, "IDEMPOTENCY_CONFLICT")
        expect_ok(await buy(http, service_key, sale, quantity=1, customer_id=customer), 201)
        over = await buy(http, service_key, sale, quantity=1, customer_id=customer)
        expect_error(over, 409, "PURCHASE_LIMIT_EXCEEDED")

    # One key, two different bodies at once: whichever body wins, every request with that body
    # replays it and every other body is refused; one ledger row.
    racer, key = "idem-racer", "idem-key-racer"
    mixed = [Attempt(racer, 1 + n % 2, key) for n in range(40)]
    result = await storm(fleet, service_key, sale, mixed)
    print(summary("one key, two bodies", result))
    assert not [o for o in result.outcomes if o.status >= 500]
    won = result.won()
    assert won
    winning = won[0].attempt.quantity
    assert {o.attempt.quantity for o in won} == {winning}
    assert len(won) == 20
    for outcome in result.refused():
        assert (outcome.status, outcome.code, outcome.attempt.quantity) == (409, "IDEMPOTENCY_CONFLICT", 3 - winning)
    assert len({o.body["data"]["purchase_id"] for o in won}) == 1
    rows = [r for r in await ledger_rows(db, sale["id"]) if r["customer_id"] == racer]
    assert [(str(r["id"]), r["quantity"]) for r in rows] == [(won[0].body["data"]["purchase_id"], winning)]

    everything = await ledger_rows(db, sale["id"])
    assert sum(r["quantity"] for r in everything) == 3 * 3 + winning
    assert await sold_of(db, sale["id"]) == 3 * 3 + winning
    assert await redis_counters(redis, sale) == (
        12 - (3 * 3 + winning),
        {**{f"idem-c{n}": 3 for n in range(3)}, racer: winning},
    )
    assert {str(r["product_id"]) for r in everything} == {product}
    assert (await reconcile(http, admin, sale))["corrections"] == []


# -- 4. Redis flushed in the middle of a storm ----------------------------------------------------


async def check_after_the_storm(
    result: Storm,
    sale: dict[str, Any],
    *,
    db: asyncpg.Connection,
    http: httpx.AsyncClient,
    admin: Caller,
    service_key: dict[str, str],
    redis: RedisClient,
    label: str,
    late: str,
) -> tuple[int, dict[str, int]]:
    """The storm's promises, whatever Redis went through meanwhile: every acknowledged purchase
    is in the ledger and none is invented, no oversell, no customer over the limit; reconcile
    puts the counters back to the ledger's numbers (a second one finds nothing); exactly the
    rest of the allocation is still for sale, then SOLD_OUT. Returns (units sold in the storm,
    units per customer in the ledger)."""
    won = result.won()
    answered = per_customer([(o.attempt.customer, o.attempt.quantity) for o in won])
    assert max(answered.values()) <= LIMIT

    rows = await ledger_rows(db, sale["id"])
    check_ledger_matches_answers(result, rows)
    await check_orders_match_ledger(db, sale, result)
    recorded = per_customer([(r["customer_id"], r["quantity"]) for r in rows])
    sold = sum(recorded.values())
    assert sold <= ALLOCATED
    assert sum(o.attempt.quantity for o in won) == sold
    assert max(recorded.values()) <= LIMIT
    assert recorded == answered
    assert await sold_of(db, sale["id"]) == sold

    # Redis may have drifted (rebuilt while reservations were in flight, or a promoted replica
    # missing the last replicated writes): reconcile puts it back to the ledger's numbers.
    report = await reconcile(http, admin, sale)
    drift = [(c["counter"], c["customer_id"], c["redis"], c["ledger"]) for c in report["corrections"]]
    print(f"{label}: {sold} sold; reconcile corrected {len(drift)} counter(s) {drift}")
    remaining, bought = await redis_counters(redis, sale)
    assert remaining == ALLOCATED - sold
    assert bought == dict(recorded)
    assert (await reconcile(http, admin, sale))["corrections"] == []
    assert await remaining_seen(http, admin, sale) == ALLOCATED - sold

    # Whatever is left is still for sale, and not one unit more.
    for n in range(ALLOCATED - sold):
        expect_ok(await buy(http, service_key, sale, quantity=1, customer_id=f"{late}{n}"), 201)
    expect_error(await buy(http, service_key, sale, quantity=1, customer_id=f"{late}-last"), 409, "SOLD_OUT")
    assert sum(r["quantity"] for r in await ledger_rows(db, sale["id"])) == ALLOCATED
    return sold, recorded


@dataclass(slots=True)
class Flusher:
    """Flushes the Redis db once the client has seen each threshold of units acknowledged."""

    redis: RedisClient
    total: int
    thresholds: list[int]
    units: int = 0
    answered: int = 0
    in_flight_at_flush: list[int] = field(default_factory=list)

    async def __call__(self, outcome: Outcome) -> None:
        self.answered += 1
        if outcome.status == 201:
            self.units += outcome.attempt.quantity
        if self.thresholds and self.units >= self.thresholds[0]:
            self.thresholds.pop(0)
            self.in_flight_at_flush.append(self.total - self.answered)
            await self.redis.flushdb()


async def test_a_redis_flush_mid_storm_never_oversells_and_reconcile_restores_the_counters(
    client: Client,
    admin: Caller,
    service_key: dict[str, str],
    fleet: list[httpx.AsyncClient],
    http: httpx.AsyncClient,
    redis: RedisClient,
    db: asyncpg.Connection,
) -> None:
    for round_ in range(FLUSH_ROUNDS):
        sale = await storm_sale(client, admin, allocated=ALLOCATED, limit=LIMIT)
        planned = plan(random.Random(f"flush-{round_}"), f"f{round_}", attempts=ATTEMPTS, customers=CUSTOMERS)
        flusher = Flusher(redis, total=len(planned), thresholds=list(FLUSH_AT_UNITS))
        built = await redis.hget(sale_key(sale), "gen")
        assert built is not None

        result = await storm(fleet, service_key, sale, planned, on_answer=flusher)
        print(summary(f"flush round {round_}", result), f"- flushed with {flusher.in_flight_at_flush} unanswered")

        assert len(flusher.in_flight_at_flush) == len(FLUSH_AT_UNITS), "the storm ended before every flush"
        assert all(n > 0 for n in flusher.in_flight_at_flush)
        rebuilt = await redis.hget(sale_key(sale), "gen")
        assert rebuilt is not None
        assert rebuilt != built  # purchases after the flush rebuilt the counters from the ledger
        check_answers(result, sale, refusals=REFUSALS)
        sold, recorded = await check_after_the_storm(
            result, sale, db=db, http=http, admin=admin, service_key=service_key, redis=redis,
            label=f"flush round {round_}", late=f"f{round_}-late",
        )  # fmt: skip
        assert await sold_of(db, sale["id"]) == ALLOCATED
        assert await redis_counters(redis, sale) == (
            0,
            dict(recorded) | {f"f{round_}-late{n}": 1 for n in range(ALLOCATED - sold)},
        )

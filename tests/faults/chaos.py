"""The chaos soak: mixed load on a two-worker service while its processes and stores fail, then
an audit of everything the clients were told against what PostgreSQL holds.

Load (checkout clients on one service key): plain quotes; reserving quotes and their orders;
quotes and orders (some with a coupon of limited use); partial refunds and cancels of placed
orders; flash-sale purchases. Every order, refund, cancel and purchase carries an
Idempotency-Key, and its client sends it again — same key, same body — on a dropped connection,
a 429, 503 or 504, or 409 `IDEMPOTENCY_IN_PROGRESS`, until it gets a definitive answer.

Faults, one every `fault_every` seconds, in turn: a worker SIGKILLed; the server SIGTERMed and
started again; Redis SIGKILLed and restarted empty; PostgreSQL stopped for `pg_outage` seconds;
Redis paused (SIGSTOP) for `redis_pause` seconds.

The audit (docs/operations.md#the-chaos-soak): every acknowledged order, refund, cancel and
purchase stored exactly once (0 lost, 0 duplicated); no key answered both ways (a key whose
final answer was a refusal left nothing behind, and a key that succeeded answers the same again);
every quote answered 200 is in `quote_log`; stock, coupon uses and flash-sale units in balance.

Run it for as long as you like (prints its counts):

    uv run python -m tests.faults.chaos --seconds 600 --fault-every 90

`tests/faults/test_chaos_soak.py` runs a short one in the fault suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from quote_service.clock import utcnow
from tests.faults.private import PrivatePostgres, PrivateRedis, ServiceProcess, service_env
from tests.faults.scenario import ORDERS, QUOTE, seed

SALES = "/api/v1/flash-sales"
COUPON = "SOAK10"
RETRYABLE_CODES = {"IDEMPOTENCY_IN_PROGRESS"}
INITIAL_STOCK = 1_000_000
FLASH_UNITS = 200_000
FLASH_LIMIT = 4
BUY_NOW = (
    "flash_purchases p WHERE p.order_id IS NULL OR EXISTS (SELECT 1 FROM orders o WHERE o.flash_purchase_id = p.id)"
)
"""The ledger's "Buy now" purchases (each with its own order), not the units orders of quotes bought."""
FAULTS = ("kill_worker", "restart_service", "redis_restart_empty", "postgres_outage", "redis_pause")


@dataclass
class Keyed:
    """One keyed request as its client saw it."""

    kind: str  # order | refund | cancel | purchase
    key: str
    url: str
    body: dict[str, Any]
    attempts: int = 0
    status: int = 0
    """The definitive answer's status (0: none came before the client gave up)."""
    code: str = ""
    result_id: str = ""


@dataclass
class Report:
    seconds: float = 0.0
    faults: list[str] = field(default_factory=list)
    quotes_answered: list[str] = field(default_factory=list)
    quote_statuses: Counter[int] = field(default_factory=Counter)
    keyed: list[Keyed] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        done = Counter(k.kind for k in self.keyed if 200 <= k.status < 300)
        refused = Counter(f"{k.kind}:{k.code}" for k in self.keyed if k.status >= 400)
        lines = [
            f"chaos soak: {self.seconds:.0f} s, faults {Counter(self.faults)}",
            f"quotes: {len(self.quotes_answered)} answered 200 (statuses {dict(self.quote_statuses)})",
            f"acknowledged: {dict(done)}; refused (definitive): {dict(refused)}",
            f"retries by cause: {dict(self.retries)}",
            f"audit: {self.counts}",
            f"problems: {len(self.problems)}",
            *(f"  - {p}" for p in self.problems[:50]),
        ]
        return "\n".join(lines)


class Soak:
    """The servers, the service on top, the clients and the fault injector."""

    def __init__(
        self,
        *,
        seconds: float,
        fault_every: float,
        clients: int = 12,
        pg_outage: float = 15.0,
        redis_pause: float = 5.0,
        seed_value: int = 1,
    ) -> None:
        self.seconds = seconds
        self.fault_every = fault_every
        self.clients = clients
        self.pg_outage = pg_outage
        self.redis_pause = redis_pause
        self.random = random.Random(seed_value)
        self.report = Report()
        self.placed: list[dict[str, Any]] = []
        """Orders acknowledged (id, lines left to refund), for the refund and cancel clients."""
        self._stop = asyncio.Event()

    async def run(self, pg: PrivatePostgres, redis: PrivateRedis) -> Report:
        env = service_env(
            pg.url, redis.url, LOG_LEVEL="WARNING", FLASH_RECONCILE_INTERVAL_SECONDS="5", FLASH_HOLD_GRACE_SECONDS="20"
        )
        self.pg, self.redis = pg, redis
        self.service = ServiceProcess(env, "--workers", "2")
        self.service.start()
        try:
            limits = httpx.Limits(max_connections=self.clients * 2)
            async with httpx.AsyncClient(base_url=self.service.base, timeout=15, limits=limits) as http:
                self.http = http
                self.data = await seed(http, pg.url, products=6, stock=INITIAL_STOCK)
                self.sale = await self._open_sale()
                await self._coupon()
                started = time.monotonic()
                await asyncio.gather(self._faults(), *(self._client(n) for n in range(self.clients)))
                self.report.seconds = time.monotonic() - started
                await self._replay_successes()
            code = self.service.stop()
            if code != 0:
                self.report.problems.append(f"the service's final stop exited {code}")
        finally:
            self.service.close()
        await self._audit(pg.url)
        return self.report

    # -- set-up -------------------------------------------------------------------------------

    async def _open_sale(self) -> dict[str, Any]:
        now = utcnow()
        body = {
            "name": "Soak sale",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=3)).isoformat(),
            "items": [
                {
                    "product_id": self.data.products[0],
                    "flash_price": "21.00",
                    "allocated_stock": FLASH_UNITS,
                    "per_user_limit": FLASH_LIMIT,
                }
            ],
        }
        response = await self.http.post(SALES, json=body, headers=self.data.admin)
        assert response.status_code == 201, response.text
        sale: dict[str, Any] = response.json()["data"]
        return sale

    async def _coupon(self) -> None:
        body = {
            "code": COUPON,
            "type": "PERCENTAGE",
            "value": 10,
            "valid_from": "2025-01-01T00:00:00Z",
            "usage_limit": 150,
            "per_customer_limit": 1,
        }
        response = await self.http.post("/api/v1/coupons", json=body, headers=self.data.admin)
        assert response.status_code == 201, response.text

    # -- faults -------------------------------------------------------------------------------

    async def _faults(self) -> None:
        deadline = time.monotonic() + self.seconds
        turn = 0
        while True:
            pause = min(self.fault_every, deadline - time.monotonic())
            if pause <= 0:
                break
            await asyncio.sleep(pause)  # the soak's rhythm, on the real clock on purpose
            if time.monotonic() >= deadline:
                break
            fault = FAULTS[turn % len(FAULTS)]
            turn += 1
            self.report.faults.append(fault)
            await asyncio.to_thread(getattr(self, f"_{fault}"))
        self._stop.set()

    def _kill_worker(self) -> None:
        workers = [p for p in self.service.worker_pids() if b"resource_tracker" not in _cmdline(p)]
        if workers:
            with contextlib.suppress(ProcessLookupError):
                import os

                os.kill(self.random.choice(workers), signal.SIGKILL)

    def _restart_service(self) -> None:
        code = self.service.stop()
        if code != 0:
            self.report.problems.append(f"a SIGTERM stop exited {code}")
        self.service.start()

    def _redis_restart_empty(self) -> None:
        self.redis.restart_empty()

    def _postgres_outage(self) -> None:
        self.pg.stop("fast")
        time.sleep(self.pg_outage)
        self.pg.start()

    def _redis_pause(self) -> None:
        self.redis.pause()
        time.sleep(self.redis_pause)
        self.redis.resume()

    # -- clients ------------------------------------------------------------------------------

    async def _client(self, n: int) -> None:
        rng = random.Random(self.random.random())
        step = 0
        while not self._stop.is_set():
            step += 1
            customer = f"c{n}-{step}"
            roll = rng.random()
            if roll < 0.35:
                await self._quote(customer, rng)
            elif roll < 0.60:
                await self._quote_and_order(customer, rng, reserve=False)
            elif roll < 0.70:
                await self._quote_and_order(customer, rng, reserve=True)
            elif roll < 0.80:
                await self._refund(rng)
            elif roll < 0.85:
                await self._cancel(rng)
            else:
                await self._purchase(f"f{n}-{rng.randrange(40)}", rng)

    def _basket(self, customer: str, rng: random.Random, *, flash: bool = False) -> dict[str, Any]:
        products = self.data.products
        first = products[0] if flash else products[1 + rng.randrange(len(products) - 1)]
        # A flash basket takes the customer's whole per-user limit at the flash price: a twin of its
        # order that bought them again would be refused, so a double submit shows whether it waits.
        items = [{"product_id": first, "quantity": FLASH_LIMIT if flash else 1 + rng.randrange(2)}]
        if rng.random() < 0.5:
            items.append({"product_id": products[1 + rng.randrange(len(products) - 1)], "quantity": 1})
        return {
            "customer_id": customer,
            "currency": "TRY",
            "items": items,
            "delivery_address": {"city": "Istanbul", "country": "TR"},
        }

    async def _quote(self, customer: str, rng: random.Random, **extra: Any) -> dict[str, Any] | None:
        body = {**self._basket(customer, rng, flash=rng.random() < 0.15), **extra}
        try:
            response = await self.http.post(QUOTE, json=body, headers=self.data.service_key)
        except httpx.TransportError:
            self.report.quote_statuses[0] += 1
            return None
        self.report.quote_statuses[response.status_code] += 1
        if response.status_code != 200:
            return None
        quote: dict[str, Any] = response.json()["data"]
        self.report.quotes_answered.append(quote["quote_id"])
        return quote

    async def _quote_and_order(self, customer: str, rng: random.Random, *, reserve: bool) -> None:
        extra: dict[str, Any] = {"reserve_stock": True} if reserve else {}
        if rng.random() < 0.3:
            extra["coupon_codes"] = [COUPON]
        quote = await self._quote(customer, rng, **extra)
        if quote is None:
            return
        keyed = await self._submit(rng, "order", ORDERS, {"quote_id": quote["quote_id"]})
        if keyed.status == 201:
            lines = [(i["product_id"], i["quantity"]) for i in quote["items"]]
            self.placed.append({"id": keyed.result_id, "lines": lines})

    async def _refund(self, rng: random.Random) -> None:
        if not self.placed:
            return
        order = self.placed.pop(rng.randrange(len(self.placed)))
        product, quantity = order["lines"][0]
        body = {"lines": [{"product_id": product, "quantity": 1}], "reason": "soak"}
        keyed = await self._send("refund", f"{ORDERS}/{order['id']}/refunds", body)
        if keyed.status == 201 and quantity > 1:  # units left on the line: refundable again later
            order["lines"][0] = (product, quantity - 1)
            self.placed.append(order)

    async def _cancel(self, rng: random.Random) -> None:
        if not self.placed:
            return
        order = self.placed.pop(rng.randrange(len(self.placed)))
        await self._send("cancel", f"{ORDERS}/{order['id']}/cancel", {"reason": "soak"})

    async def _purchase(self, customer: str, rng: random.Random) -> None:
        body = {"product_id": self.data.products[0], "quantity": 1 + rng.randrange(2), "customer_id": customer}
        await self._submit(rng, "purchase", f"{SALES}/{self.sale['id']}/purchases", body)

    async def _submit(self, rng: random.Random, kind: str, url: str, body: dict[str, Any]) -> Keyed:
        """One request, or now and then a double submit: the same key and body twice at once (a
        double click, a client that timed out and sent again while the first still ran)."""
        key = f"{kind}-{uuid.uuid4()}"
        if rng.random() >= 0.15:
            return await self._send(kind, url, body, key)
        first, _ = await asyncio.gather(self._send(kind, url, body, key), self._send(kind, url, body, key))
        return first

    async def _send(self, kind: str, url: str, body: dict[str, Any], key: str | None = None) -> Keyed:
        """Send until a definitive answer, the same key every time, as a careful client does."""
        keyed = Keyed(kind=kind, key=key or f"{kind}-{uuid.uuid4()}", url=url, body=body)
        self.report.keyed.append(keyed)
        headers = {**self.data.service_key, "Idempotency-Key": keyed.key}
        give_up = time.monotonic() + 180
        while time.monotonic() < give_up:
            keyed.attempts += 1
            try:
                response = await self.http.post(url, json=body, headers=headers)
            except httpx.TransportError as exc:
                self.report.retries[type(exc).__name__] += 1
                await asyncio.sleep(0.25)
                continue
            code = _code(response)
            if response.status_code in (429, 502, 503, 504) or code in RETRYABLE_CODES:
                self.report.retries[code or str(response.status_code)] += 1
                await asyncio.sleep(min(2.0, float(response.headers.get("retry-after", "0.25"))))
                continue
            keyed.status, keyed.code = response.status_code, code
            if 200 <= response.status_code < 300:
                keyed.result_id = _result_id(kind, response.json()["data"])
            return keyed
        self.report.problems.append(f"{kind} {keyed.key}: no definitive answer in 180 s ({keyed.attempts} tries)")
        return keyed

    async def _replay_successes(self) -> None:
        """Every key that succeeded answers the same again (a sample, after the faults)."""
        done = [k for k in self.report.keyed if 200 <= k.status < 300]
        sample = self.random.sample(done, min(len(done), 400))
        for keyed in sample:
            headers = {**self.data.service_key, "Idempotency-Key": keyed.key}
            response = await self.http.post(keyed.url, json=keyed.body, headers=headers)
            if response.status_code not in (200, 201) or _result_id(keyed.kind, response.json()["data"]) != (
                keyed.result_id
            ):
                self.report.problems.append(
                    f"{keyed.kind} {keyed.key} answered {keyed.status} {keyed.result_id}, "
                    f"then {response.status_code} {response.text[:200]}"
                )
        self.report.counts["replayed_keys"] = len(sample)

    # -- audit --------------------------------------------------------------------------------

    async def _audit(self, url: str) -> None:
        conn = await asyncpg.connect(url)
        try:
            await self._audit_keys(conn)
            await self._audit_quote_log(conn)
            await self._audit_balances(conn)
        finally:
            await conn.close()

    async def _audit_keys(self, conn: asyncpg.Connection) -> None:
        # What each key stored, as its answer names it: an order's id, a refund's, a cancel's order
        # (a cancel answers the order it cancelled), a purchase's.
        stored: dict[str, list[str]] = {}
        for row in await conn.fetch(
            "SELECT id::text, idempotency_key FROM orders WHERE flash_purchase_id IS NULL"
            " UNION ALL SELECT CASE kind WHEN 'cancel' THEN order_id ELSE id END::text, idempotency_key FROM refunds"
            f" UNION ALL SELECT p.id::text, p.idempotency_key FROM {BUY_NOW}"
        ):
            stored.setdefault(row["idempotency_key"], []).append(row["id"])
        lost = duplicated = both_ways = 0
        for keyed in self.report.keyed:
            rows = stored.get(keyed.key, [])
            if len(rows) > 1:
                duplicated += 1
                self.report.problems.append(f"{keyed.kind} {keyed.key}: stored {len(rows)} times")
            if 200 <= keyed.status < 300 and rows != [keyed.result_id]:
                lost += 1
                self.report.problems.append(f"{keyed.kind} {keyed.key}: answered {keyed.result_id}, stored {rows}")
            if keyed.status >= 400 and rows:
                both_ways += 1
                self.report.problems.append(f"{keyed.kind} {keyed.key}: answered {keyed.status} {keyed.code}, stored")
        answers: dict[str, set[tuple[int, str]]] = {}
        for keyed in self.report.keyed:
            answers.setdefault(keyed.key, set()).add((keyed.status, keyed.result_id or keyed.code))
        for key, given in answers.items():
            if len(given) > 1:  # a double submit told two stories
                both_ways += 1
                self.report.problems.append(f"{key}: answered {sorted(given)}")
        sent = Counter(keyed.key for keyed in self.report.keyed)
        self.report.counts["double_submits"] = sum(1 for times in sent.values() if times > 1)
        unknown = set(stored) - {k.key for k in self.report.keyed}
        for key in unknown:
            self.report.problems.append(f"stored under a key no client sent: {key}")
        self.report.counts.update(lost=lost, duplicated=duplicated, keys_both_ways=both_ways)

    async def _audit_quote_log(self, conn: asyncpg.Connection) -> None:
        logged = {str(r["quote_id"]) for r in await conn.fetch("SELECT quote_id FROM quote_log")}
        missing = [q for q in self.report.quotes_answered if q not in logged]
        self.report.counts["quotes_not_logged"] = len(missing)
        for quote_id in missing[:20]:
            self.report.problems.append(f"quote {quote_id} answered 200, not in quote_log")

    async def _audit_balances(self, conn: asyncpg.Connection) -> None:
        products = [uuid.UUID(p) for p in self.data.products]
        rows = await conn.fetch(
            """SELECT p.id, p.stock,
                      coalesce((SELECT sum(l.quantity) FROM order_lines l
                                WHERE l.product_id = p.id::text AND l.price_source <> 'flash_sale'
                                  AND l.price_source <> 'request'), 0) AS ordered,
                      coalesce((SELECT sum(r.quantity) FROM refund_lines r WHERE r.product_id = p.id::text), 0)
                        AS returned,
                      coalesce((SELECT sum(i.allocated_stock - coalesce(i.returned_stock, 0)) FROM flash_sale_items i
                                WHERE i.product_id = p.id), 0) AS allocated
               FROM products p WHERE p.id = any($1::uuid[])""",
            products,
        )
        for row in rows:
            expected = INITIAL_STOCK - row["ordered"] + row["returned"] - row["allocated"]
            if row["stock"] != expected:
                self.report.problems.append(f"product {row['id']}: stock {row['stock']}, expected {expected}")
        item = await conn.fetchrow(
            "SELECT sold, allocated_stock, (SELECT coalesce(sum(quantity), 0) FROM flash_purchases"
            " WHERE flash_sale_id = $1) AS ledger FROM flash_sale_items WHERE flash_sale_id = $1",
            uuid.UUID(self.sale["id"]),
        )
        if not item["ledger"] == item["sold"] <= item["allocated_stock"]:
            self.report.problems.append(f"flash sale: sold {item['sold']}, ledger {item['ledger']}")
        over = await conn.fetchval(
            "SELECT count(*) FROM (SELECT customer_id FROM flash_purchases GROUP BY customer_id"
            " HAVING sum(quantity) > $1) AS o",
            FLASH_LIMIT,
        )
        if over:
            self.report.problems.append(f"{over} customers bought more than {FLASH_LIMIT} flash units")
        # Every "Buy now" purchase (a key a client sent, not an order's line) is an order, named both ways.
        unbooked = await conn.fetchval(
            "SELECT count(*) FROM flash_purchases p WHERE p.idempotency_key NOT LIKE 'order:%'"
            " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.flash_purchase_id = p.id AND o.id = p.order_id)"
        )
        if unbooked:
            self.report.problems.append(f"{unbooked} flash purchases without their order")
        coupon = await conn.fetchrow(
            """SELECT c.times_used, c.usage_limit,
                      (SELECT count(*) FROM coupon_redemptions r JOIN orders o ON o.id = r.order_id
                       WHERE r.coupon_code = c.code AND o.status <> 'cancelled') AS live
               FROM coupons c WHERE c.code = $1""",
            COUPON,
        )
        if not coupon["times_used"] == coupon["live"] <= coupon["usage_limit"]:
            self.report.problems.append(f"coupon: times_used {coupon['times_used']}, live redemptions {coupon['live']}")
        self.report.counts.update(
            orders=await conn.fetchval("SELECT count(*) FROM orders WHERE flash_purchase_id IS NULL"),
            refunds=await conn.fetchval("SELECT count(*) FROM refunds WHERE kind = 'refund'"),
            cancels=await conn.fetchval("SELECT count(*) FROM refunds WHERE kind = 'cancel'"),
            flash_purchases=await conn.fetchval(f"SELECT count(*) FROM {BUY_NOW}"),
            quotes_logged=await conn.fetchval("SELECT count(*) FROM quote_log"),
            coupon_uses=coupon["times_used"],
        )


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _result_id(kind: str, data: dict[str, Any]) -> str:
    return str(data["purchase_id"] if kind == "purchase" else data["id"])


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


async def soak(**options: Any) -> Report:
    """One soak on fresh private servers (removed afterwards)."""
    pg, redis = PrivatePostgres(), PrivateRedis()
    try:
        pg.start()
        await pg.create_database()
        redis.start()
        return await Soak(**options).run(pg, redis)
    finally:
        redis.close()
        pg.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="The chaos soak: mixed load, a fault every so often, an audit.")
    parser.add_argument("--seconds", type=float, default=600, help="how long the load runs (default 600)")
    parser.add_argument("--fault-every", type=float, default=90, help="seconds between two faults (default 90)")
    parser.add_argument("--clients", type=int, default=12, help="concurrent checkout clients (default 12)")
    parser.add_argument("--pg-outage", type=float, default=15, help="seconds PostgreSQL stays down (default 15)")
    parser.add_argument("--seed", type=int, default=1, help="the random seed of the load (default 1)")
    args = parser.parse_args()
    report = asyncio.run(
        soak(
            seconds=args.seconds,
            fault_every=args.fault_every,
            clients=args.clients,
            pg_outage=args.pg_outage,
            seed_value=args.seed,
        )
    )
    print(report.summary())
    raise SystemExit(1 if report.problems else 0)


if __name__ == "__main__":
    main()

"""What-if simulations: the quote log's baskets priced under today's configuration and under
today's plus draft changes (docs/governance.md#what-if-simulations).

A simulation runs as an asyncio task of the process that accepted it, pricing in chunks with a
yield to the event loop between them (quotes keep being served). Its result is kept in that
process's memory for RESULT_TTL_SECONDS. It writes nothing: the drafts live in a rolled-back
transaction (drafts.py), the quote log is only read (from the replica when one is configured),
and pricing stores no quote and moves no counter.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from quote_service.clock import utcnow
from quote_service.db.pool import Pool
from quote_service.db.replica import ReadPools
from quote_service.errors import FieldError, RateLimited, ServiceError, ValidationFailed
from quote_service.observability.metrics import SIMULATED_QUOTES, SIMULATIONS, SIMULATIONS_RUNNING
from quote_service.pricing.engine import price_quote
from quote_service.pricing.quote import CatalogProduct, CustomerContext, EngineDefaults, Quote, QuoteRequest
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.quotes.quote_log import request_of_log

log = structlog.get_logger("quote_service.simulations")

DEFAULT_LIMIT = 10_000
MAX_LIMIT = 100_000
DEFAULT_WINDOW = timedelta(days=7)
"""Without `from`, the quotes of the last seven days before `to` (default now)."""
CHUNK = 50
"""Baskets priced (twice) between two yields to the event loop: ~10 ms of the loop at ~200 µs a basket."""
RESULT_TTL_SECONDS = 3600.0
"""How long a simulation's result is kept in memory after it is accepted."""
BUSY_RETRY_AFTER_SECONDS = 5
"""Retry-After of a simulation refused because others run: 10,000 quotes take a few seconds."""
EXAMPLES = 20
"""Changed quotes listed in `examples` (the largest moves of the total first, then of the commission)."""
_CATALOG_SQL = """SELECT id, currency, current_price, min_price, category_id, seller_id, is_active, prices_include_tax
                  FROM products WHERE id = any($1::uuid[])"""

_FIELDS = ("subtotal", "discount", "tax", "total")
_COMMISSIONS = ("category", "seller", "logistics")
_NAMES = (*_FIELDS, *(f"commission.{name}" for name in _COMMISSIONS))
"""The figures of `_figures`, as an example's `changed` names them."""


def _figures(q: Quote) -> tuple[Decimal, ...]:
    b = q.commission_breakdown
    return (
        q.subtotal,
        q.discount_amount,
        q.tax_amount,
        q.total_amount,
        b.category_commission,
        b.seller_commission,
        b.logistics_commission,
    )


def _document(sums: Iterable[Decimal]) -> dict[str, Any]:
    values = list(sums)
    return {
        **dict(zip(_FIELDS, values[:4], strict=True)),
        "commission": dict(zip(_COMMISSIONS, values[4:], strict=True)),
    }


def _commission(figures: tuple[Decimal, ...]) -> Decimal:
    """The commission of `_figures`: its three parts added up."""
    return sum(figures[4:], Decimal(0))


def _example(quote_id: str, currency: str, first: tuple[Decimal, ...], second: tuple[Decimal, ...]) -> dict[str, Any]:
    """A changed quote: its total and commission (the sum of its three parts) before and after, and
    which figures moved."""
    return {
        "quote_id": quote_id,
        "currency": currency,
        "before_total": first[3],
        "after_total": second[3],
        "before_commission": _commission(first),
        "after_commission": _commission(second),
        "changed": [name for name, a, b in zip(_NAMES, first, second, strict=True) if a != b],
    }


def _by(q: Quote, attribute: str) -> dict[str, tuple[Decimal, Decimal]]:
    """(sales net of line discounts, commission) per category or seller of the quote's lines."""
    of_product = {line.product_id: getattr(line, attribute) or "" for line in q.items}
    out: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line in q.items:
        out[getattr(line, attribute) or ""][0] += line.line_subtotal - line.discount
    for detail in q.commission_breakdown.details:
        if detail.product_id is not None:
            out[of_product.get(detail.product_id, "")][1] += detail.amount
    return {key: (sales, commission) for key, (sales, commission) in out.items()}


class Simulation:
    """One simulation's progress and, once done, its result."""

    def __init__(self, simulation_id: uuid.UUID, expires: float) -> None:
        self.id = simulation_id
        self.expires = expires
        self.status = "running"
        self.progress = 0.0
        self.error: str | None = None
        self.quotes = self.changed = self.skipped = self.unpriced = 0
        self.before: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 7)
        self.after: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 7)
        self.groups: dict[str, dict[tuple[str, str], list[Decimal]]] = {
            "category_id": defaultdict(lambda: [Decimal(0)] * 4),
            "seller_id": defaultdict(lambda: [Decimal(0)] * 4),
        }
        self.examples: list[tuple[tuple[Decimal, Decimal], str, str, tuple[Decimal, ...], tuple[Decimal, ...]]] = []
        """(how far the total and the commission moved, quote id, currency, figures before, after)."""

    def add(self, quote_id: str, before: Quote, after: Quote) -> None:
        self.quotes += 1
        first, second = _figures(before), _figures(after)
        sums, others = self.before[before.currency], self.after[after.currency]
        for i in range(7):
            sums[i] += first[i]
            others[i] += second[i]
        if first != second:
            self.changed += 1
            moved = (abs(second[3] - first[3]), abs(_commission(second) - _commission(first)))
            self.examples.append((moved, quote_id, before.currency, first, second))
            if len(self.examples) > 4 * EXAMPLES:
                self.examples = sorted(self.examples, key=lambda e: e[0], reverse=True)[:EXAMPLES]
        for attribute, groups in self.groups.items():
            for key, (sales, commission) in _by(before, attribute).items():
                row = groups[(key, before.currency)]
                row[0] += sales
                row[1] += commission
            for key, (sales, commission) in _by(after, attribute).items():
                row = groups[(key, after.currency)]
                row[2] += sales
                row[3] += commission

    def document(self) -> dict[str, Any]:
        currencies = sorted(set(self.before) | set(self.after))
        zero = [Decimal(0)] * 7

        def delta(currency: str) -> list[Decimal]:
            return [a - b for a, b in zip(self.after.get(currency, zero), self.before.get(currency, zero), strict=True)]

        def grouped(attribute: str, name: str) -> list[dict[str, Any]]:
            rows = self.groups[attribute]
            return [
                {
                    name: key or None,
                    "currency": currency,
                    "sales_before": v[0],
                    "sales_after": v[2],
                    "commission_before": v[1],
                    "commission_after": v[3],
                    "commission_delta": v[3] - v[1],
                }
                for (key, currency), v in sorted(rows.items())
            ]

        examples = sorted(self.examples, key=lambda e: e[0], reverse=True)[:EXAMPLES]
        return {
            "id": self.id,
            "status": self.status,
            "progress": round(self.progress, 4),
            "error": self.error,
            "quotes": self.quotes,
            "changed_quotes": self.changed,
            "skipped": self.skipped,
            "unpriced": self.unpriced,
            "before": {c: _document(self.before.get(c, zero)) for c in currencies},
            "after": {c: _document(self.after.get(c, zero)) for c in currencies},
            "delta": {c: _document(delta(c)) for c in currencies},
            "by_category": grouped("category_id", "category_id"),
            "by_seller": grouped("seller_id", "seller_id"),
            "examples": [_example(q, currency, first, second) for _, q, currency, first, second in examples],
        }


class Simulations:
    """The process's simulations (in memory, each for RESULT_TTL_SECONDS), at most `max_running` at once:
    each prices on the event loop that serves quotes (six at once took a quote's p50 from ~10 to 306 ms)."""

    def __init__(
        self,
        reads: ReadPools,
        defaults: EngineDefaults,
        *,
        max_running: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reads = reads
        self._defaults = defaults
        self._max_running = max_running
        self._monotonic = monotonic
        self._found: dict[uuid.UUID, Simulation] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(
        self,
        before: ConfigSnapshot,
        after: ConfigSnapshot,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> Simulation:
        self.admit()
        self._expire()
        end = end or utcnow()
        start = start or end - DEFAULT_WINDOW
        if start >= end:
            raise ValidationFailed("empty window", details=[FieldError("from", "must be before `to`")])
        simulation = Simulation(uuid.uuid4(), self._monotonic() + RESULT_TTL_SECONDS)
        self._found[simulation.id] = simulation
        task = asyncio.create_task(self._run(simulation, before, after, start, end, limit), name="simulation")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return simulation

    def admit(self) -> None:
        """Raise 429 SIMULATIONS_BUSY while `max_running` simulations run in this process."""
        if len(self._tasks) >= self._max_running:
            raise RateLimited(
                f"{len(self._tasks)} simulation(s) already running in this process, the most at once "
                f"(MAX_CONCURRENT_SIMULATIONS={self._max_running}); retry when one has finished",
                code="SIMULATIONS_BUSY",
                retry_after=BUSY_RETRY_AFTER_SECONDS,
            )

    def get(self, simulation_id: uuid.UUID) -> Simulation | None:
        self._expire()
        return self._found.get(simulation_id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def reset(self) -> None:
        """Stop the running simulations and forget every one (a started app the tests reuse)."""
        await self.stop()
        self._found.clear()

    def _expire(self) -> None:
        now = self._monotonic()
        for key in [k for k, s in self._found.items() if s.expires <= now]:
            del self._found[key]

    async def _run(
        self,
        simulation: Simulation,
        before: ConfigSnapshot,
        after: ConfigSnapshot,
        start: datetime,
        end: datetime,
        limit: int,
    ) -> None:
        SIMULATIONS_RUNNING.inc()
        try:
            pool = self._reads.for_read()
            async with pool.acquire() as conn:
                rows = await conn.fetch(
                    # customer_id, the delivery place and lines: what a compact logged request leaves to its row
                    """SELECT quote_id, request::text AS request, customer_id, delivery_city, delivery_country, lines
                       FROM quote_log
                       WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at DESC LIMIT $3""",
                    start,
                    end,
                    limit,
                )
            now = utcnow()
            for offset in range(0, len(rows), CHUNK):
                chunk = rows[offset : offset + CHUNK]
                await self._price_chunk(simulation, pool, chunk, before, after, now)
                SIMULATED_QUOTES.inc(len(chunk))
                simulation.progress = (offset + len(chunk)) / len(rows)
                await asyncio.sleep(0)
            simulation.progress = 1.0
            simulation.status = "done"
        except asyncio.CancelledError:
            simulation.status, simulation.error = "failed", "stopped with the process"
            raise
        except Exception as exc:
            log.exception("simulation_failed", simulation_id=str(simulation.id))
            simulation.status, simulation.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            SIMULATIONS_RUNNING.dec()
            SIMULATIONS.labels(simulation.status).inc()

    async def _price_chunk(
        self,
        simulation: Simulation,
        pool: Pool,
        rows: list[Any],
        before: ConfigSnapshot,
        after: ConfigSnapshot,
        now: datetime,
    ) -> None:
        logged: list[tuple[uuid.UUID, tuple[QuoteRequest, CustomerContext]]] = []
        for row in rows:
            if row["request"] is None:  # logged before migration 0520
                simulation.skipped += 1
            else:
                logged.append((row["quote_id"], request_of_log(row["request"], row)))
        ids = {item.product_id for _, (request, _) in logged for item in request.items if _is_uuid(item.product_id)}
        products: dict[str, CatalogProduct] = {}
        if ids:
            async with pool.acquire() as conn:
                for r in await conn.fetch(_CATALOG_SQL, list(ids)):
                    products[str(r["id"])] = CatalogProduct(
                        id=r["id"], currency=r["currency"], current_price=r["current_price"], min_price=r["min_price"],
                        category_id=r["category_id"], seller_id=r["seller_id"], is_active=r["is_active"],
                        prices_include_tax=r["prices_include_tax"],
                    )  # fmt: skip
        for quote_id, (request, customer) in logged:
            basket = {i.product_id: products[i.product_id] for i in request.items if i.product_id in products}
            try:
                first = self._price(request, before, basket, customer, now, quote_id)
                second = self._price(request, after, basket, customer, now, quote_id)
            except ServiceError:  # the basket cannot be priced today (a product gone, a currency not priced)
                simulation.unpriced += 1
                continue
            simulation.add(str(quote_id), first, second)

    def _price(
        self,
        request: QuoteRequest,
        snapshot: ConfigSnapshot,
        products: dict[str, CatalogProduct],
        customer: CustomerContext,
        now: datetime,
        quote_id: uuid.UUID,
    ) -> Quote:
        return price_quote(
            request, snapshot=snapshot, products=products, flash={}, customer=customer,
            defaults=self._defaults, now=now, quote_id=quote_id,
        )  # fmt: skip


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True

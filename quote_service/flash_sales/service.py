"""Flash sales: admin writes, lifecycle transitions, reads, and the counters' upkeep.

Allocation and return of stock happen in the same transaction as the sale change they belong
to (products locked in id order, every movement logged), so stock is taken once at creation
and the unsold units come back exactly once at the end: `end` is guarded by the stored status
and by each item's `returned_stock`, whoever calls it (admin, the scheduler of any process).

Redis counters are derived state. After every committed change they are rewritten; when they
are missing (restart, flush, failover) `ensure_counters` rebuilds them from the ledger, one
rebuild at a time (the callers of one process share one rebuild task, dropped once it ends; a
Redis lock across processes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog
from msgspec import UNSET
from redis.exceptions import RedisError

from quote_service.cache.config_store import ConfigStore
from quote_service.catalog import repository as catalog
from quote_service.clock import utcnow
from quote_service.db.pool import Connection, Pool
from quote_service.db.replica import ReadPools
from quote_service.db.rows import found, row_as
from quote_service.errors import (
    Conflict,
    DependencyUnavailable,
    FieldError,
    InsufficientStock,
    NotFound,
    ValidationFailed,
)
from quote_service.flash_sales import repository
from quote_service.flash_sales.books import Charged, charged
from quote_service.flash_sales.counters import (
    Counters,
    SaleCounters,
    attempts_key,
    holds_key,
    marker_key,
    sale_key,
    viewers_key,
)
from quote_service.flash_sales.schemas import (
    Correction,
    FlashSale,
    FlashSaleCreate,
    FlashSaleItem,
    FlashSaleItemIn,
    FlashSaleUpdate,
    OwnPurchase,
    Purchase,
    ReconcileReport,
    SaleItem,
    SaleStats,
)
from quote_service.observability.metrics import FLASH_COUNTER_REBUILDS
from quote_service.offers import repository as offers
from quote_service.pagination import Page, page_of
from quote_service.pricing import flash, money
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.reservations import repository as reservations

log = structlog.get_logger("quote_service.flash_sales")

DOMAIN = "flash_sales"
REBUILD_WAIT_SECONDS = 10.0
ENDED_COUNTERS_TTL = timedelta(days=7)
_PURCHASE_JSON = msgspec.json.Encoder()


def state_conflict(message: str) -> Conflict:
    return Conflict(message, code="INVALID_SALE_STATE")


def marker_ttl(ends_at: datetime, now: datetime) -> int:
    """Idempotency markers outlive the sale by a day (a retry after the end still replays)."""
    seconds = int((ends_at - now).total_seconds()) + 86_400
    return max(86_400, min(seconds, 30 * 86_400))


def done_marker(fingerprint: str, purchase: Purchase) -> str:
    return f"D|{fingerprint}|{_PURCHASE_JSON.encode(purchase).decode()}"


def own_purchase_from_row(row: asyncpg.Record) -> OwnPurchase:
    """A row of `repository.list_own_purchases`."""
    return OwnPurchase(
        **msgspec.structs.asdict(purchase_from_row(row)), sale_name=row["sale_name"], product_name=row["product_name"]
    )


def purchase_from_row(row: asyncpg.Record) -> Purchase:
    """A ledger row as its purchase; with what the purchase's order charged when the row carries it
    (`repository.BOOKED_COLUMNS`: a "Buy now" purchase, docs/flash-sales.md#a-purchase-is-an-order)."""
    currency = row["currency"].strip()
    purchase = Purchase(
        purchase_id=row["id"],
        flash_sale_id=row["flash_sale_id"],
        product_id=row["product_id"],
        customer_id=row["customer_id"],
        quantity=row["quantity"],
        unit_price=money.round_money(row["unit_price"], currency),
        total=money.round_money(row["total"], currency),
        currency=currency,
        status=row["status"],
        created_at=row["created_at"],
        order_id=row["order_id"],
    )
    if row["offer_id"] is not None:
        purchase = msgspec.structs.replace(purchase, offer_id=row["offer_id"])
    if row.get("booked_total") is None:
        return purchase
    return charged(
        purchase,
        Charged(
            subtotal=row["booked_subtotal"],
            discount_amount=row["booked_discount_amount"],
            tax_amount=row["booked_tax_amount"],
            tax_included=row["booked_tax_included"],
            delivery_fee=row["booked_delivery_fee"],
            small_basket_fee=row["booked_small_basket_fee"],
            total=row["booked_total"],
        ),
    )


def bought_by_a_quote_order(row: asyncpg.Record) -> bool:
    """Whether the ledger row holds units an order of a quote bought (its `order_id` is that order's, and
    its key no client's), not a purchase (a "Buy now" one names its own order: `repository.BOOKED_COLUMNS`)."""
    return row["order_id"] is not None and row["booked_total"] is None


def stats_from_row(row: asyncpg.Record) -> SaleStats:
    viewers = row["unique_viewers"]
    rate = None
    if viewers:
        rate = (Decimal(100) * row["buyers"] / viewers).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return row_as(
        SaleStats,
        row,
        revenue={currency: money.round_money(Decimal(amount), currency) for currency, amount in row["revenue"].items()},
        unique_viewers=viewers,
        conversion_rate=rate,
        attempts=dict(row["attempts"]),
    )


class FlashSales:
    """One per process: admin writes, transitions, reads, counters."""

    def __init__(
        self,
        pool: Pool,
        counters: Counters,
        config_store: ConfigStore[ConfigSnapshot],
        *,
        clock: Callable[[], datetime] = utcnow,
        reads: ReadPools | None = None,
    ) -> None:
        self.pool = pool
        self.reads = reads or ReadPools(pool)
        """For the admin lists (stale-tolerant reads, docs/deployment.md)."""
        self.counters = counters
        self.config = config_store
        self.clock = clock
        self.dirty: set[UUID] = set()
        """Sales whose background summaries are out of date."""
        self._rebuilds: dict[UUID, asyncio.Task[None]] = {}

    # -- admin writes -------------------------------------------------------------------------
    # `pool`: the audited pool of an admin's write (audit/admin.py); the scheduler's moves, unaudited,
    # take the process's.

    async def create(self, data: FlashSaleCreate, *, actor: str, pool: Pool | None = None) -> FlashSale:
        now = self.clock()
        errors = _window_errors(data.starts_at, data.ends_at, now)
        sale_id = uuid.uuid4()
        async with (pool or self.pool).acquire() as conn, conn.transaction():
            named = await _named_items(conn, data.items, errors)
            products = await _locked_products(conn, named)
            offered = await _locked_offers(conn, named)
            errors += _item_errors(named, products, offered)
            if errors:
                raise ValidationFailed("The flash sale has invalid fields", details=errors)
            await _refuse_overlap(conn, named, data.starts_at, data.ends_at, now=now, excluding=None)
            await _refuse_short_stock(conn, named, products, offered, returning=Allocation(), now=now)
            sale = await repository.insert_sale(
                conn, sale_id=sale_id, name=data.name, starts_at=data.starts_at, ends_at=data.ends_at, actor=actor
            )
            await repository.insert_items(conn, sale_id=sale_id, items=named)
            taken = Allocation.of((i.product_id, i.offer_id, i.allocated_stock) for i in named)
            await _move_stock(conn, taken.negated(), f"flash sale {sale_id}: allocated", actor)
            items = await repository.items_of(conn, sale_ids=[sale_id])
        await self._after_write(sale_id, rebuild=True)
        return await self._view(sale, items, committed=True)

    async def update(self, sale_id: UUID, data: FlashSaleUpdate, *, actor: str, pool: Pool | None = None) -> FlashSale:
        now = self.clock()
        async with (pool or self.pool).acquire() as conn, conn.transaction():
            sale = await self._locked(conn, sale_id)
            status = flash.effective_status(sale["status"], sale["starts_at"], sale["ends_at"], now)
            if status == "ended":
                raise state_conflict("The flash sale has ended: it can no longer change")
            changing = {name for name in ("name", "starts_at", "items") if getattr(data, name) is not None}
            if status == "active" and changing:
                raise state_conflict(
                    "The flash sale is active: only ends_at can change (not " + ", ".join(sorted(changing)) + ")"
                )
            starts_at = data.starts_at or sale["starts_at"]
            ends_at = data.ends_at or sale["ends_at"]
            errors = _window_errors(starts_at, ends_at, now)
            old_items = await repository.items_of(conn, sale_ids=[sale_id])
            new_items = None if data.items is None else await _named_items(conn, data.items, errors)
            if new_items is not None:
                old = Allocation.of((i["product_id"], i["offer_id"], i["allocated_stock"]) for i in old_items)
                products = await _locked_products(conn, [*new_items], also=old.products)
                offered = await _locked_offers(conn, new_items, also=old.offers)
                errors += _item_errors(new_items, products, offered)
            if errors:
                raise ValidationFailed("The flash sale has invalid fields", details=errors)
            if new_items is not None:
                await _refuse_overlap(conn, new_items, starts_at, ends_at, now=now, excluding=sale_id)
                await _refuse_short_stock(conn, new_items, products, offered, returning=old, now=now)
                new = Allocation.of((i.product_id, i.offer_id, i.allocated_stock) for i in new_items)
                await repository.delete_items(conn, sale_id=sale_id)
                await repository.insert_items(conn, sale_id=sale_id, items=new_items)
                await _move_stock(conn, old.minus(new), f"flash sale {sale_id}: allocation changed", actor)
            elif "starts_at" in changing or data.ends_at is not None:
                current = [
                    SaleItem(
                        product_id=i["product_id"],
                        flash_price=i["flash_price"],
                        allocated_stock=i["allocated_stock"],
                        per_user_limit=i["per_user_limit"],
                        offer_id=i["offer_id"],
                    )
                    for i in old_items
                ]
                await _refuse_overlap(conn, current, starts_at, ends_at, now=now, excluding=sale_id)
            fields: dict[str, Any] = {"starts_at": starts_at, "ends_at": ends_at}
            if data.name is not None:
                fields["name"] = data.name
            sale = await repository.update_sale(conn, sale_id=sale_id, fields=fields, actor=actor)
            items = await repository.items_of(conn, sale_ids=[sale_id])
        if status == "scheduled":
            # Nothing can have been sold yet: rewrite the counters from the new definition.
            await self._after_write(sale_id, rebuild=True)
        else:
            await self._after_write(sale_id, fields={"ends": str(int(ends_at.timestamp() * 1000))})
        return await self._view(sale, items, committed=True)

    async def delete(self, sale_id: UUID, *, actor: str, pool: Pool | None = None) -> None:
        """Withdraw a scheduled sale: its allocation goes back to the products."""
        now = self.clock()
        async with (pool or self.pool).acquire() as conn, conn.transaction():
            sale = await self._locked(conn, sale_id)
            if flash.effective_status(sale["status"], sale["starts_at"], sale["ends_at"], now) != "scheduled":
                raise state_conflict("Only a scheduled flash sale can be deleted (end it instead)")
            items = await repository.items_of(conn, sale_ids=[sale_id])
            allocated = Allocation.of((i["product_id"], i["offer_id"], i["allocated_stock"]) for i in items)
            await _lock(conn, allocated)
            await _move_stock(conn, allocated, f"flash sale {sale_id}: deleted, allocation returned", actor)
            await repository.delete_sale(conn, sale_id=sale_id)
        try:
            await self.counters.delete(sale_id)
        except RedisError:
            log.warning("flash_counters_delete_failed", flash_sale_id=str(sale_id))
        await self.config.changed(DOMAIN)

    # -- lifecycle ----------------------------------------------------------------------------

    async def activate(
        self, sale_id: UUID, *, actor: str, now: datetime | None = None, pool: Pool | None = None
    ) -> bool:
        """scheduled → active; False when it was not scheduled (already moved on)."""
        now = now or self.clock()
        async with (pool or self.pool).acquire() as conn, conn.transaction():
            sale = await repository.get_sale(conn, sale_id=sale_id, for_update=True)
            sale = found(sale, f"flash sale {sale_id}")
            if sale["ends_at"] <= now or await repository.activate(conn, sale_id=sale_id, now=now, actor=actor) is None:
                return False
        log.info("flash_sale_activated", flash_sale_id=str(sale_id), actor=actor)
        await self._after_write(sale_id, fields={"status": "active"})
        return True

    async def end(self, sale_id: UUID, *, actor: str, now: datetime | None = None, pool: Pool | None = None) -> bool:
        """→ ended, returning the unsold units to stock; False when it had already ended."""
        now = now or self.clock()
        async with (pool or self.pool).acquire() as conn, conn.transaction():
            if await repository.end(conn, sale_id=sale_id, now=now, actor=actor) is None:
                if await repository.get_sale(conn, sale_id=sale_id) is None:
                    raise NotFound(f"flash sale {sale_id} not found")
                return False
            closed = await repository.close_items(conn, sale_id=sale_id)
            returned = Allocation.of(
                (row["product_id"], row["offer_id"], row["returned_stock"])
                for row in closed
                if row["returned_stock"] > 0
            )
            if returned:
                await _lock(conn, returned)
                await _move_stock(conn, returned, f"flash sale {sale_id}: ended, unsold units returned", actor)
        log.info("flash_sale_ended", flash_sale_id=str(sale_id), actor=actor, returned=returned.units)
        self.dirty.add(sale_id)
        await self._after_write(sale_id, fields={"status": "ended"}, expire=ENDED_COUNTERS_TTL)
        return True

    async def due(self, now: datetime, *, limit: int = 100) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return await repository.due_transitions(conn, now=now, limit=limit)

    # -- reads --------------------------------------------------------------------------------

    async def get(self, sale_id: UUID, *, committed: bool = False) -> FlashSale:
        """One sale; `committed`: the answer to a write that committed (see `_view`)."""
        async with self.pool.acquire() as conn:
            sale = await repository.get_sale(conn, sale_id=sale_id)
            sale = found(sale, f"flash sale {sale_id}")
            items = await repository.items_of(conn, sale_ids=[sale_id])
        return await self._view(sale, items, committed=committed)

    async def list_sales(
        self, *, status: flash.SaleStatus | None, before: tuple[datetime, UUID] | None, limit: int
    ) -> Page[FlashSale]:
        now = self.clock()
        async with self.reads.for_read().acquire() as conn:
            rows = await repository.list_sales(conn, now=now, status=status, before=before, limit=limit)
            items = await repository.items_of(conn, sale_ids=[r["id"] for r in rows[:limit]])
        by_sale: dict[UUID, list[asyncpg.Record]] = {}
        for item in items:
            by_sale.setdefault(item["flash_sale_id"], []).append(item)
        views = {row["id"]: await self._view(row, by_sale.get(row["id"], [])) for row in rows[:limit]}
        return page_of(
            rows, "flash-sales", limit=limit, key=lambda r: (r["starts_at"], r["id"]), item=lambda r: views[r["id"]]
        )

    async def definition(self, sale_id: UUID) -> flash.FlashSale:
        """The sale as configured: from the snapshot, else (just created elsewhere, long ended) the database."""
        known = self.config.snapshot.flash_sales.by_id.get(sale_id)
        if known is not None:
            return known
        async with self.pool.acquire() as conn:
            sale = await repository.get_sale(conn, sale_id=sale_id)
            return repository.definition_of(
                found(sale, f"flash sale {sale_id}"), await repository.items_of(conn, sale_ids=[sale_id])
            )

    async def _view(
        self, sale: asyncpg.Record, items: Sequence[asyncpg.Record], *, committed: bool = False
    ) -> FlashSale:
        """The sale as the API shows it; `committed`: the answer to a write that committed, which
        a Redis failure must not turn into a 503 (units left then come from the ledger)."""
        now = self.clock()
        status = flash.effective_status(sale["status"], sale["starts_at"], sale["ends_at"], now)
        left: Sequence[int | None] = [0] * len(items)
        if status != "ended" and items:
            try:
                left = await self._live_remaining(sale["id"], items)
            except RedisError:
                if not committed:
                    raise
                left = [i["allocated_stock"] - i["sold"] for i in items]
        return FlashSale(
            id=sale["id"],
            name=sale["name"],
            status=status,
            starts_at=sale["starts_at"],
            ends_at=sale["ends_at"],
            items=[
                FlashSaleItem(
                    product_id=i["product_id"],
                    flash_price=money.round_money(i["flash_price"], i["currency"].strip()),
                    currency=i["currency"].strip(),
                    allocated_stock=i["allocated_stock"],
                    remaining_stock=max(0, n if n is not None else i["allocated_stock"] - i["sold"]),
                    per_user_limit=i["per_user_limit"],
                    offer_id=UNSET if i["offer_id"] is None else i["offer_id"],
                )
                for i, n in zip(items, left, strict=True)
            ],
            created_by=sale["created_by"],
            created_at=sale["created_at"],
            updated_at=sale["updated_at"],
        )

    async def _live_remaining(self, sale_id: UUID, items: Sequence[asyncpg.Record]) -> Sequence[int | None]:
        """Units left per item from the counters, rebuilt from the ledger when missing."""
        slots = [flash.slot(i["product_id"], i["offer_id"]) for i in items]
        counted = await self.counters.remaining(sale_id, slots)
        if counted is None:
            await self.ensure_counters(sale_id)
            counted = await self.counters.remaining(sale_id, slots)
        return counted or [i["allocated_stock"] - i["sold"] for i in items]

    # -- counters -----------------------------------------------------------------------------

    @property
    def rebuilds(self) -> int:
        """Counter rebuilds running in this process (one per sale at most)."""
        return len(self._rebuilds)

    async def reset(self) -> None:
        """Let running counter rebuilds end and forget the sales marked dirty, as at start (a
        started app the tests reuse)."""
        await asyncio.gather(*self._rebuilds.values(), return_exceptions=True)
        self.dirty.clear()

    async def ensure_counters(self, sale_id: UUID) -> None:
        """Rebuild the sale's counters from the ledger if they are missing. The callers of this
        process share one rebuild per sale (a task, forgotten once it ends: no per-sale state
        outlives it); a caller that gives up does not cancel it for the others."""
        running = self._rebuilds.get(sale_id)
        if running is None:
            running = asyncio.create_task(self._rebuild_if_missing(sale_id), name=f"flash-rebuild-{sale_id}")
            self._rebuilds[sale_id] = running
            running.add_done_callback(lambda done: self._forget_rebuild(sale_id, done))
        await asyncio.shield(running)

    def _forget_rebuild(self, sale_id: UUID, done: asyncio.Task[None]) -> None:
        if self._rebuilds.get(sale_id) is done:
            del self._rebuilds[sale_id]
        if not done.cancelled():
            done.exception()  # retrieved: every caller that still waits got it from the shield

    async def _rebuild_if_missing(self, sale_id: UUID) -> None:
        if await self.counters.exists(sale_id):
            return
        token = uuid.uuid4().hex
        deadline = time.monotonic() + REBUILD_WAIT_SECONDS
        while not await self.counters.acquire_rebuild(sale_id, token, seconds=REBUILD_WAIT_SECONDS):
            # Another process is rebuilding: wait for its result rather than repeat the work.
            await asyncio.sleep(0.02)
            if await self.counters.exists(sale_id):
                return
            if time.monotonic() > deadline:
                raise DependencyUnavailable("The flash sale's counters are being rebuilt; retry shortly")
        try:
            written, _ = await self._write_counters(sale_id, replace=False)
        finally:
            await self.counters.release_rebuild(sale_id, token)
        if written:
            FLASH_COUNTER_REBUILDS.inc()
            log.warning("flash_counters_rebuilt", flash_sale_id=str(sale_id))

    async def reconcile(self, sale_id: UUID) -> ReconcileReport:
        """Recompute the counters from the ledger, report what differed, rewrite them; refresh summaries."""
        before = await self.counters.read(sale_id)
        _, ledger = await self._write_counters(sale_id, replace=True)
        corrections: list[Correction] = []
        held = before or {}
        for slot, left in ledger.remaining.items():
            redis_left = held.get(f"s:{slot}")
            if redis_left != left:
                corrections.append(_correction(slot, None, "remaining_stock", redis_left, left))
        bought = {f"b:{p}:{c}": (p, c, n) for (p, c), n in ledger.bought.items()}
        for field in sorted(set(bought) | {f for f in held if f.startswith("b:")}):
            redis_count = held.get(field)
            slot_text, _, customer = field[2:].partition(":")
            slot, customer_id, count = bought.get(field, (slot_text, customer, 0))
            if (redis_count or 0) != count:
                corrections.append(_correction(slot, customer_id, "purchased", redis_count, count))
        if corrections:
            log.warning("flash_counters_drift_corrected", flash_sale_id=str(sale_id), corrections=len(corrections))
        await self.refresh_summaries(sale_id)
        return ReconcileReport(
            flash_sale_id=sale_id,
            counters_were_missing=before is None,
            corrections=corrections,
            summaries_refreshed=True,
        )

    async def refresh_summaries(self, sale_id: UUID) -> None:
        """Background work, also re-runnable: customer summaries and sale stats from the ledger."""
        self.dirty.discard(sale_id)
        viewers = await self.counters.viewers(sale_id)
        attempts = await self.counters.attempts(sale_id)
        async with self.pool.acquire() as conn:
            await repository.refresh_summaries(
                conn, sale_id=sale_id, viewers=viewers, attempts=attempts, now=self.clock()
            )

    async def _ledger_counters(self, sale_id: UUID, *, markers: list[tuple[str, str]] | None = None) -> SaleCounters:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            sale = await repository.get_sale(conn, sale_id=sale_id)
            sale = found(sale, f"flash sale {sale_id}")
            items = await repository.items_of(conn, sale_ids=[sale_id])
            bought = await repository.bought_by_customer(conn, sale_id=sale_id)
            if markers is not None:
                for row in await repository.purchases_of(conn, sale_id=sale_id):
                    key = marker_key(sale_id, row["principal_id"], row["idempotency_key"])
                    markers.append((key, done_marker(bytes(row["request_hash"]).hex(), purchase_from_row(row))))
        return SaleCounters(
            status=sale["status"],
            starts_at=sale["starts_at"],
            ends_at=sale["ends_at"],
            remaining={flash.slot(i["product_id"], i["offer_id"]): i["allocated_stock"] - i["sold"] for i in items},
            limits={flash.slot(i["product_id"], i["offer_id"]): i["per_user_limit"] for i in items},
            bought={(flash.slot(r["product_id"], r["offer_id"]), r["customer_id"]): r["units"] for r in bought},
        )

    async def _write_counters(self, sale_id: UUID, *, replace: bool) -> tuple[bool, SaleCounters]:
        """Write the counters (and every durable purchase's idempotency marker) from the ledger."""
        markers: list[tuple[str, str]] = []
        ledger = await self._ledger_counters(sale_id, markers=markers)
        ttl = marker_ttl(ledger.ends_at, self.clock())
        written = await self.counters.build(sale_id, ledger, replace=replace, markers=markers, marker_ttl=ttl)
        return written, ledger

    async def _after_write(
        self,
        sale_id: UUID,
        *,
        rebuild: bool = False,
        fields: dict[str, str] | None = None,
        expire: timedelta | None = None,
    ) -> None:
        """After a commit: bring the counters along (best effort: missing ones are rebuilt on
        demand, and the database refuses what they would wrongly allow; ones Redis would not
        update are dropped), then tell every process."""
        try:
            if rebuild:
                await self._write_counters(sale_id, replace=True)
            if fields:
                await self.counters.set_fields(sale_id, fields)
            if expire is not None:
                for key in (sale_key(sale_id), attempts_key(sale_id), viewers_key(sale_id), holds_key(sale_id)):
                    await self.counters.redis.expire(key, expire)
        except RedisError:
            log.warning("flash_counters_update_failed", flash_sale_id=str(sale_id), exc_info=True)
            await self._drop_counters(sale_id)
        await self.config.changed(DOMAIN)

    async def _drop_counters(self, sale_id: UUID) -> None:
        """Counters that could not follow a committed change would go on deciding by the old
        sale (its old end, say) with nothing to correct them: delete them instead — a full Redis
        still deletes — and the next purchase or quote rebuilds them from the ledger."""
        try:
            await self.counters.forget(sale_id)
        except RedisError:  # read-only or down: POST /{id}/reconcile once it takes writes again
            log.warning("flash_counters_drop_failed", flash_sale_id=str(sale_id), exc_info=True)

    async def _locked(self, conn: Connection, sale_id: UUID) -> asyncpg.Record:
        sale = await repository.get_sale(conn, sale_id=sale_id, for_update=True)
        return found(sale, f"flash sale {sale_id}")


def _window_errors(starts_at: datetime, ends_at: datetime, now: datetime) -> list[FieldError]:
    if ends_at <= starts_at:
        return [FieldError("ends_at", "must be after starts_at")]
    if ends_at <= now:
        return [FieldError("ends_at", "must be in the future")]
    return []


@dataclass(frozen=True, slots=True)
class Allocation:
    """Units of a sale's items by where they come from: a product's stock (items without `offer_id`, the
    default offer) or an offer's (docs/offers.md#price-lists-and-flash-sales)."""

    products: dict[UUID, int] = dataclasses.field(default_factory=dict)
    offers: dict[UUID, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, items: Iterable[tuple[UUID, UUID | None, int]]) -> Allocation:
        """From (product, offer or None, units) triples."""
        products: dict[UUID, int] = {}
        offered: dict[UUID, int] = {}
        for product_id, offer_id, units in items:
            if offer_id is None:
                products[product_id] = products.get(product_id, 0) + units
            else:
                offered[offer_id] = offered.get(offer_id, 0) + units
        return cls(products, offered)

    def negated(self) -> Allocation:
        return Allocation({k: -n for k, n in self.products.items()}, {k: -n for k, n in self.offers.items()})

    def minus(self, other: Allocation) -> Allocation:
        def diff(mine: dict[UUID, int], theirs: dict[UUID, int]) -> dict[UUID, int]:
            return {k: mine.get(k, 0) - theirs.get(k, 0) for k in mine.keys() | theirs.keys()}

        return Allocation(diff(self.products, other.products), diff(self.offers, other.offers))

    @property
    def units(self) -> int:
        return sum(self.products.values()) + sum(self.offers.values())

    def __bool__(self) -> bool:
        return bool(self.products or self.offers)


def _correction(slot: str, customer_id: str | None, counter: Any, redis: int | None, ledger: int) -> Correction:
    product_id, offer_id = flash.parse_slot(slot)
    return Correction(
        product_id=product_id,
        customer_id=customer_id,
        counter=counter,
        redis=redis,
        ledger=ledger,
        offer_id=UNSET if offer_id is None else offer_id,
    )


async def _lock(conn: Connection, allocation: Allocation) -> None:
    """Lock the rows `allocation` moves stock of: the products in id order, then the offers (every stock
    writer's order)."""
    if allocation.products:
        await catalog.lock_products(conn, product_ids=sorted(allocation.products))
    if allocation.offers:
        await offers.lock_offers(conn, offer_ids=sorted(allocation.offers))


async def _named_items(conn: Connection, items: Sequence[FlashSaleItemIn], errors: list[FieldError]) -> list[SaleItem]:
    """The items as the sale keeps them, each naming its product: an item naming only its offer sells the
    offer's (docs/offers.md#price-lists-and-flash-sales). One whose offer is not active, or naming neither,
    is refused at once (422), with the `errors` found so far: the other items' checks name them by position."""
    wanted = [i.offer_id for i in items if i.product_id is None and i.offer_id is not None]
    of_offer = await offers.active_products(conn, offer_ids=wanted) if wanted else {}
    named: list[SaleItem] = []
    unnamed: list[FieldError] = []
    for index, item in enumerate(items):
        product_id = item.product_id
        if product_id is None and item.offer_id is not None:
            product_id = of_offer.get(item.offer_id)
            if product_id is None:
                unnamed.append(FieldError(f"items[{index}].offer_id", "is not an active offer"))
                continue
        if product_id is None:
            message = "required field missing: name a product_id or an offer_id"
            unnamed.append(FieldError(f"items[{index}].product_id", message))
            continue
        named.append(SaleItem(**{**msgspec.structs.asdict(item), "product_id": product_id}))
    if unnamed:
        raise ValidationFailed("The flash sale has invalid fields", details=[*errors, *unnamed])
    return named


async def _locked_products(
    conn: Connection, items: Sequence[SaleItem], *, also: dict[UUID, int] | None = None
) -> dict[UUID, asyncpg.Record]:
    ids = {i.product_id for i in items} | set(also or {})
    return {row["id"]: row for row in await catalog.lock_products(conn, product_ids=sorted(ids))}


async def _locked_offers(
    conn: Connection, items: Sequence[SaleItem], *, also: dict[UUID, int] | None = None
) -> dict[UUID, asyncpg.Record]:
    """The offers the items name (and `also`), locked in id order after the products; none named: no call."""
    ids = {i.offer_id for i in items if i.offer_id is not None} | set(also or {})
    if not ids:
        return {}
    return {row["id"]: row for row in await offers.lock_offers(conn, offer_ids=sorted(ids))}


def _item_errors(
    items: Sequence[SaleItem], products: dict[UUID, asyncpg.Record], offered: dict[UUID, asyncpg.Record]
) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[UUID, UUID | None]] = set()
    for index, item in enumerate(items):
        at = f"items[{index}]"
        if (item.product_id, item.offer_id) in seen:
            if item.offer_id is None:
                errors.append(FieldError(f"{at}.product_id", "appears more than once in this sale"))
            else:
                errors.append(FieldError(f"{at}.offer_id", "appears more than once in this sale for this product"))
            continue
        seen.add((item.product_id, item.offer_id))
        product = products.get(item.product_id)
        if product is None or not product["is_active"]:
            errors.append(FieldError(f"{at}.product_id", "no active product with this id"))
            continue
        floor, whose = product["min_price"], "the product's"
        if item.offer_id is not None:
            offer = offered.get(item.offer_id)
            if offer is None or offer["product_id"] != item.product_id or not offer["is_active"]:
                errors.append(FieldError(f"{at}.offer_id", "is not an active offer of this product"))
                continue
            floor, whose = offer["min_price"], "the offer's"
        currency = product["currency"].strip()
        if not item.flash_price.is_finite() or item.flash_price <= 0 or item.flash_price >= money.MAX_AMOUNT:
            errors.append(FieldError(f"{at}.flash_price", "must be greater than 0 and below 1e12"))
        elif not money.fits_minor_units(item.flash_price, currency):
            errors.append(FieldError(f"{at}.flash_price", f"has more decimals than {currency} allows"))
        elif item.flash_price < floor:
            errors.append(
                FieldError(
                    f"{at}.flash_price", f"must be at least {whose} min_price {money.round_money(floor, currency)}"
                )
            )
    return errors


async def _refuse_overlap(
    conn: Connection,
    items: Sequence[SaleItem],
    starts_at: datetime,
    ends_at: datetime,
    *,
    now: datetime,
    excluding: UUID | None,
) -> None:
    """A product's offer (its default one, or one an item names) is in at most one sale at any moment (so a
    quote knows which price applies)."""
    clashes = await repository.overlapping(
        conn,
        product_ids=[i.product_id for i in items],
        offer_ids=[i.offer_id for i in items],
        starts_at=starts_at,
        ends_at=ends_at,
        now=now,
        excluding=excluding,
    )
    if clashes:
        position = {(item.product_id, item.offer_id): index for index, item in enumerate(items)}

        def named(clash: asyncpg.Record) -> str:
            at = f"items[{position[(clash['product_id'], clash['offer_id'])]}]"
            return f"{at}.product_id" if clash["offer_id"] is None else f"{at}.offer_id"

        raise Conflict(
            "A product is already in another flash sale during this window",
            code="FLASH_SALE_OVERLAP",
            details=[FieldError(named(c), f"in flash sale {c['flash_sale_id']}") for c in clashes],
        )


async def _refuse_short_stock(
    conn: Connection,
    items: Sequence[SaleItem],
    products: dict[UUID, asyncpg.Record],
    offered: dict[UUID, asyncpg.Record],
    *,
    returning: Allocation,
    now: datetime,
) -> None:
    """Refuse an allocation larger than the free stock it comes from (the product's, or the offer's an item
    names): stock (plus what this sale gives back) minus the units held for quotes (docs/reservations.md),
    read under the lock."""
    held = await catalog.held_units(conn, product_ids=sorted(products), now=now)
    free = {pid: row["stock"] + returning.products.get(pid, 0) - held.get(pid, 0) for pid, row in products.items()}
    on_hold: dict[UUID, int] = {}
    if offered:
        on_hold = await reservations.held_offer_units(conn, offer_ids=sorted(offered), now=now)
    short: list[FieldError] = []
    for index, item in enumerate(items):
        if item.offer_id is None:
            left, taken, where = free[item.product_id], held.get(item.product_id), "in stock"
        else:
            row = offered[item.offer_id]
            taken, where = on_hold.get(item.offer_id), "in the offer's stock"
            left = row["stock"] + returning.offers.get(item.offer_id, 0) - (taken or 0)
        if left < item.allocated_stock:
            short.append(
                FieldError(
                    f"items[{index}].allocated_stock",
                    f"{item.allocated_stock} asked, {left} {where}"
                    + (f" and not held for quotes ({taken} held)" if taken else ""),
                )
            )
    if short:
        raise InsufficientStock("Not enough product stock for the allocation", details=short)


async def _move_stock(conn: Connection, deltas: Allocation, reason: str, actor: str) -> None:
    """Apply signed stock changes to locked products (each movement logged) and offers."""
    moving = {product_id: delta for product_id, delta in sorted(deltas.products.items()) if delta}
    if moving:
        await catalog.move_stock(conn, deltas=moving, reason=reason, actor=actor)
    to_offers = {offer_id: delta for offer_id, delta in sorted(deltas.offers.items()) if delta}
    if to_offers:
        await offers.add_stock(conn, deltas=to_offers)

"""A flash-sale purchase: Redis decides, PostgreSQL records, and only then the client hears 201.

    1. price check (the server's price; a different expected_unit_price is PRICE_CHANGED);
    2. one Lua script: sale active? enough left? under the customer's limit? → both counters
       change in one atomic step, and the Idempotency-Key is marked pending. Losers stop here,
       at Redis speed, without touching PostgreSQL;
    3. the winner's purchase priced as a one-line quote at the flash price (books.py), then its
       order and its ledger row in one transaction: the order first, the ledger row last, which
       re-checks the same limits against the ledger (`sold <= allocated_stock`, the customer's
       units, the item still open) under the item row's lock: PostgreSQL is the last word even
       when Redis was flushed or drifted;
    4. 201, and the key's marker now says the purchase is done: a retry with the key gets the first
       answer, kept in PostgreSQL in step 3's transaction (db/idempotency.py), byte for byte.

If step 3 fails (pricing refuses, the database refuses, errors, or times out) step 2 is undone and
the client gets the refusal or 503: nothing half-done, no order without its purchase. Steps 3-4 run
in a task of their own, shielded from request cancellation, so a client that hangs up cannot leave
units taken in Redis without a ledger row; `Purchases` keeps a reference to each such task until it
ends (the event loop keeps only a weak one) and `drain()` waits for them at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec
import structlog
from msgspec import UNSET
from redis.exceptions import RedisError

from quote_service import fault_points
from quote_service.auth.schemas import Principal
from quote_service.db import idempotency
from quote_service.db.pool import Connection
from quote_service.errors import Conflict, DependencyUnavailable, Forbidden, ServiceError, invalid
from quote_service.flash_sales import repository
from quote_service.flash_sales.books import Books, charged, charged_by
from quote_service.flash_sales.counters import RELEASED, Reservation, marker_key
from quote_service.flash_sales.schemas import CustomerItem, CustomerPurchases, Purchase, PurchaseCreate
from quote_service.flash_sales.service import FlashSales, done_marker, marker_ttl, purchase_from_row
from quote_service.pricing import money
from quote_service.pricing.flash import FlashItem, FlashSale
from quote_service.pricing.quote import Quote

log = structlog.get_logger("quote_service.flash_sales")

_HASHED = msgspec.msgpack.Encoder()
_PURCHASE = msgspec.json.Decoder(Purchase)
# How long a retry waits for the first request with its key to finish before answering 409
# IDEMPOTENCY_IN_PROGRESS (retryable), and how often meanwhile it asks the ledger for the result.
PENDING_WAIT_SECONDS = 2.0
LEDGER_CHECK_SECONDS = 0.25
WRITE_WAIT_SECONDS = 5.0
"""How long a purchase Redis granted waits for a database connection to write its order and ledger row
(other requests wait DB_ACQUIRE_TIMEOUT): its units are taken and its client waits for the answer anyway,
and in a storm every winner's transaction holds a connection for several round trips, so a winner queues
rather than be undone (503) for a write the database takes a moment later."""
SPARE_CONNECTIONS = 2
"""Connections of the pool a storm's writes leave to everything else: the reads a purchase needs before
its write (a counters rebuild, a product the cache lacks) and other requests get one within their own
DB_ACQUIRE_TIMEOUT, not after every queued write."""
REFUSAL_MARKER_SECONDS = 86_400
"""How long a refused purchase's key answers the same refusal, as a kept answer must be (docs/errors.md
#idempotency-keys): one answer per key, at the cost of one small Redis key (~300 bytes) per refused key for a
day — the storm's refusals never touch PostgreSQL."""
SCOPE: idempotency.Scope = "flash_purchase"
"""The scope of a purchase's kept answer (db/idempotency.py)."""
_REFUSALS = {
    "SOLD_OUT": "Not enough units left for the quantity asked: nothing was sold",
    "PURCHASE_LIMIT_EXCEEDED": "This purchase would exceed the customer's limit for this product",
    "SALE_NOT_ACTIVE": "The flash sale is not active",
}


@dataclass(frozen=True, slots=True)
class Held:
    """Units an order took in Redis, not yet in the ledger."""

    sale_id: UUID
    item: FlashItem
    quantity: int
    reservation: Reservation
    marker: str


async def ledger_row(
    conn: Connection,
    *,
    sale_id: UUID,
    item: FlashItem,
    quantity: int,
    customer: str,
    principal_id: UUID,
    idempotency_key: str,
    request_hash: bytes,
    hold: str,
    order_id: UUID | None = None,
    purchase_id: UUID | None = None,
) -> asyncpg.Record:
    """The ledger's own checks, then the row, in one round trip; raises Refused.

    The checks run under the item row's lock (every purchase of that product queues there),
    so sold never passes the allocation and the customer's sum is exact.
    """
    try:
        return await repository.record_purchase(
            conn,
            fields={
                "id": purchase_id or uuid.uuid4(),
                "flash_sale_id": sale_id,
                "product_id": item.product_id,
                "offer_id": item.offer_id,
                "customer_id": customer,
                "quantity": quantity,
                "unit_price": item.flash_price,
                "total": money.round_money(item.flash_price * quantity, item.currency),
                "currency": item.currency,
                "principal_id": principal_id,
                "idempotency_key": idempotency_key,
                "request_hash": request_hash,
                "order_id": order_id,
                "hold": hold,
            },
        )
    except asyncpg.PostgresError as exc:
        sqlstate = getattr(exc, "sqlstate", "") or ""
        if sqlstate == repository.HOLD_VOIDED:
            raise DependencyUnavailable("The purchase took too long to record; nothing was sold") from None
        code = repository.LEDGER_REFUSALS.get(sqlstate)
        if code is None:
            raise
        raise Refused(code) from None


class Refused(Exception):
    """The ledger refused what Redis allowed (Redis had drifted); carries the refusal code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def refusal(code: str, detail: str = "") -> Conflict:
    message = _REFUSALS[code]
    if code == "SOLD_OUT" and detail:
        message += f" ({detail} left)"
    elif code == "PURCHASE_LIMIT_EXCEEDED" and detail:
        message += f" ({detail} more allowed)"
    return Conflict(message, code=code)


def customer_of(principal: Principal, customer_id: str | None) -> str:
    """Who buys: a user buys for itself; an API key names the customer."""
    if principal.role == "user":
        if customer_id is not None and customer_id != str(principal.id):
            raise Forbidden("A user may buy only for itself: customer_id must be your user id")
        return str(principal.id)
    if customer_id is not None:
        return customer_id
    if principal.kind == "user":
        return str(principal.id)
    raise invalid("customer_id", "is required when buying with an API key")


def fingerprint(sale_id: UUID, data: PurchaseCreate, customer_id: str) -> str:
    """Equal for the same request however its numbers were spelled ("9.5" and 9.50)."""
    expected = None if data.expected_unit_price is None else format(data.expected_unit_price.normalize(), "f")
    canonical: tuple[object, ...] = (str(sale_id), str(data.product_id), data.quantity, expected, customer_id)
    if data.offer_id is not None:  # a default item's purchase hashes as it always did
        canonical += (str(data.offer_id),)
    return hashlib.sha256(_HASHED.encode(canonical)).hexdigest()


class Purchases:
    """One per process: the purchase path and a customer's view of a sale."""

    def __init__(self, sales: FlashSales, books: Books) -> None:
        self.sales = sales
        self.books = books
        """Prices each purchase and writes its order (books.py)."""
        self.counters = sales.counters
        self.pool = sales.pool
        self._resyncing: dict[UUID, asyncio.Task[None]] = {}
        self._recording: set[asyncio.Task[tuple[Purchase, bool]]] = set()
        self._writers = asyncio.Semaphore(max(1, self.pool.get_max_size() - SPARE_CONNECTIONS))
        """Purchases writing at once (`SPARE_CONNECTIONS`)."""

    @property
    def recording(self) -> int:
        """Ledger writes (with their undo) still running, whoever is still waiting for them."""
        return len(self._recording)

    async def drain(self) -> None:
        """Wait for every ledger write in flight (at shutdown, before the pool closes)."""
        while self._recording:
            await asyncio.wait(set(self._recording))

    async def purchase(
        self,
        sale_id: UUID,
        data: PurchaseCreate,
        *,
        principal: Principal,
        idempotency_key: str,
        now: datetime,
        reply: idempotency.Reply | None = None,
    ) -> tuple[Purchase, bool]:
        """Buy; returns (purchase, True when replayed for this Idempotency-Key). `reply` writes the answer kept
        for the key with the purchase; a retry raises `idempotency.Replayed` with it (or with the refusal the key
        got)."""
        sale = await self.sales.definition(sale_id)
        item = sale.item(data.product_id, data.offer_id)
        if item is None:
            raise _not_in_sale(data)
        if data.product_id is None:  # named by its offer alone: the purchase is of the item's product
            data = msgspec.structs.replace(data, product_id=item.product_id)
        customer = customer_of(principal, data.customer_id)
        if data.expected_unit_price is not None and data.expected_unit_price != item.flash_price:
            raise Conflict(
                f"The flash price is {money.round_money(item.flash_price, item.currency)} {item.currency}, "
                f"not {data.expected_unit_price}",
                code="PRICE_CHANGED",
            )
        print_ = fingerprint(sale_id, data, customer)
        marker = marker_key(sale_id, principal.id, idempotency_key)
        started = time.monotonic()
        ledger_check = started + LEDGER_CHECK_SECONDS
        while True:
            answer = await self.counters.reserve(
                sale_id=sale_id,
                slot=item.slot,
                customer_id=customer,
                quantity=data.quantity,
                now=now,
                marker=marker,
                marker_value=f"P|{print_}",
                marker_ttl=marker_ttl(sale.ends_at, now),
                refusal_ttl=REFUSAL_MARKER_SECONDS,
            )
            if isinstance(answer, bytes):
                replayed = _replay(answer, print_)
                if replayed is not None:
                    await self._answer_kept(principal, idempotency_key, print_)
                    return replayed, True
                # The first request with this key is still writing — or died after its ledger row
                # committed and before it marked the key done. PostgreSQL's ledger is the record:
                # ask it now and then, and answer from it (restoring the marker) once it has the row.
                if time.monotonic() >= ledger_check:
                    replayed = await self._replay_from_ledger(sale, principal, idempotency_key, print_, marker)
                    if replayed is not None:
                        return replayed, True
                    if time.monotonic() - started > PENDING_WAIT_SECONDS:
                        raise idempotency.in_progress()
                    ledger_check = time.monotonic() + LEDGER_CHECK_SECONDS
                await asyncio.sleep(0.01)
                continue
            if answer.outcome == "MISSING":
                await self.sales.ensure_counters(sale_id)
                continue
            if answer.outcome == "NOT_IN_SALE":
                raise _not_in_sale(data)
            if answer.outcome != "OK":
                if answer.bought:
                    # A customer who already bought may be retrying a purchase whose marker was
                    # lost (evicted, expired, flushed): the ledger answers before we refuse.
                    # Customers who bought nothing — a storm's losers — never get here.
                    replayed = await self._replay_from_ledger(sale, principal, idempotency_key, print_, marker)
                    if replayed is not None:
                        return replayed, True
                raise refusal(answer.outcome, answer.detail)
            # Once units are taken, record-or-undo runs to its end even if the client leaves: a task
            # of its own, referenced here until it ends, and shielded from this request's cancellation.
            recording = asyncio.create_task(
                self._record(
                    sale, item, data, answer, customer, principal, idempotency_key, print_, marker, now, reply
                ),
                name=f"flash-record-{sale_id}",
            )
            self._recording.add(recording)
            recording.add_done_callback(self._recording.discard)
            return await asyncio.shield(recording)

    async def _record(
        self,
        sale: FlashSale,
        item: FlashItem,
        data: PurchaseCreate,
        reservation: Reservation,
        customer: str,
        principal: Principal,
        idempotency_key: str,
        print_: str,
        marker: str,
        now: datetime,
        reply: idempotency.Reply | None,
    ) -> tuple[Purchase, bool]:
        try:
            quote = await self.books.price(
                sale.id, item, data.quantity, customer=customer, principal=principal, now=now
            )
            purchase = await self._write_books(
                sale, item, data, reservation, customer, principal, idempotency_key, print_, quote, now, reply
            )
        except asyncpg.UniqueViolationError as exc:
            await self._undo(sale.id, reservation, item, customer, data.quantity, marker)
            if exc.constraint_name != repository.IDEMPOTENCY_CONSTRAINT:
                raise
            # The key was used before and its marker was lost (a flush): the ledger answers.
            replayed = await self._replay_from_ledger(sale, principal, idempotency_key, print_, marker)
            if replayed is None:
                raise idempotency.conflict() from exc
            return replayed, True
        except Refused as refused:
            await self._undo(sale.id, reservation, item, customer, data.quantity, marker, outcome=refused.code)
            log.warning("flash_ledger_refused", flash_sale_id=str(sale.id), code=refused.code)
            self._resync(sale.id)
            raise refusal(refused.code) from None
        except Exception as exc:
            await self._undo(sale.id, reservation, item, customer, data.quantity, marker)
            if isinstance(exc, ServiceError):
                raise
            log.error("flash_ledger_write_failed", flash_sale_id=str(sale.id), exc_info=True)
            raise DependencyUnavailable("The purchase could not be recorded; nothing was sold") from exc
        except BaseException:
            await self._undo(sale.id, reservation, item, customer, data.quantity, marker)
            raise
        await fault_points.hit("flash.ledger_committed")
        try:
            ttl = marker_ttl(sale.ends_at, purchase.created_at)
            await self.counters.settle(sale.id, reservation.hold, marker, done_marker(print_, purchase), ttl)
        except Exception:  # durable: the hold reconciler settles the hold and restores the marker
            log.warning("flash_marker_store_failed", flash_sale_id=str(sale.id), exc_info=True)
        self.sales.dirty.add(sale.id)
        return purchase, False

    async def _replay_from_ledger(
        self, sale: FlashSale, principal: Principal, idempotency_key: str, print_: str, marker: str
    ) -> Purchase | None:
        """The purchase this key already made (restoring its marker), None if it made none; raises `Replayed`
        with its kept answer; the same key with another body raises IDEMPOTENCY_CONFLICT."""
        async with self.pool.acquire() as conn:
            existing = await repository.purchase_by_key(
                conn, principal_id=principal.id, idempotency_key=idempotency_key
            )
            if existing is None:
                return None
            idempotency.same_request(bytes(existing["request_hash"]), bytes.fromhex(print_))
            again = await idempotency.kept_answer(conn, SCOPE, principal.id, idempotency_key, bytes.fromhex(print_))
        replayed = purchase_from_row(existing)
        with contextlib.suppress(RedisError):  # so the next retry finds the purchase done in Redis again
            ttl = marker_ttl(sale.ends_at, replayed.created_at)
            await self.counters.store_marker(marker, done_marker(print_, replayed), ttl)
        if again is not None:
            raise again
        return replayed

    async def _answer_kept(self, principal: Principal, idempotency_key: str, print_: str) -> None:
        """Raise `Replayed` with the answer kept for this purchase's key (none kept: made before answers were
        kept, or by a caller without a reply; the caller answers the purchase then)."""
        async with self.pool.acquire() as conn:
            await idempotency.replay_kept(conn, SCOPE, principal.id, idempotency_key, bytes.fromhex(print_))

    async def _write_books(
        self,
        sale: FlashSale,
        item: FlashItem,
        data: PurchaseCreate,
        reservation: Reservation,
        customer: str,
        principal: Principal,
        idempotency_key: str,
        print_: str,
        quote: Quote,
        now: datetime,
        reply: idempotency.Reply | None,
    ) -> Purchase:
        """The purchase's order, then its ledger row, then its answer for the key, in one transaction: the item
        row's lock, which the ledger row takes, is held for its last statements and the commit only."""
        purchase_id = uuid.uuid4()
        request_hash = bytes.fromhex(print_)
        async with self._writer() as conn, conn.transaction():
            order_id = await self.books.write(
                conn, quote, sale_id=sale.id, purchase_id=purchase_id, principal=principal,
                request_hash=request_hash, now=now,
            )  # fmt: skip
            row = await ledger_row(
                conn,
                sale_id=sale.id,
                item=item,
                quantity=data.quantity,
                customer=customer,
                principal_id=principal.id,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                hold=reservation.hold,
                order_id=order_id,
                purchase_id=purchase_id,
            )
            purchase = charged(purchase_from_row(row), charged_by(quote))
            if reply is not None:
                answer = reply.success(purchase)
                await idempotency.keep_answer(conn, SCOPE, principal.id, idempotency_key, request_hash, answer)
            return purchase

    @contextlib.asynccontextmanager
    async def _writer(self) -> AsyncIterator[Connection]:
        """A connection for a purchase's write, within WRITE_WAIT_SECONDS, among at most the pool's size
        less SPARE_CONNECTIONS writers (TimeoutError past it)."""
        async with asyncio.timeout(WRITE_WAIT_SECONDS):
            await self._writers.acquire()
        try:
            async with self.pool.acquire(timeout=WRITE_WAIT_SECONDS) as conn:
                yield conn
        finally:
            self._writers.release()

    # -- units bought by confirming a quote as an order ----------------------------------------

    async def hold(
        self, wanted: dict[tuple[UUID, UUID, UUID | None], int], *, customer: str, now: datetime
    ) -> list[Held]:
        """Take an order's flash units in Redis (all or none) per (sale, product, offer or None: the default
        item); release them unless `record` commits."""
        held: list[Held] = []
        try:
            for (sale_id, product_id, offer_id), quantity in sorted(wanted.items(), key=_held_order):
                sale = await self.sales.definition(sale_id)
                item = sale.item(product_id, offer_id)
                if item is None:
                    raise refusal("SALE_NOT_ACTIVE")
                # A marker of its own: the order's idempotency lives in PostgreSQL (orders' unique keys).
                marker = marker_key(sale_id, uuid.UUID(int=0), f"order-hold:{uuid.uuid4().hex}")
                while True:
                    answer = await self.counters.reserve(
                        sale_id=sale_id,
                        slot=item.slot,
                        customer_id=customer,
                        quantity=quantity,
                        now=now,
                        marker=marker,
                        marker_value="P|order",
                        marker_ttl=300,
                    )
                    assert not isinstance(answer, bytes)  # the marker is new: nothing to replay
                    if answer.outcome == "MISSING":
                        await self.sales.ensure_counters(sale_id)
                        continue
                    if answer.outcome != "OK":
                        raise refusal("SALE_NOT_ACTIVE" if answer.outcome == "NOT_IN_SALE" else answer.outcome)
                    held.append(Held(sale_id=sale_id, item=item, quantity=quantity, reservation=answer, marker=marker))
                    break
        except BaseException:
            await self.release(held, customer=customer)
            raise
        return held

    async def record(
        self, conn: Connection, held: list[Held], *, customer: str, principal_id: UUID, order_id: UUID
    ) -> None:
        """Write the held units to the ledger inside the order's transaction (refusals raise Conflict)."""
        for hold in held:
            key = f"order:{order_id}:{hold.item.slot}"
            try:
                await ledger_row(
                    conn,
                    sale_id=hold.sale_id,
                    item=hold.item,
                    quantity=hold.quantity,
                    customer=customer,
                    principal_id=principal_id,
                    idempotency_key=key,
                    request_hash=hashlib.sha256(key.encode()).digest(),
                    hold=hold.reservation.hold,
                    order_id=order_id,
                )
            except Refused as refused:
                self._resync(hold.sale_id)
                raise refusal(refused.code) from None

    async def release(self, held: list[Held], *, customer: str) -> None:
        """Give held units back (the order did not commit)."""
        for hold in held:
            await self._undo(hold.sale_id, hold.reservation, hold.item, customer, hold.quantity, hold.marker)

    async def settle(self, held: list[Held]) -> None:
        """After the order committed: forget the holds and their markers; the sales' summaries
        are now stale. (Redis failing here leaves holds the reconciler settles.)"""
        for hold in held:
            self.sales.dirty.add(hold.sale_id)
        with contextlib.suppress(RedisError):
            for hold in held:
                await self.counters.settle(hold.sale_id, hold.reservation.hold, hold.marker, None)

    async def _undo(
        self,
        sale_id: UUID,
        reservation: Reservation,
        item: FlashItem,
        customer: str,
        quantity: int,
        marker: str,
        *,
        outcome: str = RELEASED,
    ) -> None:
        try:
            await self.counters.undo(
                sale_id=sale_id,
                hold=reservation.hold,
                gen=reservation.gen,
                slot=item.slot,
                customer_id=customer,
                quantity=quantity,
                marker=marker,
                outcome=outcome,
            )
        except Exception:  # the units stay held: the hold reconciler gives them back later
            log.error("flash_undo_failed", flash_sale_id=str(sale_id), hold=reservation.hold, exc_info=True)

    def _resync(self, sale_id: UUID) -> None:
        """Redis allowed what the ledger refused: rewrite its counters from the ledger, off the
        request path — one resync per sale at a time (a burst of refusals needs only one)."""
        if sale_id in self._resyncing:
            return

        async def run() -> None:
            try:
                await self.sales.reconcile(sale_id)
            except Exception:  # the next refusal tries again
                log.warning("flash_resync_failed", flash_sale_id=str(sale_id), exc_info=True)
            finally:
                self._resyncing.pop(sale_id, None)

        self._resyncing[sale_id] = asyncio.create_task(run(), name=f"flash-resync-{sale_id}")

    async def mine(self, sale_id: UUID, *, principal: Principal, customer_id: str | None) -> CustomerPurchases:
        """What one customer bought of each product, and how many more they may buy."""
        sale = await self.sales.definition(sale_id)
        customer = customer_of(principal, customer_id)
        slots = [item.slot for item in sale.items]
        seen = await self.counters.customer_view(sale_id, slots, customer)
        if seen is None:
            await self.sales.ensure_counters(sale_id)
            seen = await self.counters.customer_view(sale_id, slots, customer) or [(0, 0)] * len(slots)
        return CustomerPurchases(
            items=[
                CustomerItem(
                    product_id=item.product_id,
                    purchased=bought,
                    remaining_limit=max(0, item.per_user_limit - bought),
                    offer_id=UNSET if item.offer_id is None else item.offer_id,
                )
                for item, (_, bought) in zip(sale.items, seen, strict=True)
            ]
        )


def _not_in_sale(data: PurchaseCreate) -> ServiceError:
    if data.offer_id is not None:
        return invalid("offer_id", "this offer of the product is not in this flash sale")
    if data.product_id is None:
        return invalid("product_id", "required field missing: name a product_id or an offer_id")
    return invalid("product_id", "is not in this flash sale")


def _held_order(pair: tuple[tuple[UUID, UUID, UUID | None], int]) -> tuple[UUID, UUID, int]:
    """Holds in (sale, product, offer) order, the default item first (None does not compare with a UUID)."""
    (sale_id, product_id, offer_id), _ = pair
    return sale_id, product_id, 0 if offer_id is None else offer_id.int + 1


def _replay(marker: bytes, print_: str) -> Purchase | None:
    """A finished purchase for this key (None while the first request is still writing); the
    refusal this key got, raised again."""
    state, _, rest = marker.decode().partition("|")
    stored_print, _, body = rest.partition("|")
    idempotency.same_request(stored_print.encode(), print_.encode())
    if state == "R":
        code, _, detail = body.partition("|")
        raise idempotency.Replayed(refusal=refusal(code, detail))
    if state != "D":
        return None
    return _PURCHASE.decode(body)

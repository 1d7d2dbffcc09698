"""Stock reservations between quote and order: hold, consume, release, expire.

PostgreSQL is the only truth (migrations/0080): a reserving quote pays one short transaction,
a plain quote pays nothing. Units available to a writer = stock - units held by unexpired
reservations (flash-sale allocations already left `stock` when their sale was created).

Every writer that takes units locks the products' rows in id order first (as orders always
did), then reads the live holds, then writes:
- a reserving quote (`Reservations.hold`) checks every catalog line against that and inserts
  its reservation with one hold per product — or refuses (409, nothing held);
- an order (`take_for_order`, inside the order's transaction) consumes its quote's hold, when
  the quote has one that is still unexpired, and checks its units against stock - the holds
  of everyone else: a reserved order never fails for stock, a plain one never takes units held
  for someone else.
Releasing and expiring only give units back, so they take no product lock: they close the
reservation row (a conditional UPDATE: each closes once) and delete its holds.

A reservation is its quote's maker's: only the caller that made the quote, or an admin, reads or
releases it (auth/policy.py `acts_for`); to anyone else it does not exist (404).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from quote_service.auth.policy import Maker, acts_for
from quote_service.auth.schemas import Principal
from quote_service.catalog import repository as catalog
from quote_service.clock import utcnow
from quote_service.db.pool import Connection, Pool
from quote_service.errors import Conflict, FieldError, InsufficientStock, NotFound, ProductUnavailable
from quote_service.observability.metrics import RESERVATIONS
from quote_service.pricing.quote import STOCKED_SOURCES, Quote, QuoteRequest, ReservedLine, StockReservation
from quote_service.reservations import repository
from quote_service.reservations.schemas import Reservation

_MADE, _REFUSED, _CONSUMED, _RELEASED, _EXPIRED = (
    RESERVATIONS.labels(event) for event in ("made", "refused", "consumed", "released", "expired")
)


def catalog_units(quote: Quote) -> dict[UUID, int]:
    """Units per catalog product of a quote, in the order its lines name them (flash-priced units
    come from their sale's own stock, request-priced lines take none; price-list lines are catalog units)."""
    wanted: dict[UUID, int] = defaultdict(int)
    for line in quote.items:
        if line.price_source in STOCKED_SOURCES:
            wanted[UUID(line.product_id)] += line.quantity
    return dict(wanted)


class Reservations:
    """Holds, releases and reads reservations; one per process. `clock` is the quotes' clock."""

    def __init__(self, pool: Pool, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._pool = pool
        self.clock = clock

    async def hold(self, request: QuoteRequest, quote: Quote, caller: Principal, *, now: datetime) -> Quote:
        """`quote` with its units held until its valid_until; InsufficientStock naming each short
        `items[i].quantity` (nothing held) when stock - unexpired holds is short anywhere."""
        wanted = catalog_units(quote)
        reservation = StockReservation(
            expires_at=quote.valid_until,
            lines=[ReservedLine(product_id=str(pid), quantity=quantity) for pid, quantity in wanted.items()],
        )
        if wanted:
            ids = sorted(wanted)
            async with self._pool.acquire() as conn, conn.transaction():
                locked = await catalog.lock_products(conn, product_ids=ids)
                held = await catalog.held_units(conn, product_ids=ids, now=now)
                try:
                    check_units(request_positions(request), wanted, locked, held)
                except InsufficientStock:
                    _REFUSED.inc()
                    raise
                await repository.insert_reservation(
                    conn,
                    quote_id=quote.quote_id,
                    customer_id=quote.customer_id,
                    principal=(caller.kind, caller.id),
                    expires_at=quote.valid_until,
                    lines=wanted,
                    now=now,
                )
        return msgspec.structs.replace(quote, reservation=reservation)

    def answered(self) -> None:
        """Count a reservation whose quote was answered (made)."""
        _MADE.inc()

    async def discard(self, quote_id: UUID) -> None:
        """Drop the holds of a quote that was never answered (its store failed); they would
        otherwise wait for their expiry."""
        async with self._pool.acquire() as conn:
            await repository.discard(conn, quote_id=quote_id)

    async def get(self, quote_id: UUID, caller: Principal) -> Reservation:
        """The quote's reservation, if the caller made the quote or is an admin (else 404, as if there were none)."""
        async with self._pool.acquire() as conn:
            row = await repository.get_reservation(conn, quote_id=quote_id)
        if row is None or not acts_for(caller, maker(row)):
            raise NotFound(f"quote {quote_id} holds no reservation")
        return view(row, self.clock())

    async def release(self, quote_id: UUID, caller: Principal) -> Reservation:
        """Give the units back now (the quote's maker or an admin; anyone else: 404). Releasing
        again, or after the expiry, answers the reservation as it stands; after its order → 409
        QUOTE_ALREADY_ORDERED."""
        now = self.clock()
        async with self._pool.acquire() as conn:
            row = await repository.get_reservation(conn, quote_id=quote_id)
            if row is None or not acts_for(caller, maker(row)):
                raise NotFound(f"quote {quote_id} holds no reservation")
            async with conn.transaction():
                closed = await repository.close(conn, quote_id=quote_id, status="released", now=now)
            if closed is not None:
                _RELEASED.inc()
                row = closed
            else:
                row = await repository.get_reservation(conn, quote_id=quote_id)
                assert row is not None
        if row["status"] == "consumed":
            raise Conflict(f"quote {quote_id} has been ordered: its units are sold", code="QUOTE_ALREADY_ORDERED")
        return view(row, now)

    async def held(self, product_ids: Sequence[UUID]) -> dict[UUID, int]:
        """Units held now by unexpired reservations, per product."""
        async with self._pool.acquire() as conn:
            return await catalog.held_units(conn, product_ids=product_ids, now=self.clock())

    async def expire_due(self, *, limit: int = 1000) -> int:
        """Close the reservations past their expiry (the sweeper's pass); returns how many."""
        async with self._pool.acquire() as conn:
            count = await repository.expire_due(conn, now=self.clock(), limit=limit)
        if count:
            _EXPIRED.inc(count)
        return count


async def take_for_order(
    conn: Connection, *, quote_id: UUID, order_id: UUID, product_ids: Sequence[UUID], now: datetime
) -> tuple[bool, dict[UUID, int]]:
    """In an order's transaction, after its products are locked: consume the quote's hold if it
    is still held and unexpired; returns (consumed, units held for everyone else per product)."""
    consumed = await repository.close(conn, quote_id=quote_id, status="consumed", now=now, order_id=order_id)
    return consumed is not None, await catalog.held_units(conn, product_ids=product_ids, now=now)


def counted_consumed() -> None:
    """Count a reservation consumed by an order that committed."""
    _CONSUMED.inc()


def request_positions(request: QuoteRequest) -> dict[UUID, int]:
    """The first request item naming each catalog product: where a refusal points."""
    positions: dict[UUID, int] = {}
    for index, item in enumerate(request.items):
        try:
            positions.setdefault(UUID(item.product_id), index)
        except ValueError:
            continue
    return positions


def check_units(
    positions: dict[UUID, int],
    wanted: dict[UUID, int],
    locked: Sequence[asyncpg.Record],
    held: dict[UUID, int],
    *,
    verb: str = "wanted",
) -> None:
    """Refuse when a product is gone or inactive, or when stock - `held` is short of what is
    wanted, naming every such line (`items[i]` at `positions`)."""
    rows = {row["id"]: row for row in locked}
    unavailable = [pid for pid in wanted if pid not in rows or not rows[pid]["is_active"]]
    if unavailable:
        raise ProductUnavailable(
            "product(s) no longer available: " + ", ".join(map(str, unavailable)),
            details=[FieldError(f"items[{positions[pid]}].product_id", "product is inactive") for pid in unavailable],
        )
    short = [pid for pid, quantity in wanted.items() if rows[pid]["stock"] - held.get(pid, 0) < quantity]
    if short:
        raise InsufficientStock(
            "insufficient stock for product(s): " + ", ".join(map(str, short)),
            details=[
                FieldError(
                    f"items[{positions[pid]}].quantity",
                    f"product {pid}: {wanted[pid]} {verb}, {rows[pid]['stock']} in stock"
                    + (f", {held[pid]} of them held for other quotes" if held.get(pid) else ""),
                )
                for pid in short
            ],
        )


def view(row: asyncpg.Record, now: datetime) -> Reservation:
    """A reservation as the API shows it: a held one past its expiry reads expired at once."""
    status = row["status"]
    if status == "held" and row["expires_at"] <= now:
        status = "expired"
    return Reservation(
        quote_id=row["quote_id"],
        customer_id=row["customer_id"],
        status=status,
        expires_at=row["expires_at"],
        lines=[ReservedLine(product_id=line["product_id"], quantity=line["quantity"]) for line in row["lines"]],
        order_id=row["order_id"],
        created_at=row["created_at"],
        closed_at=row["closed_at"],
    )


def maker(row: asyncpg.Record) -> Maker:
    """Who made the reservation's quote."""
    return row["principal_kind"], row["principal_id"]

"""Stock reservations between quote and order: hold, move, consume, release, expire.

PostgreSQL is the only truth (migrations/0080, 0150): a reserving quote pays one short
transaction, a plain quote pays nothing. Units available to a writer = stock - units held by
unexpired reservations (flash-sale allocations already left `stock` when their sale was created).

Every writer that takes units locks the products' rows in id order first (as orders always
did), then reads the live holds, then writes:
- a reserving quote (`Reservations.hold`) locks its customer first (a transaction-scoped
  advisory lock: one customer's reserving quotes take turns), then its products; it takes over
  the hold of the quote it replaces (`replaces_quote_id`: that reservation closes as `replaced`),
  checks the customer's caps (MAX_ACTIVE_RESERVATIONS live reservations, MAX_HELD_UNITS_PER_PRODUCT
  units of a product, counted after that) and every catalog line against stock, and inserts its
  reservation with one hold per product — or refuses (409, nothing held, the replaced hold kept);
- an order (`take_for_order`, inside the order's transaction) consumes its quote's hold, when
  the quote has one that is still unexpired, and checks its units against stock - the holds
  of everyone else: a reserved order never fails for stock, a plain one never takes units held
  for someone else.
Releasing and expiring only give units back, so they take no product lock: they close the
reservation row (a conditional UPDATE: each closes once) and delete its holds.

Locks are taken in one order: the customer, its products by id, then reservation rows. Orders
take products then a reservation row and never a customer; releases and the sweeper take a
reservation row alone. So no two writers wait for each other in a circle.

A reservation is its quote's maker's: only the caller that made the quote, or an admin, reads,
releases or moves it (auth/policy.py `acts_for`); to anyone else it does not exist (404).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, cast
from uuid import UUID

import asyncpg
import msgspec

from quote_service.auth.policy import acts_for
from quote_service.auth.schemas import Principal
from quote_service.catalog import repository as catalog
from quote_service.clock import utcnow
from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import row_as
from quote_service.errors import (
    Conflict,
    FieldError,
    HoldLimitExceeded,
    InsufficientStock,
    NotFound,
    ProductUnavailable,
)
from quote_service.observability.metrics import RESERVATIONS
from quote_service.pricing.quote import STOCKED_SOURCES, Quote, QuoteRequest, ReservedLine, StockReservation
from quote_service.reservations import repository
from quote_service.reservations.policy import check_limits, check_replaceable, maker, status_at
from quote_service.reservations.schemas import Reservation, Status

_MADE, _REFUSED, _CONSUMED, _RELEASED, _EXPIRED, _REPLACED = (
    RESERVATIONS.labels(event) for event in ("made", "refused", "consumed", "released", "expired", "replaced")
)


def catalog_units(quote: Quote) -> dict[UUID, int]:
    """Units per catalog product of a quote, in the order its lines name them (flash-priced units
    come from their sale's own stock, request-priced lines take none; price-list lines are catalog units)."""
    wanted: dict[UUID, int] = defaultdict(int)
    for line in quote.items:
        if line.price_source in STOCKED_SOURCES and not isinstance(line.offer_id, UUID):
            wanted[UUID(line.product_id)] += line.quantity
    return dict(wanted)


def offer_units(quote: Quote) -> dict[UUID, int]:
    """Units per offer of a quote's lines sold from another seller's offer (docs/offers.md): they come from
    the offer's stock, not the product's (flash-priced units from their sale's own allocation)."""
    wanted: dict[UUID, int] = defaultdict(int)
    for line in quote.items:
        if isinstance(line.offer_id, UUID) and line.price_source != "flash_sale":
            wanted[line.offer_id] += line.quantity
    return dict(wanted)


def offer_lines(quote: Quote) -> dict[UUID, tuple[str, int]]:
    """`offer_units` with each offer's product: offer id -> (product id, units), in the order of its lines."""
    found: dict[UUID, tuple[str, int]] = {}
    for line in quote.items:
        if isinstance(line.offer_id, UUID) and line.price_source != "flash_sale":
            _, units = found.get(line.offer_id, (line.product_id, 0))
            found[line.offer_id] = (line.product_id, units + line.quantity)
    return found


def offer_positions(quote: Quote) -> dict[UUID, int]:
    """The first line sold from each offer: where a refusal of its units points (`items[i]`)."""
    first: dict[UUID, int] = {}
    for index, line in enumerate(quote.items):
        if isinstance(line.offer_id, UUID):
            first.setdefault(line.offer_id, index)
    return first


class Reservations:
    """Holds, moves, releases and reads reservations; one per process. `clock` is the quotes'
    clock; a customer holds at most `max_units_per_product` units of a product and
    `max_reservations` live reservations (MAX_HELD_UNITS_PER_PRODUCT, MAX_ACTIVE_RESERVATIONS)."""

    def __init__(
        self,
        pool: Pool,
        *,
        max_units_per_product: int,
        max_reservations: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._pool = pool
        self.max_units_per_product = max_units_per_product
        self.max_reservations = max_reservations
        self.clock = clock

    async def hold(self, request: QuoteRequest, quote: Quote, caller: Principal, *, now: datetime) -> Quote:
        """`quote` with its units held until its valid_until, having taken over the hold of the
        customer's quote `request.replaces_quote_id` if named. Refused with nothing held (and the
        replaced hold kept): HOLD_LIMIT_EXCEEDED beyond the customer's caps, INSUFFICIENT_STOCK
        when stock - unexpired holds is short, each naming its `items[i].quantity`; a replaced
        quote that is not the caller's live hold for this customer names `replaces_quote_id`."""
        wanted = catalog_units(quote)
        offered = offer_lines(quote)  # docs/offers.md: an offer's units are held as a product's
        replaces = request.replaces_quote_id
        lines = [ReservedLine(product_id=str(pid), quantity=quantity) for pid, quantity in wanted.items()]
        lines += [ReservedLine(product_id=pid, quantity=n, offer_id=oid) for oid, (pid, n) in offered.items()]
        reservation = StockReservation(expires_at=quote.valid_until, lines=lines)
        if not wanted and not offered and replaces is None:
            return msgspec.structs.replace(quote, reservation=reservation)
        async with self._pool.acquire() as conn, conn.transaction():
            await repository.lock_customer(conn, customer_id=quote.customer_id)
            locked = await catalog.lock_products(conn, product_ids=sorted(wanted)) if wanted else []
            offers = None
            if offered:  # after the products, in id order (every stock writer's order)
                units = {oid: n for oid, (_, n) in offered.items()}
                rows = await repository.lock_offers(conn, offer_ids=sorted(units))
                offers = OfferRoom(offer_positions(quote), units, rows)
            if replaces is not None:
                await self._take_over(conn, replaces, quote, caller, now=now)
            if wanted or offers is not None:
                try:
                    await self._check_room(
                        conn, quote.customer_id, request_positions(request), wanted, locked, now, offers
                    )
                except (HoldLimitExceeded, InsufficientStock, ProductUnavailable):
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
                    offers=offered,
                )
        return msgspec.structs.replace(quote, reservation=reservation)

    async def _take_over(
        self, conn: Connection, replaces: UUID, quote: Quote, caller: Principal, *, now: datetime
    ) -> None:
        """Close the reservation of quote `replaces` as replaced by `quote`, in `quote`'s reserving
        transaction: its units stop counting for the customer and for stock in the same step as
        `quote` holds its own, so nobody else ever sees them free in between."""
        row = await repository.get_reservation(conn, quote_id=replaces, lock=True)
        check_replaceable(row, replaces, caller, quote.customer_id, now)
        await repository.close(conn, quote_id=replaces, status="replaced", now=now, replaced_by=quote.quote_id)

    async def _check_room(
        self,
        conn: Connection,
        customer_id: str,
        positions: dict[UUID, int],
        wanted: dict[UUID, int],
        locked: Sequence[asyncpg.Record],
        now: datetime,
        offers: OfferRoom | None = None,
    ) -> None:
        """Refuse `wanted` beyond the customer's caps, or beyond stock - every unexpired hold, with
        the customer and its products locked (the reads come after the locks, in later statements);
        `offers`: the offers' units wanted, held to the same caps (per offer) and to each offer's stock."""
        live, own = await repository.customer_holds(conn, customer_id=customer_id, product_ids=list(wanted), now=now)
        if offers is None:
            check_limits(positions, wanted, live, own, self.max_units_per_product, self.max_reservations)
        else:
            mine = await repository.customer_offer_holds(
                conn, customer_id=customer_id, offer_ids=list(offers.wanted), now=now
            )
            check_limits(
                {**positions, **offers.positions}, {**wanted, **offers.wanted}, live, {**own, **mine},
                self.max_units_per_product, self.max_reservations, offers=frozenset(offers.wanted),
            )  # fmt: skip
        if wanted:
            held = await catalog.held_units(conn, product_ids=list(wanted), now=now)
            check_units(positions, wanted, locked, held)
        if offers is not None:
            held = await repository.held_offer_units(conn, offer_ids=list(offers.wanted), now=now)
            check_units(offers.positions, offers.wanted, offers.locked, held, what="offer")

    def answered(self, *, replaced: bool) -> None:
        """Count a reservation whose quote was answered (made), and the hold it took over (replaced)."""
        _MADE.inc()
        if replaced:
            _REPLACED.inc()

    async def discard(self, quote_id: UUID, *, replaced: UUID | None = None) -> None:
        """Drop the holds of a quote that was never answered (its store failed); they would
        otherwise wait for their expiry. The hold it had taken over (quote `replaced`) is held
        again if its units are still free, so a refresh that failed does not lose the customer's hold."""
        async with self._pool.acquire() as conn:
            if replaced is None:
                await repository.discard(conn, quote_id=quote_id)
                return
            old = await repository.get_reservation(conn, quote_id=replaced)
            if old is None:  # not a reservation: nothing was taken over
                await repository.discard(conn, quote_id=quote_id)
                return
            lines = repository.lines_of(old)
            units = {oid: n for oid, (_, n) in repository.offer_lines_of(old).items()}
            now = self.clock()
            async with conn.transaction():  # as `hold`: the customer, its products, its offers, then the rows
                await repository.lock_customer(conn, customer_id=old["customer_id"])
                locked = await catalog.lock_products(conn, product_ids=sorted(lines)) if lines else []
                offers = None
                if units:
                    rows = await repository.lock_offers(conn, offer_ids=sorted(units))
                    offers = OfferRoom(dict.fromkeys(units, 0), units, rows)
                old = await repository.get_reservation(conn, quote_id=replaced, lock=True)
                await repository.discard(conn, quote_id=quote_id)
                if old is None or old["replaced_by"] != quote_id or old["expires_at"] <= now:
                    return
                try:  # the refusal's wording is never shown: only whether the units still fit
                    await self._check_room(
                        conn, old["customer_id"], dict.fromkeys(lines, 0), lines, locked, now, offers
                    )
                except (HoldLimitExceeded, InsufficientStock, ProductUnavailable):
                    return  # meanwhile the units went to others: the hold stays closed (replaced)
                await repository.reinstate(conn, reservation=old)

    async def get(self, quote_id: UUID, caller: Principal) -> Reservation:
        """The quote's reservation, if the caller made the quote or is an admin (else 404, as if there were none)."""
        async with self._pool.acquire() as conn:
            row = await repository.get_reservation(conn, quote_id=quote_id)
        if row is None or not acts_for(caller, maker(row)):
            raise NotFound(f"quote {quote_id} holds no reservation")
        return view(row, self.clock())

    async def release(self, quote_id: UUID, caller: Principal) -> Reservation:
        """Give the units back now (the quote's maker or an admin; anyone else: 404). Releasing
        again, after the expiry or after a replacement answers the reservation as it stands; after
        its order → 409 QUOTE_ALREADY_ORDERED."""
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
    """In an order's transaction, after its products (and offers) are locked: consume the quote's hold if it
    is still held and unexpired; returns (consumed, units held for everyone else per product)."""
    consumed = await repository.close(conn, quote_id=quote_id, status="consumed", now=now, order_id=order_id)
    held = await catalog.held_units(conn, product_ids=product_ids, now=now) if product_ids else {}
    return consumed is not None, held


class OfferRoom(NamedTuple):
    """The offers' units a writer wants, with the offers' rows it locked (docs/offers.md)."""

    positions: dict[UUID, int]
    """The first line of each offer (`items[i]`)."""
    wanted: dict[UUID, int]
    locked: Sequence[asyncpg.Record]


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
    positions: Mapping[UUID, int | str],
    wanted: dict[UUID, int],
    locked: Sequence[asyncpg.Record],
    held: dict[UUID, int],
    *,
    verb: str = "wanted",
    what: str = "product",
) -> None:
    """Refuse when a product is gone or inactive, or when stock - `held` is short of what is
    wanted, naming every such line (`items[i]` at `positions`; a text position is the field itself).
    `what`: "offer" for offers' rows (docs/offers.md), refused naming `offer_id`."""
    rows = {row["id"]: row for row in locked}

    def field(pid: UUID, name: str) -> str:
        at = positions[pid]
        return f"items[{at}].{name}" if isinstance(at, int) else f"{at}.{name}"

    unavailable = [pid for pid in wanted if pid not in rows or not rows[pid]["is_active"]]
    if unavailable:
        raise ProductUnavailable(
            f"{what}(s) no longer available: " + ", ".join(map(str, unavailable)),
            details=[FieldError(field(pid, f"{what}_id"), f"{what} is inactive") for pid in unavailable],
        )
    short = [pid for pid, quantity in wanted.items() if rows[pid]["stock"] - held.get(pid, 0) < quantity]
    if short:
        raise InsufficientStock(
            f"insufficient stock for {what}(s): " + ", ".join(map(str, short)),
            details=[
                FieldError(
                    field(pid, "quantity"),
                    f"{what} {pid}: {wanted[pid]} {verb}, {rows[pid]['stock']} in stock"
                    + (f", {held[pid]} of them held for other quotes" if held.get(pid) else ""),
                )
                for pid in short
            ],
        )


def view(row: asyncpg.Record, now: datetime) -> Reservation:
    """A reservation as the API shows it: a held one past its expiry reads expired at once."""
    return row_as(
        Reservation,
        row,
        status=cast(Status, status_at(row, now)),
        lines=[
            ReservedLine(product_id=line["product_id"], quantity=line["quantity"])
            if "offer_id" not in line
            else ReservedLine(product_id=line["product_id"], quantity=line["quantity"], offer_id=UUID(line["offer_id"]))
            for line in row["lines"]
        ],
    )

"""SQL for stock reservations (migrations/0080, 0150, 0780): the reservation rows and their live holds, of
products and of offers (docs/offers.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.catalog.repository import units_held
from quote_service.db.pool import Connection

RESERVATION_COLUMNS = (
    "quote_id, customer_id, principal_kind, principal_id, expires_at, status, lines, order_id, replaced_by, "
    "created_at, closed_at"
)


async def lock_customer(conn: Connection, *, customer_id: str) -> None:
    """Serialise the reserving transactions of one customer until the caller's transaction ends:
    its live holds are counted and a new one inserted as one step (MAX_ACTIVE_RESERVATIONS,
    MAX_HELD_UNITS_PER_PRODUCT). Taken before any product lock; nothing that holds a product
    lock ever waits for it, so it adds no deadlock."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('reservation_customer:' || $1, 0))", customer_id)


async def customer_holds(
    conn: Connection, *, customer_id: str, product_ids: Sequence[UUID], now: datetime
) -> tuple[int, dict[UUID, int]]:
    """The customer's live (held, unexpired) reservations: how many, and the units they hold of
    each of `product_ids`. Run it after `lock_customer`, in a later statement."""
    rows = await conn.fetch(
        """SELECT r.quote_id, h.product_id, h.quantity FROM reservations r
           LEFT JOIN reservation_holds h ON h.quote_id = r.quote_id AND h.product_id = any($3::uuid[])
           WHERE r.customer_id = $1 AND r.status = 'held' AND r.expires_at > $2""",
        customer_id,
        now,
        list(product_ids),
    )
    units: dict[UUID, int] = defaultdict(int)
    for row in rows:
        if row["product_id"] is not None:
            units[row["product_id"]] += row["quantity"]
    return len({row["quote_id"] for row in rows}), dict(units)


async def customer_offer_holds(
    conn: Connection, *, customer_id: str, offer_ids: Sequence[UUID], now: datetime
) -> dict[UUID, int]:
    """The units the customer's live reservations hold of each of `offer_ids` (after `lock_customer`)."""
    rows = await conn.fetch(
        """SELECT h.offer_id, sum(h.quantity)::integer AS held FROM reservations r
           JOIN reservation_offer_holds h ON h.quote_id = r.quote_id AND h.offer_id = any($3::uuid[])
           WHERE r.customer_id = $1 AND r.status = 'held' AND r.expires_at > $2
           GROUP BY h.offer_id""",
        customer_id,
        now,
        list(offer_ids),
    )
    return {row["offer_id"]: row["held"] for row in rows}


async def lock_offers(conn: Connection, *, offer_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """Lock the offers' rows in id order, as every writer of an offer's stock does (the offers room's
    own `lock_offers` is the same statement: this room sits below it, docs/architecture.md#layers)."""
    return await conn.fetch(
        "SELECT id, stock, is_active FROM offers WHERE id = any($1::uuid[]) ORDER BY id FOR UPDATE",
        list(offer_ids),
    )


async def held_offer_units(conn: Connection, *, offer_ids: Sequence[UUID], now: datetime) -> dict[UUID, int]:
    """Units held by unexpired reservations, per offer (absent: none). Run it AFTER the statement that locked
    the offers, never in it (as `catalog.held_units`)."""
    return await units_held(conn, "reservation_offer_holds", "offer_id", offer_ids, now)


async def insert_reservation(
    conn: Connection,
    *,
    quote_id: UUID,
    customer_id: str,
    principal: tuple[str, UUID],
    expires_at: datetime,
    lines: dict[UUID, int],
    now: datetime,
    offers: Mapping[UUID, tuple[str, int]] | None = None,
) -> None:
    """The reservation and one live hold per product, and per offer (`offers`: offer id -> (its product id,
    units)), in the caller's transaction."""
    entries: list[dict[str, Any]] = [{"product_id": str(pid), "quantity": quantity} for pid, quantity in lines.items()]
    if offers:
        entries += [{"product_id": pid, "offer_id": str(oid), "quantity": n} for oid, (pid, n) in offers.items()]
    await conn.execute(
        """INSERT INTO reservations (quote_id, customer_id, principal_kind, principal_id, expires_at, lines, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        quote_id,
        customer_id,
        principal[0],
        principal[1],
        expires_at,
        entries,
        now,
    )
    if lines:
        await _insert_holds(conn, quote_id=quote_id, lines=lines, expires_at=expires_at)
    if offers:
        units = {oid: n for oid, (_, n) in offers.items()}
        await _insert_offer_holds(conn, quote_id=quote_id, units=units, expires_at=expires_at)


async def _insert_holds(conn: Connection, *, quote_id: UUID, lines: dict[UUID, int], expires_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO reservation_holds (quote_id, product_id, quantity, expires_at)
           SELECT $1, t.product_id, t.quantity, $4 FROM unnest($2::uuid[], $3::integer[]) AS t(product_id, quantity)""",
        quote_id,
        list(lines),
        list(lines.values()),
        expires_at,
    )


async def _insert_offer_holds(
    conn: Connection, *, quote_id: UUID, units: Mapping[UUID, int], expires_at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO reservation_offer_holds (quote_id, offer_id, quantity, expires_at)
           SELECT $1, t.offer_id, t.quantity, $4 FROM unnest($2::uuid[], $3::integer[]) AS t(offer_id, quantity)""",
        quote_id,
        list(units),
        list(units.values()),
        expires_at,
    )


def holds_offers(lines: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a reservation's `lines` hold an offer's units (its offer holds to delete when it closes)."""
    return any("offer_id" in line for line in lines)


async def close(
    conn: Connection,
    *,
    quote_id: UUID,
    status: str,
    now: datetime,
    order_id: UUID | None = None,
    replaced_by: UUID | None = None,
) -> asyncpg.Record | None:
    """Close a held, unexpired reservation (consumed by `order_id`, released, or replaced by the
    quote `replaced_by`) and drop its holds; None when it was not held any more (consumed,
    released, replaced, expired) or is unknown."""
    row = await conn.fetchrow(
        f"""UPDATE reservations SET status = $2, closed_at = $3, order_id = $4, replaced_by = $5
            WHERE quote_id = $1 AND status = 'held' AND expires_at > $3
            RETURNING {RESERVATION_COLUMNS}""",
        quote_id,
        status,
        now,
        order_id,
        replaced_by,
    )
    if row is not None:
        await conn.execute("DELETE FROM reservation_holds WHERE quote_id = $1", quote_id)
        if holds_offers(row["lines"]):
            await conn.execute("DELETE FROM reservation_offer_holds WHERE quote_id = $1", quote_id)
    return row


async def discard(conn: Connection, *, quote_id: UUID) -> None:
    """Forget a reservation whose quote was never answered (its holds go with it)."""
    await conn.execute("DELETE FROM reservations WHERE quote_id = $1 AND status = 'held'", quote_id)


async def reinstate(conn: Connection, *, reservation: asyncpg.Record) -> None:
    """Hold a replaced reservation's units again (its replacement was never answered)."""
    await conn.execute(
        "UPDATE reservations SET status = 'held', closed_at = NULL, replaced_by = NULL WHERE quote_id = $1",
        reservation["quote_id"],
    )
    lines = lines_of(reservation)
    if lines:
        await _insert_holds(conn, quote_id=reservation["quote_id"], lines=lines, expires_at=reservation["expires_at"])
    offers = offer_lines_of(reservation)
    if offers:
        units = {oid: n for oid, (_, n) in offers.items()}
        await _insert_offer_holds(
            conn, quote_id=reservation["quote_id"], units=units, expires_at=reservation["expires_at"]
        )


def lines_of(reservation: asyncpg.Record) -> dict[UUID, int]:
    """The units a reservation holds (or held), per product (its own stock's: an offer's units are not)."""
    return {UUID(line["product_id"]): line["quantity"] for line in reservation["lines"] if "offer_id" not in line}


def offer_lines_of(reservation: asyncpg.Record) -> dict[UUID, tuple[str, int]]:
    """The units a reservation holds (or held) of offers: offer id -> (its product id, units)."""
    return {
        UUID(line["offer_id"]): (line["product_id"], line["quantity"])
        for line in reservation["lines"]
        if "offer_id" in line
    }


async def get_reservation(conn: Connection, *, quote_id: UUID, lock: bool = False) -> asyncpg.Record | None:
    """One reservation; `lock`: FOR UPDATE, until the caller's transaction ends."""
    return await conn.fetchrow(
        f"SELECT {RESERVATION_COLUMNS} FROM reservations WHERE quote_id = $1{' FOR UPDATE' if lock else ''}", quote_id
    )


async def expire_due(conn: Connection, *, now: datetime, limit: int) -> int:
    """Close up to `limit` held reservations past their expiry as expired; returns how many.

    Safe in any number of processes at once: each takes the rows it can lock (SKIP LOCKED) and
    closes only rows still held, so every reservation expires once."""
    async with conn.transaction():
        expired = await conn.fetch(
            """WITH due AS (
                   SELECT quote_id FROM reservations WHERE status = 'held' AND expires_at <= $1
                   ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
               UPDATE reservations r SET status = 'expired', closed_at = $1
               FROM due WHERE r.quote_id = due.quote_id
               RETURNING r.quote_id, r.lines""",
            now,
            limit,
        )
        if expired:
            await conn.execute(
                "DELETE FROM reservation_holds WHERE quote_id = any($1::uuid[])", [row["quote_id"] for row in expired]
            )
            offered = [row["quote_id"] for row in expired if holds_offers(row["lines"])]
            if offered:
                await conn.execute("DELETE FROM reservation_offer_holds WHERE quote_id = any($1::uuid[])", offered)
    return len(expired)

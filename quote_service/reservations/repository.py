"""SQL for stock reservations (migrations/0080): the reservation rows and their live holds."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection

RESERVATION_COLUMNS = (
    "quote_id, customer_id, principal_kind, principal_id, expires_at, status, lines, order_id, created_at, closed_at"
)


async def insert_reservation(
    conn: Connection,
    *,
    quote_id: UUID,
    customer_id: str,
    principal: tuple[str, UUID],
    expires_at: datetime,
    lines: dict[UUID, int],
    now: datetime,
) -> None:
    """The reservation and one live hold per product, in the caller's transaction."""
    await conn.execute(
        """INSERT INTO reservations (quote_id, customer_id, principal_kind, principal_id, expires_at, lines, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        quote_id,
        customer_id,
        principal[0],
        principal[1],
        expires_at,
        [{"product_id": str(pid), "quantity": quantity} for pid, quantity in lines.items()],
        now,
    )
    await conn.execute(
        """INSERT INTO reservation_holds (quote_id, product_id, quantity, expires_at)
           SELECT $1, t.product_id, t.quantity, $4 FROM unnest($2::uuid[], $3::integer[]) AS t(product_id, quantity)""",
        quote_id,
        list(lines),
        list(lines.values()),
        expires_at,
    )


async def close(
    conn: Connection, *, quote_id: UUID, status: str, now: datetime, order_id: UUID | None = None
) -> asyncpg.Record | None:
    """Close a held, unexpired reservation (consumed or released) and drop its holds; None when
    it was not held any more (consumed, released, expired) or is unknown."""
    row = await conn.fetchrow(
        f"""UPDATE reservations SET status = $2, closed_at = $3, order_id = $4
            WHERE quote_id = $1 AND status = 'held' AND expires_at > $3
            RETURNING {RESERVATION_COLUMNS}""",
        quote_id,
        status,
        now,
        order_id,
    )
    if row is not None:
        await conn.execute("DELETE FROM reservation_holds WHERE quote_id = $1", quote_id)
    return row


async def discard(conn: Connection, *, quote_id: UUID) -> None:
    """Forget a reservation whose quote was never answered (its holds go with it)."""
    await conn.execute("DELETE FROM reservations WHERE quote_id = $1 AND status = 'held'", quote_id)


async def get_reservation(conn: Connection, *, quote_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {RESERVATION_COLUMNS} FROM reservations WHERE quote_id = $1", quote_id)


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
               RETURNING r.quote_id""",
            now,
            limit,
        )
        if expired:
            await conn.execute(
                "DELETE FROM reservation_holds WHERE quote_id = any($1::uuid[])", [row["quote_id"] for row in expired]
            )
    return len(expired)

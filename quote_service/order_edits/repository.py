"""SQL for order edits: their previews and commits, the rows an edit retires, and the quote-log row an order's
quote was asked with (its ledger entries: orders/ledger_repository.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection
from quote_service.db.writes import insert_row
from quote_service.orders.repository import Placement

EDIT_COLUMNS = (
    "id, order_id, revision, refunds, request, priced, preview, difference_due, principal_id, created_at, "
    "expires_at, committed_at, committed_revision, request_hash, refund_id"
)
_RETIRED = ("order_lines", "order_commissions", "order_promotions", "order_shipments")
_QUOTE_LOG_REACH = timedelta(days=1)
"""How far from its order's time its quote's log row is looked for (a quote is valid for minutes): the
quote log is partitioned by day, and the bound keeps the look to a day or two of partitions."""


async def insert_edit(conn: Connection, *, fields: dict[str, Any]) -> asyncpg.Record:
    return await insert_row(conn, "order_edits", fields, EDIT_COLUMNS)


async def get_edit(conn: Connection, *, edit_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {EDIT_COLUMNS} FROM order_edits WHERE id = $1", edit_id)


async def get_edit_by_key(conn: Connection, *, principal_id: UUID, idempotency_key: str) -> asyncpg.Record | None:
    """The edit a commit with this key committed (None: none did)."""
    return await conn.fetchrow(
        f"SELECT {EDIT_COLUMNS} FROM order_edits WHERE commit_principal = $1 AND idempotency_key = $2",
        principal_id,
        idempotency_key,
    )


async def live_promotions(conn: Connection, *, order_id: UUID) -> list[UUID]:
    """The promotions the order's revision applies, in its order."""
    rows = await conn.fetch(
        "SELECT promotion_id FROM order_promotions WHERE order_id = $1 AND retired_by IS NULL ORDER BY position",
        order_id,
    )
    return [row["promotion_id"] for row in rows]


async def refund_count(conn: Connection, *, order_id: UUID) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM refunds WHERE order_id = $1", order_id)
    return count


async def placement(conn: Connection, *, order_id: UUID, edit_id: UUID) -> Placement:
    """The next positions of the order's lines, commission details, promotions and shipments."""
    row = await conn.fetchrow(
        """SELECT (SELECT COALESCE(max(position) + 1, 0) FROM order_lines WHERE order_id = $1) AS line,
                  (SELECT COALESCE(max(position) + 1, 0) FROM order_commissions WHERE order_id = $1) AS commission,
                  (SELECT COALESCE(max(position) + 1, 0) FROM order_promotions WHERE order_id = $1) AS promotion,
                  (SELECT COALESCE(max(position) + 1, 0) FROM order_shipments WHERE order_id = $1) AS shipment""",
        order_id,
    )
    assert row is not None
    return Placement(edit_id, row["line"], row["commission"], row["promotion"], row["shipment"])


async def retire(conn: Connection, *, order_id: UUID, edit_id: UUID) -> None:
    """Mark every live line, commission detail, promotion and shipment of the order replaced by the edit."""
    for table in _RETIRED:
        await conn.execute(
            f"UPDATE {table} SET retired_by = $2 WHERE order_id = $1 AND retired_by IS NULL",
            order_id,
            edit_id,
        )


async def commit_order(conn: Connection, *, order_id: UUID, fields: dict[str, Any]) -> None:
    """The order's row at its new revision (`fields`: its totals and terms)."""
    names = list(fields)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    await conn.execute(
        f"UPDATE orders SET revision = revision + 1, {sets} WHERE id = $1",
        order_id,
        *fields.values(),
    )


async def mark_committed(
    conn: Connection,
    *,
    edit_id: UUID,
    revision: int,
    at: datetime,
    principal_id: UUID,
    key: str,
    fingerprint: bytes,
    refund_id: UUID | None,
) -> None:
    """Raises UniqueViolationError when the principal's key already committed another edit."""
    await conn.execute(
        """UPDATE order_edits SET committed_at = $2, committed_revision = $3, commit_principal = $4,
               idempotency_key = $5, request_hash = $6, refund_id = $7
           WHERE id = $1""",
        edit_id,
        at,
        revision,
        principal_id,
        key,
        fingerprint,
        refund_id,
    )


async def update_coupon_amounts(conn: Connection, *, order_id: UUID, amounts: dict[str, Decimal]) -> None:
    """Each applied coupon's amount as the order's revision now applies it (0: the edit lost it; its use
    stays the order's)."""
    codes, values = list(amounts), list(amounts.values())
    for table, column in (("coupon_redemptions", "coupon_code"), ("coupon_codes", "code")):
        await conn.execute(
            f"""UPDATE {table} t SET amount = u.amount FROM unnest($2::text[], $3::numeric[]) AS u (code, amount)
                WHERE t.order_id = $1 AND t.{column} = u.code""",
            order_id,
            codes,
            values,
        )


async def promotion_uses(conn: Connection, *, order_id: UUID) -> list[asyncpg.Record]:
    """The order's promotion redemptions: what each took and what refunds gave back of it."""
    return await conn.fetch(
        "SELECT promotion_id, amount, returned FROM promotion_redemptions WHERE order_id = $1", order_id
    )


async def move_promotion_uses(
    conn: Connection, *, order_id: UUID, customer_id: str, moves: Sequence[tuple[UUID, str, Decimal]]
) -> None:
    """Each (promotion, kind, delta): the order's redemption (one made when it has none) and the promotion's
    budget_used move by delta (under the promotions' row locks, taken by the caller in id order)."""
    await conn.execute(
        """UPDATE promotions p SET budget_used = greatest(budget_used + m.delta, 0)
           FROM unnest($1::uuid[], $2::numeric[]) AS m (id, delta) WHERE p.id = m.id""",
        [m[0] for m in moves],
        [m[2] for m in moves],
    )
    await conn.executemany(
        """INSERT INTO promotion_redemptions (order_id, promotion_id, position, customer_id, kind, amount)
           VALUES ($1, $2, (SELECT COALESCE(max(position) + 1, 0) FROM promotion_redemptions WHERE order_id = $1),
                   $3, $4, greatest($5, 0))
           ON CONFLICT (order_id, promotion_id) DO UPDATE SET amount = promotion_redemptions.amount + $5""",
        [(order_id, pid, customer_id, kind, delta) for pid, kind, delta in moves],
    )


async def logged_request(conn: Connection, *, quote_id: UUID, placed_at: datetime) -> asyncpg.Record | None:
    """The quote-log row of the order's quote: what `quotes.quote_log.request_of_log` reads (None: not
    logged, or dropped by QUOTE_LOG_RETENTION_DAYS)."""
    return await conn.fetchrow(
        """SELECT request::text AS request, customer_id, delivery_city, delivery_country, lines FROM quote_log
           WHERE quote_id = $1 AND created_at >= $2 AND created_at <= $3 AND request IS NOT NULL""",
        quote_id,
        placed_at - _QUOTE_LOG_REACH,
        placed_at + _QUOTE_LOG_REACH,
    )

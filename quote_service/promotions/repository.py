"""SQL for promotions and the uses orders make of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.keyset import fetch_keyset
from quote_service.db.pool import Connection
from quote_service.db.rows import row_as
from quote_service.db.writes import deactivate_sql, insert_row, picked, update_row
from quote_service.pricing.promotions import CONFIG_TYPES, Conditions, Promotion

PROMOTION_COLUMNS = (
    "id, name, kind, conditions, config, priority, combinable, combines_with_coupons, starts_at, ends_at, "
    "usage_limit, times_used, is_active, funded_by, created_by, updated_by, created_at, updated_at, "
    "promotion_group, budget_amount, budget_currency, budget_used, per_customer_limit, seller_id, on_reduced_lines"
)
_WRITABLE = (
    "name",
    "kind",
    "conditions",
    "config",
    "priority",
    "combinable",
    "combines_with_coupons",
    "starts_at",
    "ends_at",
    "usage_limit",
    "is_active",
    "funded_by",
    "promotion_group",
    "budget_amount",
    "budget_currency",
    "per_customer_limit",
    "on_reduced_lines",
)


def model_from_row(row: asyncpg.Record) -> Promotion:
    """The promotion as the quote engine reads it."""
    return row_as(
        Promotion,
        row,
        conditions=msgspec.convert(row["conditions"], Conditions),
        config=msgspec.convert(row["config"], CONFIG_TYPES[row["kind"]]),
        group=row["promotion_group"],
        budget_remaining=None if row["budget_amount"] is None else row["budget_amount"] - row["budget_used"],
    )


async def insert_promotion(
    conn: Connection, *, fields: dict[str, Any], actor: str, seller_id: str | None = None
) -> asyncpg.Record:
    """`seller_id`: the seller whose own promotion it is (docs/sellers.md); None: the platform's."""
    values = {**picked(fields, _WRITABLE), "seller_id": seller_id}
    return await insert_row(conn, "promotions", values, PROMOTION_COLUMNS, actor=actor)


async def get_promotion(conn: Connection, *, promotion_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = $1", promotion_id)


async def update_promotion(
    conn: Connection, *, promotion_id: UUID, fields: dict[str, Any], actor: str
) -> asyncpg.Record | None:
    """Replace every writable field; None when no promotion has this id."""
    values = picked(fields, _WRITABLE)
    return await update_row(
        conn, "promotions", "id", promotion_id, values, PROMOTION_COLUMNS, actor=actor, now="clock_timestamp()"
    )


async def deactivate_promotion(conn: Connection, *, promotion_id: UUID, actor: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        deactivate_sql("promotions", "id", PROMOTION_COLUMNS, now="clock_timestamp()"), promotion_id, actor
    )


async def list_promotions(
    conn: Connection,
    *,
    kind: str | None,
    is_active: bool | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
    seller_id: str | None = None,
) -> list[asyncpg.Record]:
    """Promotions oldest first, after the (created_at, id) `after`; `seller_id`: that seller's own only."""
    where = [("kind = {}", kind), ("is_active = {}", is_active), ("seller_id = {}", seller_id)]
    return await fetch_keyset(conn, f"SELECT {PROMOTION_COLUMNS} FROM promotions", where, after, limit)


async def load_active(conn: Connection) -> list[Promotion]:
    """Promotions a quote may apply: active and not ended (scheduled ones too: they start by the clock)."""
    rows = await conn.fetch(
        f"""SELECT {PROMOTION_COLUMNS} FROM promotions
            WHERE is_active AND (ends_at IS NULL OR ends_at > now())
            ORDER BY id"""
    )
    return [model_from_row(row) for row in rows]


# --- orders ----------------------------------------------------------------------------------------


async def lock_promotions(conn: Connection, *, promotion_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """Lock the promotions' rows in id order; times_used read here is the committed latest."""
    return await conn.fetch(
        """SELECT id, name, usage_limit, times_used, budget_amount, budget_currency, budget_used, per_customer_limit
           FROM promotions WHERE id = any($1::uuid[]) ORDER BY id FOR UPDATE""",
        promotion_ids,
    )


async def count_promotion_use(
    conn: Connection, *, order_id: UUID, customer_id: str, used: Sequence[tuple[UUID, str, Decimal]]
) -> None:
    """One use of each (promotion id, kind, amount), in the order the quote applied them; each
    amount taken from its budget."""
    await conn.execute(
        """UPDATE promotions p SET times_used = times_used + 1, budget_used = budget_used + u.amount
           FROM unnest($1::uuid[], $2::numeric[]) AS u (id, amount) WHERE p.id = u.id""",
        [u[0] for u in used],
        [u[2] for u in used],
    )
    await conn.executemany(
        """INSERT INTO promotion_redemptions (order_id, promotion_id, position, customer_id, kind, amount)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(order_id, pid, position, customer_id, kind, amount) for position, (pid, kind, amount) in enumerate(used)],
    )


async def customer_uses(conn: Connection, *, customer_id: str, promotion_ids: Sequence[UUID]) -> dict[UUID, int]:
    """Orders of this customer that use each promotion (read under the promotions' row locks)."""
    rows = await conn.fetch(
        """SELECT promotion_id, count(*) AS uses FROM promotion_redemptions
           WHERE promotion_id = any($1::uuid[]) AND customer_id = $2 GROUP BY promotion_id""",
        promotion_ids,
        customer_id,
    )
    return {row["promotion_id"]: row["uses"] for row in rows}


async def release_order_uses(conn: Connection, *, order_id: UUID) -> int:
    """Give back the promotion uses of an order (for its cancel, in the cancel's transaction), and to
    each budget the discount no refund gave back yet; how many."""
    released = await conn.fetch(
        "DELETE FROM promotion_redemptions WHERE order_id = $1 RETURNING promotion_id, amount - returned AS rest",
        order_id,
    )
    if released:
        ids = sorted({row["promotion_id"] for row in released})
        await lock_promotions(conn, promotion_ids=ids)  # id order, as orders lock them: no deadlock
        await conn.execute(
            """UPDATE promotions p SET times_used = greatest(times_used - 1, 0),
                   budget_used = greatest(budget_used - r.rest, 0)
               FROM unnest($1::uuid[], $2::numeric[]) AS r (id, rest) WHERE p.id = r.id""",
            [row["promotion_id"] for row in released],
            [row["rest"] for row in released],
        )
    return len(released)


async def give_back_refunded(conn: Connection, *, order_id: UUID, cent: Decimal) -> None:
    """After a refund's lines are written: give each promotion's budget the part of the order's
    discount from it that the refunded units carried (in proportion to the units of each line
    refunded so far, rounded once, less what earlier refunds gave back: every refund of the last
    units gives back exactly the rest)."""
    redemptions = await conn.fetch(
        """SELECT promotion_id, amount, returned FROM promotion_redemptions
           WHERE order_id = $1 AND kind <> 'FREE_DELIVERY' ORDER BY promotion_id""",
        order_id,
    )
    if not redemptions:
        return
    shares = await conn.fetch(
        """SELECT d.source_id, d.amount, l.quantity,
                  coalesce((SELECT sum(r.quantity) FROM refund_lines r
                            WHERE r.order_id = d.order_id AND r.position = d.line_position), 0) AS refunded
           FROM order_line_discounts d JOIN order_lines l ON l.order_id = d.order_id AND l.position = d.line_position
           WHERE d.order_id = $1 AND d.source = 'promotion'""",
        order_id,
    )
    back: dict[UUID, Decimal] = {}
    for row in redemptions:
        carried = sum(
            (s["amount"] * s["refunded"] / s["quantity"] for s in shares if s["source_id"] == str(row["promotion_id"])),
            Decimal(0),
        ).quantize(cent, ROUND_HALF_UP)
        if carried > row["returned"]:
            back[row["promotion_id"]] = carried
    if not back:
        return
    given = {row["promotion_id"]: row["returned"] for row in redemptions}
    await lock_promotions(conn, promotion_ids=sorted(back))
    await conn.execute(
        """UPDATE promotions p SET budget_used = greatest(budget_used - b.delta, 0)
           FROM unnest($1::uuid[], $2::numeric[]) AS b (id, delta) WHERE p.id = b.id""",
        list(back),
        [carried - given[pid] for pid, carried in back.items()],
    )
    await conn.execute(
        """UPDATE promotion_redemptions r SET returned = b.returned
           FROM unnest($2::uuid[], $3::numeric[]) AS b (id, returned)
           WHERE r.order_id = $1 AND r.promotion_id = b.id""",
        order_id,
        list(back),
        list(back.values()),
    )

"""SQL for promotions and the uses orders make of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.pool import Connection
from quote_service.pricing.promotions import CONFIG_TYPES, Conditions, Promotion

PROMOTION_COLUMNS = (
    "id, name, kind, conditions, config, priority, combinable, combines_with_coupons, starts_at, ends_at, "
    "usage_limit, times_used, is_active, funded_by, created_by, updated_by, created_at, updated_at"
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
)


def model_from_row(row: asyncpg.Record) -> Promotion:
    """The promotion as the quote engine reads it."""
    return Promotion(
        id=row["id"],
        name=row["name"],
        conditions=msgspec.convert(row["conditions"], Conditions),
        config=msgspec.convert(row["config"], CONFIG_TYPES[row["kind"]]),  # type: ignore[arg-type]
        priority=row["priority"],
        combinable=row["combinable"],
        combines_with_coupons=row["combines_with_coupons"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        usage_limit=row["usage_limit"],
        times_used=row["times_used"],
        is_active=row["is_active"],
        funded_by=row["funded_by"],
    )


async def insert_promotion(conn: Connection, *, fields: dict[str, Any], actor: str) -> asyncpg.Record:
    columns = [*_WRITABLE, "created_by", "updated_by"]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    row = await conn.fetchrow(
        f"INSERT INTO promotions ({', '.join(columns)}) VALUES ({placeholders}) RETURNING {PROMOTION_COLUMNS}",
        *(fields[c] for c in _WRITABLE),
        actor,
        actor,
    )
    assert row is not None
    return row


async def get_promotion(conn: Connection, *, promotion_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = $1", promotion_id)


async def update_promotion(
    conn: Connection, *, promotion_id: UUID, fields: dict[str, Any], actor: str
) -> asyncpg.Record | None:
    """Replace every writable field; None when no promotion has this id."""
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(_WRITABLE, start=3))
    return await conn.fetchrow(
        f"""UPDATE promotions SET {assignments}, updated_by = $2, updated_at = clock_timestamp()
            WHERE id = $1 RETURNING {PROMOTION_COLUMNS}""",
        promotion_id,
        actor,
        *(fields[c] for c in _WRITABLE),
    )


async def deactivate_promotion(conn: Connection, *, promotion_id: UUID, actor: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE promotions SET is_active = false, updated_by = $2, updated_at = clock_timestamp()
            WHERE id = $1 RETURNING {PROMOTION_COLUMNS}""",
        promotion_id,
        actor,
    )


async def list_promotions(
    conn: Connection, *, kind: str | None, is_active: bool | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Promotions oldest first, after the (created_at, id) `after`."""
    return await conn.fetch(
        f"""SELECT {PROMOTION_COLUMNS} FROM promotions
            WHERE ($1::text IS NULL OR kind = $1)
              AND ($2::boolean IS NULL OR is_active = $2)
              AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::uuid))
            ORDER BY created_at, id
            LIMIT $5""",
        kind,
        is_active,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )


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
        """SELECT id, name, usage_limit, times_used FROM promotions
           WHERE id = any($1::uuid[]) ORDER BY id FOR UPDATE""",
        promotion_ids,
    )


async def count_promotion_use(
    conn: Connection, *, order_id: UUID, customer_id: str, used: Sequence[tuple[UUID, str, Decimal]]
) -> None:
    """One use of each (promotion id, kind, amount), in the order the quote applied them."""
    await conn.execute(
        "UPDATE promotions SET times_used = times_used + 1 WHERE id = any($1::uuid[])", [u[0] for u in used]
    )
    await conn.executemany(
        """INSERT INTO promotion_redemptions (order_id, promotion_id, position, customer_id, kind, amount)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(order_id, pid, position, customer_id, kind, amount) for position, (pid, kind, amount) in enumerate(used)],
    )


async def release_order_uses(conn: Connection, *, order_id: UUID) -> int:
    """Give back the promotion uses of an order (for its cancel, in the cancel's transaction); how many."""
    released = await conn.fetch(
        "DELETE FROM promotion_redemptions WHERE order_id = $1 RETURNING promotion_id", order_id
    )
    if released:
        ids = sorted({row["promotion_id"] for row in released})
        await lock_promotions(conn, promotion_ids=ids)  # id order, as orders lock them: no deadlock
        await conn.execute(
            "UPDATE promotions SET times_used = greatest(times_used - 1, 0) WHERE id = any($1::uuid[])",
            [row["promotion_id"] for row in released],
        )
    return len(released)

"""SQL for campaigns (sales are counted by the order_lines trigger of migrations/0014)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.keyset import Sort, fetch_keyset
from quote_service.db.pool import Connection
from quote_service.db.writes import insert_sql

ONE_ACTIVE_PER_PRODUCT = "campaigns_one_active_per_product"
NAME_KEY = "campaigns_name_key"
_COLUMNS = (
    "c.id, c.name, c.product_id, c.status, c.duration_hours, c.price_manipulation_limit, c.target_sales, "
    "c.total_sales, c.turnover, c.base_price, c.hours_elapsed, c.started_at, c.ends_at, c.ended_at, c.created_at, "
    "p.current_price, p.min_price, p.currency"
)


async def insert_campaign(conn: Connection, *, fields: dict[str, Any]) -> None:
    """Insert a campaign; raises asyncpg.UniqueViolationError on a taken name or an active overlap."""
    await conn.execute(insert_sql("campaigns", fields), *fields.values())


async def get_campaign(conn: Connection, *, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM campaigns c JOIN products p ON p.id = c.product_id WHERE c.name = $1", name
    )


def _by(campaign_id: UUID | None, name: str | None) -> tuple[str, UUID | str]:
    """The condition and value that find one campaign by id or by name."""
    if campaign_id is not None:
        return "c.id = $1", campaign_id
    assert name is not None
    return "c.name = $1", name


async def product_of(conn: Connection, *, campaign_id: UUID | None = None, name: str | None = None) -> UUID | None:
    """The campaign's product (read without a lock: it never changes)."""
    condition, value = _by(campaign_id, name)
    product: UUID | None = await conn.fetchval(f"SELECT product_id FROM campaigns c WHERE {condition}", value)
    return product


async def lock_product(conn: Connection, *, product_id: UUID) -> asyncpg.Record | None:
    """Lock the product first, as orders do: every writer takes the product's lock before the campaign's."""
    return await conn.fetchrow(
        "SELECT id, current_price, min_price, currency, is_active FROM products WHERE id = $1 FOR UPDATE", product_id
    )


async def lock_campaign(
    conn: Connection, *, campaign_id: UUID | None = None, name: str | None = None
) -> asyncpg.Record | None:
    condition, value = _by(campaign_id, name)
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM campaigns c JOIN products p ON p.id = c.product_id WHERE {condition} FOR UPDATE OF c",
        value,
    )


async def record_hour(conn: Connection, *, campaign_id: UUID, hour: int, ended_at: datetime | None) -> None:
    await conn.execute(
        """UPDATE campaigns SET hours_elapsed = $2, ended_at = $3,
                  status = CASE WHEN $3::timestamptz IS NULL THEN status ELSE 'ended' END
            WHERE id = $1""",
        campaign_id,
        hour,
        ended_at,
    )


async def end_campaign(conn: Connection, *, campaign_id: UUID, ended_at: datetime) -> None:
    await conn.execute("UPDATE campaigns SET status = 'ended', ended_at = $2 WHERE id = $1", campaign_id, ended_at)


async def due(conn: Connection, *, now: datetime) -> list[UUID]:
    """Active campaigns with at least one elapsed hour not applied yet, oldest first."""
    rows = await conn.fetch(
        """SELECT id FROM campaigns
            WHERE status = 'active' AND started_at + make_interval(hours => hours_elapsed + 1) <= $1
            ORDER BY started_at, id""",
        now,
    )
    return [row["id"] for row in rows]


async def list_campaigns(
    conn: Connection, *, status: str | None, before: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    where = [("c.status = {}", status)]
    return await fetch_keyset(
        conn,
        f"SELECT {_COLUMNS} FROM campaigns c JOIN products p ON p.id = c.product_id",
        where,
        before,
        limit,
        Sort("c.created_at, c.id", "timestamptz, uuid", newest_first=True),
    )

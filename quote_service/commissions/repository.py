"""SQL for commission rates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.keyset import fetch_keyset
from quote_service.db.pool import Connection
from quote_service.db.rows import row_as
from quote_service.db.writes import insert_row, picked, update_row
from quote_service.pricing.commission import CommissionRate, Tier
from quote_service.pricing.money import plain

RATE_COLUMNS = (
    "id, component, category_id, seller_id, logistics_provider, region, commission_type, rate, tiers, "
    "min_amount, max_amount, currency, effective_from, effective_to, is_active, priority, base, per, "
    "created_by, updated_by, created_at, updated_at"
)
WRITABLE = (
    "component",
    "category_id",
    "seller_id",
    "logistics_provider",
    "region",
    "commission_type",
    "rate",
    "tiers",
    "min_amount",
    "max_amount",
    "currency",
    "effective_from",
    "effective_to",
    "is_active",
    "priority",
    "base",
    "per",
)


async def insert_rate(conn: Connection, *, fields: dict[str, Any], actor: str) -> asyncpg.Record:
    return await insert_row(conn, "commission_rates", picked(fields, WRITABLE), RATE_COLUMNS, actor=actor)


async def update_rate(conn: Connection, *, rate_id: UUID, fields: dict[str, Any], actor: str) -> asyncpg.Record | None:
    """Replace every writable field; None when the rate does not exist."""
    return await update_row(
        conn, "commission_rates", "id", rate_id, picked(fields, WRITABLE), RATE_COLUMNS, actor=actor
    )


async def deactivate_rate(conn: Connection, *, rate_id: UUID, actor: str) -> asyncpg.Record | None:
    """Set is_active false (idempotent); None when the rate does not exist."""
    return await conn.fetchrow(
        f"""UPDATE commission_rates
            SET is_active = false,
                updated_by = CASE WHEN is_active THEN $2 ELSE updated_by END,
                updated_at = CASE WHEN is_active THEN now() ELSE updated_at END
            WHERE id = $1 RETURNING {RATE_COLUMNS}""",
        rate_id,
        actor,
    )


async def get_rate(conn: Connection, *, rate_id: UUID, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {RATE_COLUMNS} FROM commission_rates WHERE id = $1{lock}", rate_id)


async def lock_existing(conn: Connection, *, rate_ids: Sequence[UUID]) -> set[UUID]:
    """Lock the rates among `rate_ids` that exist (in id order, so concurrent bulks cannot deadlock)."""
    rows = await conn.fetch(
        "SELECT id FROM commission_rates WHERE id = any($1::uuid[]) ORDER BY id FOR UPDATE", list(rate_ids)
    )
    return {row["id"] for row in rows}


async def list_rates(
    conn: Connection,
    *,
    component: str | None = None,
    category_id: str | None,
    seller_id: str | None,
    logistics_provider: str | None,
    region: str | None,
    is_active: bool | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    where = [
        ("category_id = {}", category_id),
        ("seller_id = {}", seller_id),
        ("lower(logistics_provider) = lower({}::text)", logistics_provider),
        ("lower(btrim(region)) = lower(btrim({}::text))", region),
        ("is_active = {}", is_active),
        ("component = {}", component),
    ]
    return await fetch_keyset(conn, f"SELECT {RATE_COLUMNS} FROM commission_rates", where, after, limit)


def tiers_from_json(raw: list[dict[str, Any]] | None) -> tuple[Tier, ...]:
    """Tiers as stored in jsonb (amounts as strings) → model tiers."""
    if raw is None:
        return ()
    return tuple(Tier(up_to=None if t["up_to"] is None else Decimal(t["up_to"]), rate=Decimal(t["rate"])) for t in raw)


def model_from_row(row: asyncpg.Record) -> CommissionRate:
    """A stored rate as the pure pricing code reads it."""
    return row_as(
        CommissionRate,
        row,
        rate=None if row["rate"] is None else plain(row["rate"]),
        tiers=tiers_from_json(row["tiers"]),
    )


async def load_active(conn: Connection) -> list[CommissionRate]:
    """Every rate the snapshot needs: active and not yet expired (future-dated ones included)."""
    rows = await conn.fetch(
        f"""SELECT {RATE_COLUMNS} FROM commission_rates
            WHERE is_active AND (effective_to IS NULL OR effective_to > now())
            ORDER BY created_at, id"""
    )
    return [model_from_row(row) for row in rows]

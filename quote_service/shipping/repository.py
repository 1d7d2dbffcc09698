"""SQL for shipping profiles: their columns (db/config_rows.py writes the rows), the list (by
seller), and what the snapshot loads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.config_rows import ConfigTable
from quote_service.db.keyset import fetch_keyset
from quote_service.db.pool import Connection
from quote_service.pricing.shipping import ShippingOption, ShippingProfile, fold_city

COLUMNS = (
    "id, seller_id, countries, regions, currency, options, is_active, created_by, updated_by, created_at, updated_at"
)
WRITABLE = ("seller_id", "countries", "regions", "currency", "options", "is_active")
TABLE = ConfigTable("shipping_profiles", "shipping profile", COLUMNS, WRITABLE)
_DECIMALS = ("base_fee", "per_kg", "per_km", "max_fee", "free_above")


async def list_profiles(
    conn: Connection,
    *,
    seller_id: str | None,
    platform: bool,
    is_active: bool | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Profiles oldest first after the (created_at, id) `after`: one seller's (`seller_id`), the
    platform's defaults (`platform`), or every one."""
    where = [("seller_id = {}", seller_id), ("seller_id IS NULL", platform or None), ("is_active = {}", is_active)]
    return await fetch_keyset(conn, f"SELECT {COLUMNS} FROM shipping_profiles", where, after, limit)


def model_from_row(row: asyncpg.Record) -> ShippingProfile:
    """The profile as the quote engine reads it (places folded, amounts exact)."""
    countries, regions = row["countries"], row["regions"]
    return ShippingProfile(
        id=row["id"],
        seller_id=row["seller_id"],
        countries=None if countries is None else frozenset(c.upper() for c in countries),
        regions=None if regions is None else frozenset(fold_city(r) for r in regions),
        currency=row["currency"].strip().upper(),
        options=tuple(msgspec.convert(_exact(option), ShippingOption) for option in row["options"]),
        is_active=row["is_active"],
        created_at=row["created_at"],
    )


def _exact(option: dict[str, Any]) -> dict[str, Any]:
    """A stored option with its amounts (exact decimal text) as Decimals."""
    return {k: Decimal(v) if k in _DECIMALS and v is not None else v for k, v in option.items()}


async def load_active(conn: Connection) -> list[ShippingProfile]:
    """Every active profile, for the configuration snapshot."""
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM shipping_profiles WHERE is_active ORDER BY id")
    return [model_from_row(row) for row in rows]

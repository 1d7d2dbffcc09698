"""SQL for extensions: their columns (db/config_rows.py writes the rows), the insert that stores the
secret, the list, and the active ones the configuration snapshot reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.config_rows import ConfigTable
from quote_service.db.keyset import fetch_keyset
from quote_service.db.pool import Connection
from quote_service.pricing.extensions import Extension

COLUMNS = (
    "id, kind, url, timeout_ms, countries, seller_ids, on_failure, is_active, created_by, updated_by, created_at, "
    "updated_at"
)
WRITABLE = ("kind", "url", "timeout_ms", "countries", "seller_ids", "on_failure", "is_active")
TABLE = ConfigTable("extensions", "extension", COLUMNS, WRITABLE)


async def insert(conn: Connection, *, fields: dict[str, Any], secret: str, actor: str) -> asyncpg.Record:
    """A new extension with its signing secret."""
    row = await conn.fetchrow(
        f"""INSERT INTO extensions ({", ".join(WRITABLE)}, secret, created_by, updated_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {COLUMNS}""",
        *(fields[column] for column in WRITABLE),
        secret,
        actor,
    )
    assert row is not None
    return row


async def list_extensions(
    conn: Connection, *, kind: str | None, is_active: bool | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Extensions oldest first after the (created_at, id) `after`."""
    where = [("kind = {}", kind), ("is_active = {}", is_active)]
    return await fetch_keyset(conn, f"SELECT {COLUMNS} FROM extensions", where, after, limit)


async def load_active(conn: Connection) -> list[Extension]:
    """The active extensions, oldest first, as the quote path reads them (with their secrets)."""
    rows = await conn.fetch(
        """SELECT id, kind, url, timeout_ms, countries, seller_ids, on_failure, secret FROM extensions
           WHERE is_active ORDER BY created_at, id"""
    )
    return [
        Extension(
            id=row["id"],
            kind=row["kind"],
            url=row["url"],
            timeout_ms=row["timeout_ms"],
            countries=None if row["countries"] is None else frozenset(row["countries"]),
            seller_ids=None if row["seller_ids"] is None else frozenset(row["seller_ids"]),
            on_failure=row["on_failure"],
            secret=row["secret"],
        )
        for row in rows
    ]

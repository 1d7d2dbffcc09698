"""SQL for FX rates (migrations/0950_fx_rates.sql): insert, one, the history list, the rates a lookup reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection
from quote_service.pricing.fx_rates import StoredRate

_SHOWN = """
SELECT id, base, quote, rate, source, valid_from, created_by, created_at,
       lead(valid_from) OVER (PARTITION BY base, quote ORDER BY valid_from, created_at, id) AS valid_until
FROM fx_rates
"""


async def insert(
    conn: Connection, *, rows: Sequence[tuple[str, str, str, str, datetime | None]], actor: str
) -> list[UUID]:
    """Store rates, (base, quote, rate as exact text, source, valid_from or None for now) each, in order."""
    ids: list[UUID] = []
    for base, quote, rate, source, valid_from in rows:
        ids.append(
            await conn.fetchval(
                """INSERT INTO fx_rates (base, quote, rate, source, valid_from, created_by, updated_by)
                   VALUES ($1, $2, $3, $4, COALESCE($5, clock_timestamp()), $6, $6) RETURNING id""",
                base,
                quote,
                rate,
                source,
                valid_from,
                actor,
            )
        )
    return ids


async def get(conn: Connection, *, rate_id: UUID) -> asyncpg.Record | None:
    """One stored rate as the API shows it (with its `valid_until`)."""
    return await conn.fetchrow(
        f"""SELECT * FROM ({_SHOWN} WHERE (base, quote) = (SELECT base, quote FROM fx_rates WHERE id = $1)) pair
            WHERE id = $1""",
        rate_id,
    )


async def list_rates(
    conn: Connection,
    *,
    base: str | None,
    quote: str | None,
    source: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Every stored rate, oldest first after the (created_at, id) `after`, of a base, quote or source."""
    return await conn.fetch(
        f"""SELECT * FROM ({_SHOWN}
                           WHERE ($1::text IS NULL OR base = $1) AND ($2::text IS NULL OR quote = $2)) pair
            WHERE ($3::text IS NULL OR source = $3)
              AND ($4::timestamptz IS NULL OR (created_at, id) > ($4::timestamptz, $5::uuid))
            ORDER BY created_at, id LIMIT $6""",
        base,
        quote,
        source,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )


async def in_force_since(conn: Connection, *, since: datetime) -> list[StoredRate]:
    """Every rate in force at some instant from `since` on (the one in force at `since` of each pair and
    every later one): what a lookup at `since` or later can use."""
    rows = await conn.fetch(
        """SELECT id, base, quote, rate, source, valid_from, created_at FROM (
               SELECT *, lead(valid_from) OVER (PARTITION BY base, quote ORDER BY valid_from, created_at, id)
                         AS valid_until
               FROM fx_rates) pair
           WHERE valid_until IS NULL OR valid_until > $1""",
        since,
    )
    return [stored_rate(row) for row in rows]


def stored_rate(row: asyncpg.Record) -> StoredRate:
    return StoredRate(
        id=row["id"],
        base=row["base"],
        quote=row["quote"],
        rate=Decimal(row["rate"]),
        source=row["source"],
        valid_from=row["valid_from"],
        created_at=row["created_at"],
    )


async def insert_unless_stored(
    conn: Connection, *, rows: Sequence[tuple[str, str, str, str, datetime]], actor: str
) -> int:
    """Store the rates of an import, (base, quote, rate, source, valid_from) each, but those the pair has
    already from the same instant at the same rate (a file imported again adds nothing); how many stored."""
    stored = await conn.fetch(
        """INSERT INTO fx_rates (base, quote, rate, source, valid_from, created_by, updated_by)
           SELECT r.base, r.quote, r.rate, r.source, r.valid_from, $6, $6
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
                AS r (base, quote, rate, source, valid_from)
           WHERE NOT EXISTS (SELECT 1 FROM fx_rates f
                             WHERE (f.base, f.quote, f.valid_from) = (r.base, r.quote, r.valid_from)
                               AND f.rate::numeric = r.rate::numeric)
           RETURNING id""",
        *[list(column) for column in zip(*rows, strict=True)],
        actor,
    )
    return len(stored)

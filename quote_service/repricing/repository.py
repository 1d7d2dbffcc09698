"""SQL for repricing events (written by the trigger of migrations/0013, read here)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection


async def list_events(
    conn: Connection,
    *,
    product_id: UUID | None,
    reason: str | None,
    before: tuple[datetime, int] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Events newest first (`limit + 1` rows), with each product's currency."""
    return await conn.fetch(
        """SELECT e.id, e.product_id, e.reason, e.stock_before, e.stock_after, e.old_price, e.new_price,
                  e.outcome, e.rule_id, e.rule_version, e.created_at, p.currency
             FROM repricing_events e JOIN products p ON p.id = e.product_id
            WHERE ($1::uuid IS NULL OR e.product_id = $1)
              AND ($2::text IS NULL OR e.reason = $2)
              AND ($3::timestamptz IS NULL OR (e.created_at, e.id) < ($3::timestamptz, $4::bigint))
            ORDER BY e.created_at DESC, e.id DESC
            LIMIT $5""",
        product_id,
        reason,
        before[0] if before else None,
        before[1] if before else None,
        limit + 1,
    )

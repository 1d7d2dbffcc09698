"""SQL for repricing events (written by the trigger of migrations/0013, read here)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from quote_service.db.keyset import Sort, fetch_keyset
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
    where = [("e.product_id = {}", product_id), ("e.reason = {}", reason)]
    return await fetch_keyset(
        conn,
        """SELECT e.id, e.product_id, e.reason, e.stock_before, e.stock_after, e.old_price, e.new_price,
                  e.outcome, e.rule_id, e.rule_version, e.created_at, p.currency
             FROM repricing_events e JOIN products p ON p.id = e.product_id""",
        where,
        before,
        limit,
        Sort("e.created_at, e.id", "timestamptz, bigint", newest_first=True),
    )

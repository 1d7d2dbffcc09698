"""SQL for competitor observations, the market view, decisions and the demand counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection
from quote_service.intelligence.schemas import ObservationRecord

OBSERVATION_COLUMNS = "id, product_id, competitor, price, currency, observed_at, in_stock, url, received_at"
DECISION_COLUMNS = (
    "id, product_id, old_price, recommended_price, change_percent, reasons, guardrails, confidence, inputs, status, "
    "created_by, created_at, applied_at, applied_by, "
    "(SELECT trim(currency) FROM products WHERE products.id = product_id) AS currency"
)


async def insert_observations(conn: Connection, records: Sequence[ObservationRecord]) -> list[asyncpg.Record]:
    """Store a batch; a row already stored (same product, competitor, observed_at) is skipped.
    Returns the rows this call inserted."""
    return await conn.fetch(
        f"""INSERT INTO competitor_prices (product_id, competitor, price, currency, observed_at, in_stock, url)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::numeric[], $4::text[], $5::timestamptz[],
                                 $6::boolean[], $7::text[])
            ON CONFLICT ON CONSTRAINT competitor_prices_once DO NOTHING
            RETURNING {OBSERVATION_COLUMNS}""",
        [r.product_id for r in records],
        [r.competitor for r in records],
        [r.price for r in records],
        [r.currency for r in records],
        [r.observed_at for r in records],
        [r.in_stock for r in records],
        [r.url for r in records],
    )


async def list_observations(
    conn: Connection,
    *,
    product_id: UUID | None,
    competitor: str | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest observation first; `after` is the (observed_at, id) of the previous page's last row."""
    return await conn.fetch(
        f"""SELECT {OBSERVATION_COLUMNS} FROM competitor_prices
            WHERE ($1::uuid IS NULL OR product_id = $1) AND ($2::text IS NULL OR competitor = $2)
              AND ($3::timestamptz IS NULL OR (observed_at, id) < ($3, $4::bigint))
            ORDER BY observed_at DESC, id DESC LIMIT $5""",
        product_id,
        competitor,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )


async def latest_per_competitor(
    conn: Connection, *, product_ids: Sequence[UUID], since: datetime, until: datetime
) -> list[asyncpg.Record]:
    """Each competitor's latest observation of each product in [since, until]."""
    return await conn.fetch(
        """SELECT DISTINCT ON (product_id, competitor) product_id, competitor, price, observed_at
           FROM competitor_prices
           WHERE product_id = any($1::uuid[]) AND observed_at >= $2 AND observed_at <= $3
           ORDER BY product_id, competitor, observed_at DESC""",
        list(product_ids),
        since,
        until,
    )


async def recent_histories(
    conn: Connection, *, pairs: Sequence[tuple[UUID, str]], limit: int
) -> dict[tuple[UUID, str], list[tuple[datetime, Decimal]]]:
    """The last `limit` observations (time, price) of each (product, competitor), oldest first:
    one query for a whole batch (the anomaly rule's history)."""
    rows = await conn.fetch(
        """SELECT pc.product_id, pc.competitor, h.observed_at, h.price
           FROM unnest($1::uuid[], $2::text[]) AS pc (product_id, competitor)
           CROSS JOIN LATERAL (SELECT observed_at, price FROM competitor_prices c
                               WHERE c.product_id = pc.product_id AND c.competitor = pc.competitor
                               ORDER BY observed_at DESC LIMIT $3) h
           ORDER BY pc.product_id, pc.competitor, h.observed_at""",
        [p for p, _ in pairs],
        [c for _, c in pairs],
        limit,
    )
    histories: dict[tuple[UUID, str], list[tuple[datetime, Decimal]]] = {}
    for row in rows:
        histories.setdefault((row["product_id"], row["competitor"]), []).append((row["observed_at"], row["price"]))
    return histories


async def products_for_market(conn: Connection, product_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, currency, current_price, min_price, cost_price, stock, is_active FROM products
           WHERE id = any($1::uuid[])""",
        list(product_ids),
    )


async def active_product_ids(conn: Connection) -> list[UUID]:
    return [row["id"] for row in await conn.fetch("SELECT id FROM products WHERE is_active ORDER BY id")]


async def demand(conn: Connection, *, product_id: UUID, since: datetime) -> tuple[int, int]:
    """(quotes containing the product, orders of it) since `since`, from the hourly counts."""
    row = await conn.fetchrow(
        """SELECT coalesce(sum(quotes), 0)::int AS quotes, coalesce(sum(orders), 0)::int AS orders
           FROM product_demand_hourly WHERE product_id = $1 AND hour >= date_trunc('hour', $2::timestamptz)""",
        product_id,
        since,
    )
    assert row is not None
    return row["quotes"], row["orders"]


async def daily_price_units(conn: Connection, *, product_id: UUID, since: datetime) -> list[tuple[float, float]]:
    """Per day: (average unit price paid, units ordered) of the product — the elasticity's data."""
    rows = await conn.fetch(
        """SELECT (sum(l.line_subtotal) / sum(l.quantity))::float8 AS price, sum(l.quantity)::float8 AS units
           FROM order_lines l JOIN orders o ON o.id = l.order_id
           WHERE l.product_id = $1::text AND o.created_at >= $2
           GROUP BY date_trunc('day', o.created_at) HAVING sum(l.quantity) > 0""",
        str(product_id),
        since,
    )
    return [(row["price"], row["units"]) for row in rows]


async def insert_decision(conn: Connection, values: dict[str, Any]) -> asyncpg.Record:
    names = list(values)
    row = await conn.fetchrow(
        f"""INSERT INTO pricing_decisions ({", ".join(names)})
            VALUES ({", ".join(f"${i}" for i in range(1, len(names) + 1))}) RETURNING {DECISION_COLUMNS}""",
        *values.values(),
    )
    assert row is not None
    return row


async def get_decision(conn: Connection, decision_id: UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {DECISION_COLUMNS} FROM pricing_decisions WHERE id = $1{lock}", decision_id)


async def mark_applied(conn: Connection, decision_id: UUID, actor: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""UPDATE pricing_decisions SET status = 'applied', applied_at = clock_timestamp(), applied_by = $2
            WHERE id = $1 RETURNING {DECISION_COLUMNS}""",
        decision_id,
        actor,
    )
    assert row is not None
    return row


async def mark_rejected(conn: Connection, decision_id: UUID) -> None:
    await conn.execute("UPDATE pricing_decisions SET status = 'rejected' WHERE id = $1", decision_id)


async def list_decisions(
    conn: Connection, *, product_id: UUID | None, status: str | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {DECISION_COLUMNS} FROM pricing_decisions
            WHERE ($1::uuid IS NULL OR product_id = $1) AND ($2::text IS NULL OR status = $2)
              AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
            ORDER BY created_at DESC, id DESC LIMIT $5""",
        product_id,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )

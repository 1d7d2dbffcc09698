"""SQL for competitor observations, the market view, decisions and the demand counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.keyset import NEWEST_FIRST, Sort, fetch_keyset
from quote_service.db.pool import Connection
from quote_service.intelligence.schemas import ObservationRecord

OBSERVATION_COLUMNS = (
    "c.id, c.product_id, c.competitor, c.price, c.currency, c.observed_at, c.in_stock, c.url, c.received_at"
)
# What every read of `competitor_prices c JOIN products p` keeps: rows stored before the consumer
# re-validated its entries (migration 0030) may hold values the API refuses — a NaN, a price past
# the ceiling, a time before 2000 or at infinity, another currency than the product's — and no
# such row may break a view (the market, signals, decisions, the list).
SANE_OBSERVATION = (
    "c.price > 0 AND c.price < 1e15 AND c.observed_at >= '2000-01-01T00:00:00Z' AND c.observed_at < 'infinity'"
    " AND c.currency = p.currency"
)
DECISION_COLUMNS = (
    "id, product_id, old_price, recommended_price, change_percent, reasons, guardrails, confidence, inputs, status, "
    "created_by, created_at, applied_at, applied_by, "
    "(SELECT trim(currency) FROM products WHERE products.id = product_id) AS currency"
)


async def insert_observations(conn: Connection, records: Sequence[ObservationRecord]) -> list[asyncpg.Record]:
    """Store a batch; a row already stored (same product, competitor, observed_at) is skipped.
    Returns the rows this call inserted."""
    return await conn.fetch(
        """INSERT INTO competitor_prices AS c (product_id, competitor, price, currency, observed_at, in_stock, url)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::numeric[], $4::text[], $5::timestamptz[],
                                $6::boolean[], $7::text[])
           ON CONFLICT ON CONSTRAINT competitor_prices_once DO NOTHING
           RETURNING c.id""",
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
    where = [("c.product_id = {}", product_id), ("c.competitor = {}", competitor), (SANE_OBSERVATION, True)]
    return await fetch_keyset(
        conn,
        f"SELECT {OBSERVATION_COLUMNS} FROM competitor_prices c JOIN products p ON p.id = c.product_id",
        where,
        after,
        limit,
        Sort("c.observed_at, c.id", "timestamptz, bigint", newest_first=True),
    )


async def latest_per_competitor(
    conn: Connection, *, product_ids: Sequence[UUID], since: datetime, until: datetime
) -> list[asyncpg.Record]:
    """Each competitor's latest observation of each product in [since, until]."""
    return await conn.fetch(
        f"""SELECT DISTINCT ON (c.product_id, c.competitor) c.product_id, c.competitor, c.price, c.observed_at
            FROM competitor_prices c JOIN products p ON p.id = c.product_id
            WHERE c.product_id = any($1::uuid[]) AND c.observed_at >= $2 AND c.observed_at <= $3
              AND {SANE_OBSERVATION}
            ORDER BY c.product_id, c.competitor, c.observed_at DESC""",
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
        f"""SELECT pc.product_id, pc.competitor, h.observed_at, h.price
            FROM unnest($1::uuid[], $2::text[]) AS pc (product_id, competitor)
            JOIN products p ON p.id = pc.product_id
            CROSS JOIN LATERAL (SELECT c.observed_at, c.price FROM competitor_prices c
                                WHERE c.product_id = pc.product_id AND c.competitor = pc.competitor
                                  AND {SANE_OBSERVATION}
                                ORDER BY c.observed_at DESC LIMIT $3) h
            ORDER BY pc.product_id, pc.competitor, h.observed_at""",
        [p for p, _ in pairs],
        [c for _, c in pairs],
        limit,
    )
    histories: dict[tuple[UUID, str], list[tuple[datetime, Decimal]]] = {}
    for row in rows:
        histories.setdefault((row["product_id"], row["competitor"]), []).append((row["observed_at"], row["price"]))
    return histories


async def product_currencies(conn: Connection, product_ids: Sequence[UUID]) -> dict[UUID, str]:
    """The currency of each product that exists (an observation must be priced in it)."""
    rows = await conn.fetch(
        "SELECT id, trim(currency) AS currency FROM products WHERE id = any($1::uuid[])", list(set(product_ids))
    )
    return {row["id"]: row["currency"] for row in rows}


async def write_ahead(conn: Connection, observations: Sequence[bytes], *, replay_after: float) -> list[int]:
    """Store accepted observations (encoded as on the stream) in the inbox; their row ids, in order.

    The ids are drawn in the statement, each beside its position, so the order is exact."""
    rows = await conn.fetch(
        """WITH numbered AS (
               SELECT nextval('competitor_price_inbox_ids') AS id, o, n
               FROM unnest($1::bytea[]) WITH ORDINALITY AS t (o, n)
           ), written AS (
               INSERT INTO competitor_price_inbox (id, observation, replay_after)
               SELECT id, o, now() + make_interval(secs => $2::float8) FROM numbered
           )
           SELECT id FROM numbered ORDER BY n""",
        list(observations),
        replay_after,
    )
    return [row["id"] for row in rows]


async def claim_inbox(conn: Connection, *, lease_seconds: float, limit: int) -> list[asyncpg.Record]:
    """Inbox rows due for replay (accepted, not finished in time), leased for `lease_seconds`:
    another process skips them until then, and takes them over if this one dies."""
    return await conn.fetch(
        """UPDATE competitor_price_inbox SET replay_after = now() + make_interval(secs => $1::float8)
           WHERE id IN (SELECT id FROM competitor_price_inbox WHERE replay_after <= now()
                        ORDER BY replay_after LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING id, observation""",
        lease_seconds,
        limit,
    )


async def finish_inbox(conn: Connection, inbox_ids: Sequence[int]) -> None:
    """The observations are stored and their signals evaluated (or they were dead-lettered)."""
    await conn.execute("DELETE FROM competitor_price_inbox WHERE id = any($1::bigint[])", list(inbox_ids))


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
    where = [("product_id = {}", product_id), ("status = {}", status)]
    return await fetch_keyset(
        conn, f"SELECT {DECISION_COLUMNS} FROM pricing_decisions", where, after, limit, NEWEST_FIRST
    )

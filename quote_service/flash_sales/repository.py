"""SQL for flash sales, their items, the purchase ledger and the background summaries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.keyset import Sort, fetch_keyset
from quote_service.db.pool import Connection
from quote_service.db.writes import update_row
from quote_service.flash_sales.schemas import SaleItem
from quote_service.pricing import flash

SALE_COLUMNS = "id, name, status, starts_at, ends_at, activated_at, ended_at, created_by, created_at, updated_at"
ITEM_COLUMNS = (
    "i.flash_sale_id, i.product_id, i.position, i.flash_price, i.allocated_stock, i.per_user_limit, "
    "i.sold, i.returned_stock, p.currency, i.offer_id"
)
PURCHASE_COLUMNS = (
    "id, flash_sale_id, product_id, customer_id, quantity, unit_price, total, currency, status, "
    "principal_id, request_hash, order_id, created_at, offer_id"
)
BOOKED_COLUMNS = ", ".join(f"p.{name}" for name in PURCHASE_COLUMNS.split(", ")) + (
    ", o.subtotal AS booked_subtotal, o.discount_amount AS booked_discount_amount, o.tax_amount AS booked_tax_amount,"
    " o.tax_included AS booked_tax_included, o.delivery_fee AS booked_delivery_fee,"
    " o.small_basket_fee AS booked_small_basket_fee, o.total_amount AS booked_total"
)
"""A purchase with what its own order charged (NULLs for units an order of a quote bought, and for purchases
made before purchases were orders): the ledger `p` joined with `BOOKED`."""
BOOKED = "flash_purchases p LEFT JOIN orders o ON o.flash_purchase_id = p.id"
IDEMPOTENCY_CONSTRAINT = "flash_purchases_idempotency_key"
# The status the clock gives a stored row (pricing.flash.effective_status, in SQL for filters).
EFFECTIVE_STATUS = """CASE WHEN status = 'ended' OR ends_at <= $1 THEN 'ended'
                           WHEN status = 'active' OR starts_at <= $1 THEN 'active'
                           ELSE 'scheduled' END"""


async def insert_sale(
    conn: Connection, *, sale_id: UUID, name: str, starts_at: datetime, ends_at: datetime, actor: str
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO flash_sales (id, name, status, starts_at, ends_at, created_by, updated_by)
            VALUES ($1, $2, 'scheduled', $3, $4, $5, $5) RETURNING {SALE_COLUMNS}""",
        sale_id,
        name,
        starts_at,
        ends_at,
        actor,
    )
    assert row is not None
    return row


async def insert_items(conn: Connection, *, sale_id: UUID, items: Sequence[SaleItem]) -> None:
    await conn.executemany(
        """INSERT INTO flash_sale_items (flash_sale_id, product_id, position, flash_price, allocated_stock,
                                         per_user_limit, offer_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [
            (
                sale_id,
                item.product_id,
                position,
                item.flash_price,
                item.allocated_stock,
                item.per_user_limit,
                item.offer_id,
            )
            for position, item in enumerate(items)
        ],
    )


async def delete_items(conn: Connection, *, sale_id: UUID) -> None:
    await conn.execute("DELETE FROM flash_sale_items WHERE flash_sale_id = $1", sale_id)


async def get_sale(conn: Connection, *, sale_id: UUID, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {SALE_COLUMNS} FROM flash_sales WHERE id = $1{lock}", sale_id)


async def items_of(conn: Connection, *, sale_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {ITEM_COLUMNS} FROM flash_sale_items i JOIN products p ON p.id = i.product_id
            WHERE i.flash_sale_id = any($1::uuid[]) ORDER BY i.flash_sale_id, i.position""",
        sale_ids,
    )


async def update_sale(conn: Connection, *, sale_id: UUID, fields: dict[str, Any], actor: str) -> asyncpg.Record:
    row = await update_row(conn, "flash_sales", "id", sale_id, fields, SALE_COLUMNS, actor=actor)
    assert row is not None
    return row


async def delete_sale(conn: Connection, *, sale_id: UUID) -> None:
    await conn.execute("DELETE FROM flash_sales WHERE id = $1", sale_id)


async def list_sales(
    conn: Connection, *, now: datetime, status: str | None, before: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Newest start first, keyset-paginated on (starts_at, id); `status` as the clock gives it."""
    where = ["TRUE"]
    args: list[Any] = []
    if status is not None:
        args += [now, status]
        where.append(f"({EFFECTIVE_STATUS}) = $2")
    if before is not None:
        args += list(before)
        where.append(f"(starts_at, id) < (${len(args) - 1}, ${len(args)})")
    args.append(limit + 1)
    return await conn.fetch(
        f"""SELECT {SALE_COLUMNS} FROM flash_sales WHERE {" AND ".join(where)}
            ORDER BY starts_at DESC, id DESC LIMIT ${len(args)}""",
        *args,
    )


async def load_open(conn: Connection, *, ended_since: datetime) -> list[asyncpg.Record]:
    """Sales not yet ended, or ended after `ended_since` (what a configuration snapshot holds)."""
    return await conn.fetch(
        f"""SELECT {SALE_COLUMNS} FROM flash_sales
            WHERE status <> 'ended' OR ended_at >= $1 OR ends_at >= $1""",
        ended_since,
    )


async def overlapping(
    conn: Connection,
    *,
    product_ids: Sequence[UUID],
    offer_ids: Sequence[UUID | None],
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    excluding: UUID | None,
) -> list[asyncpg.Record]:
    """Items of other sales, not ended, whose window overlaps [starts_at, ends_at) on these (product, offer)
    pairs (offer NULL: the product's default offer)."""
    return await conn.fetch(
        """SELECT i.product_id, i.offer_id, s.id AS flash_sale_id FROM flash_sale_items i
           JOIN flash_sales s ON s.id = i.flash_sale_id
           JOIN unnest($1::uuid[], $6::uuid[]) AS t (product_id, offer_id)
             ON t.product_id = i.product_id AND t.offer_id IS NOT DISTINCT FROM i.offer_id
           WHERE i.product_id = any($1::uuid[]) AND s.status <> 'ended' AND s.ends_at > $4
             AND s.starts_at < $3 AND s.ends_at > $2 AND s.id IS DISTINCT FROM $5""",
        product_ids,
        starts_at,
        ends_at,
        now,
        excluding,
        offer_ids,
    )


async def activate(conn: Connection, *, sale_id: UUID, now: datetime, actor: str) -> asyncpg.Record | None:
    """scheduled → active, once: None when the sale was not scheduled."""
    return await conn.fetchrow(
        f"""UPDATE flash_sales SET status = 'active', activated_at = $2, updated_by = $3, updated_at = now()
            WHERE id = $1 AND status = 'scheduled' RETURNING {SALE_COLUMNS}""",
        sale_id,
        now,
        actor,
    )


async def end(conn: Connection, *, sale_id: UUID, now: datetime, actor: str) -> asyncpg.Record | None:
    """→ ended, once: None when the sale had already ended."""
    return await conn.fetchrow(
        f"""UPDATE flash_sales SET status = 'ended', ended_at = $2, updated_by = $3, updated_at = now()
            WHERE id = $1 AND status <> 'ended' RETURNING {SALE_COLUMNS}""",
        sale_id,
        now,
        actor,
    )


async def close_items(conn: Connection, *, sale_id: UUID) -> list[asyncpg.Record]:
    """Mark every item closed with its unsold units (once); returns (product_id, offer_id, returned_stock).

    Each item row is locked: a purchase still writing its ledger row finishes first and is
    counted as sold; a later one finds the item closed and is refused.
    """
    return await conn.fetch(
        """UPDATE flash_sale_items SET returned_stock = allocated_stock - sold
           WHERE flash_sale_id = $1 AND returned_stock IS NULL
           RETURNING product_id, offer_id, returned_stock""",
        sale_id,
    )


async def due_transitions(conn: Connection, *, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Sales whose stored status lags the clock (to end, or to activate)."""
    return await conn.fetch(
        """SELECT id, ends_at <= $1 AS to_end FROM flash_sales
           WHERE status <> 'ended' AND (ends_at <= $1 OR (status = 'scheduled' AND starts_at <= $1))
           ORDER BY ends_at LIMIT $2""",
        now,
        limit,
    )


# flash_record_purchase's refusals (migrations/0008), by SQLSTATE.
LEDGER_REFUSALS = {"QF001": "SOLD_OUT", "QF002": "SALE_NOT_ACTIVE", "QF003": "PURCHASE_LIMIT_EXCEEDED"}
HOLD_VOIDED = "QF004"
"""The hold reconciler voided this write's hold (it took longer than FLASH_HOLD_GRACE_SECONDS):
its units were given back, so nothing may be sold (migrations/0036)."""
_RECORD_ARGS = (
    "id",
    "flash_sale_id",
    "product_id",
    "customer_id",
    "quantity",
    "unit_price",
    "total",
    "currency",
    "principal_id",
    "idempotency_key",
    "request_hash",
    "order_id",
    "hold",
    "offer_id",
)


async def record_purchase(conn: Connection, *, fields: dict[str, Any]) -> asyncpg.Record:
    """The ledger row, after the ledger's own checks, in one round trip (migrations/0008, with
    the Redis hold it settles since 0036: a voided hold raises QF004).

    Raises asyncpg.PostgresError with a `LEDGER_REFUSALS` SQLSTATE when the item is sold out,
    closed, or the customer would pass the limit; UniqueViolationError for a reused key.
    """
    row = await conn.fetchrow(
        f"""SELECT {PURCHASE_COLUMNS}
            FROM flash_record_purchase($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)""",
        *(fields[name] for name in _RECORD_ARGS),
    )
    assert row is not None
    return row


async def purchase_by_key(conn: Connection, *, principal_id: UUID, idempotency_key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {BOOKED_COLUMNS} FROM {BOOKED} WHERE p.principal_id = $1 AND p.idempotency_key = $2",
        principal_id,
        idempotency_key,
    )


async def purchases_of(conn: Connection, *, sale_id: UUID) -> list[asyncpg.Record]:
    """Every purchase of a sale with its key (to rebuild idempotency markers)."""
    return await conn.fetch(
        f"SELECT {BOOKED_COLUMNS}, p.idempotency_key FROM {BOOKED} WHERE p.flash_sale_id = $1",
        sale_id,
    )


async def list_purchases(
    conn: Connection, *, sale_id: UUID, before: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first, keyset-paginated on (created_at, id)."""
    if before is None:
        return await conn.fetch(
            f"""SELECT {BOOKED_COLUMNS} FROM {BOOKED} WHERE p.flash_sale_id = $1
                ORDER BY p.created_at DESC, p.id DESC LIMIT $2""",
            sale_id,
            limit + 1,
        )
    return await conn.fetch(
        f"""SELECT {BOOKED_COLUMNS} FROM {BOOKED}
            WHERE p.flash_sale_id = $1 AND (p.created_at, p.id) < ($2, $3)
            ORDER BY p.created_at DESC, p.id DESC LIMIT $4""",
        sale_id,
        before[0],
        before[1],
        limit + 1,
    )


async def list_own_purchases(
    conn: Connection, *, customer_id: str, before: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """One customer's "Buy now" purchases in every sale (each with its own order, or none when made before
    purchases were orders; not the units an order of a quote bought), newest first, keyset-paginated on
    (created_at, id), with the sale's and the product's names."""
    where = [("p.customer_id = {}", customer_id), ("(p.order_id IS NULL OR o.id IS NOT NULL)", True)]
    return await fetch_keyset(
        conn,
        f"""SELECT {BOOKED_COLUMNS}, s.name AS sale_name, pr.name AS product_name
           FROM {BOOKED}
           JOIN flash_sales s ON s.id = p.flash_sale_id
           JOIN products pr ON pr.id = p.product_id""",
        where,
        before,
        limit,
        Sort("p.created_at, p.id", "timestamptz, uuid", newest_first=True),
    )


async def bought_by_customer(conn: Connection, *, sale_id: UUID) -> list[asyncpg.Record]:
    """(product_id, offer_id, customer_id, units) for every customer who bought in the sale."""
    return await conn.fetch(
        """SELECT product_id, offer_id, customer_id, sum(quantity)::int AS units FROM flash_purchases
           WHERE flash_sale_id = $1 GROUP BY product_id, offer_id, customer_id""",
        sale_id,
    )


async def refresh_summaries(
    conn: Connection, *, sale_id: UUID, viewers: int, attempts: dict[str, int], now: datetime
) -> None:
    """Recompute the sale's customer summaries and stats from the ledger (idempotent; re-runnable).

    Serialised per sale by a transaction-scoped advisory lock, so the last writer has read the
    latest ledger.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('flash-summaries'), hashtext($1))", str(sale_id))
        await conn.execute("DELETE FROM flash_customer_summaries WHERE flash_sale_id = $1", sale_id)
        await conn.execute(
            """INSERT INTO flash_customer_summaries
                   (flash_sale_id, customer_id, purchases, units, spent, first_at, last_at)
               SELECT $1, customer_id, sum(n)::int, sum(units)::int, jsonb_object_agg(currency, spent::text),
                      min(first_at), max(last_at)
               FROM (SELECT customer_id, currency, count(*) AS n, sum(quantity) AS units, sum(total) AS spent,
                            min(created_at) AS first_at, max(created_at) AS last_at
                     FROM flash_purchases WHERE flash_sale_id = $1 GROUP BY customer_id, currency) AS per_currency
               GROUP BY customer_id""",
            sale_id,
        )
        await conn.execute(
            """INSERT INTO flash_sale_stats
                   (flash_sale_id, purchases, units_sold, revenue, buyers, unique_viewers, attempts, computed_at)
               SELECT $1, coalesce(sum(n), 0)::int, coalesce(sum(units), 0)::int,
                      coalesce(jsonb_object_agg(currency, revenue::text) FILTER (WHERE currency IS NOT NULL), '{}'),
                      (SELECT count(DISTINCT customer_id) FROM flash_purchases WHERE flash_sale_id = $1)::int,
                      $2, $3, $4
               FROM (SELECT currency, count(*) AS n, sum(quantity) AS units, sum(total) AS revenue
                     FROM flash_purchases WHERE flash_sale_id = $1 GROUP BY currency) AS per_currency
               ON CONFLICT (flash_sale_id) DO UPDATE SET
                   purchases = excluded.purchases, units_sold = excluded.units_sold, revenue = excluded.revenue,
                   buyers = excluded.buyers, unique_viewers = excluded.unique_viewers,
                   attempts = excluded.attempts, computed_at = excluded.computed_at""",
            sale_id,
            viewers,
            attempts,
            now,
        )


async def get_stats(conn: Connection, *, sale_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM flash_sale_stats WHERE flash_sale_id = $1", sale_id)


async def hold_outcome(
    conn: Connection, *, sale_id: UUID, product_id: UUID, offer_id: UUID | None, customer_id: str, hold: str
) -> asyncpg.Record | None:
    """Inside a transaction: wait for every ledger write of the item to end (its row lock,
    which each write takes first and keeps until it commits), then the purchase that settled
    `hold`; None when there is none — and then the hold is voided in this same transaction, so a
    later write of it fails (migrations/0036)."""
    await conn.execute(
        """SELECT 1 FROM flash_sale_items
           WHERE flash_sale_id = $1 AND product_id = $2 AND offer_id IS NOT DISTINCT FROM $3 FOR UPDATE""",
        sale_id,
        product_id,
        offer_id,
    )
    row = await conn.fetchrow(
        f"""SELECT {BOOKED_COLUMNS} FROM {BOOKED}
            WHERE p.flash_sale_id = $1 AND p.product_id = $2 AND p.customer_id = $3 AND p.hold = $4""",
        sale_id,
        product_id,
        customer_id,
        hold,
    )
    if row is None:
        await conn.execute(
            "INSERT INTO flash_hold_voids (flash_sale_id, hold) VALUES ($1, $2) ON CONFLICT DO NOTHING", sale_id, hold
        )
    return row


def definition_of(sale: asyncpg.Record, items: Sequence[asyncpg.Record]) -> flash.FlashSale:
    """The snapshot's view of a sale (pricing.flash)."""
    return flash.FlashSale(
        id=sale["id"],
        name=sale["name"],
        status=sale["status"],
        starts_at=sale["starts_at"],
        ends_at=sale["ends_at"],
        items=tuple(
            flash.FlashItem(
                product_id=i["product_id"],
                flash_price=i["flash_price"],
                allocated_stock=i["allocated_stock"],
                per_user_limit=i["per_user_limit"],
                currency=i["currency"].strip(),
                offer_id=i["offer_id"],
            )
            for i in items
        ),
    )


async def load_definitions(conn: Connection, *, now: datetime) -> list[flash.FlashSale]:
    """Sales for the configuration snapshot: not ended, or ended within the last day."""
    sales = await load_open(conn, ended_since=now - timedelta(days=1))
    items = await items_of(conn, sale_ids=[s["id"] for s in sales])
    by_sale: dict[UUID, list[asyncpg.Record]] = {}
    for item in items:
        by_sale.setdefault(item["flash_sale_id"], []).append(item)
    return [definition_of(sale, by_sale.get(sale["id"], [])) for sale in sales]

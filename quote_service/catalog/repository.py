"""SQL for products, price history and stock movements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.catalog.schemas import PriceSource, ProductSort
from quote_service.db.keyset import NEWEST_CHANGE_FIRST, fetch_keyset
from quote_service.db.pool import Connection
from quote_service.db.writes import insert_row, picked
from quote_service.errors import DuplicateKey
from quote_service.pricing.quantity_rules import QuantityRules

PRODUCT_COLUMNS = (
    "id, sku, name, category_id, seller_id, currency, base_price, current_price, min_price, "
    "cost_price, stock, tags, weight, is_active, created_at, updated_at, prices_include_tax, quantity_rules"
)
_WRITABLE = (
    "sku",
    "name",
    "category_id",
    "seller_id",
    "currency",
    "base_price",
    "current_price",
    "min_price",
    "cost_price",
    "tags",
    "weight",
    "is_active",
    "prices_include_tax",
    "quantity_rules",
)
_HISTORY_COLUMNS = "id, product_id, old_price, new_price, reason, source, actor, ref_id, changed_at"
# Every column an update may change except current_price, which only move_price() changes.
_EDITABLE = tuple(c for c in _WRITABLE if c != "current_price")


def _duplicate_sku(exc: asyncpg.UniqueViolationError, sku: object) -> DuplicateKey:
    return DuplicateKey(f"a product with sku {sku!r} already exists", code="DUPLICATE_KEY")


async def insert_product(conn: Connection, *, fields: dict[str, Any]) -> asyncpg.Record:
    try:
        return await insert_row(conn, "products", picked(fields, [*_WRITABLE, "stock"]), PRODUCT_COLUMNS)
    except asyncpg.UniqueViolationError as exc:
        raise _duplicate_sku(exc, fields["sku"]) from exc


async def get_product(conn: Connection, *, product_id: UUID, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1{lock}", product_id)


async def update_product(conn: Connection, *, product_id: UUID, fields: dict[str, Any]) -> asyncpg.Record:
    """Write every editable field but current_price (see `move_price`)."""
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(_EDITABLE, start=2))
    try:
        row = await conn.fetchrow(
            f"UPDATE products SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {PRODUCT_COLUMNS}",
            product_id,
            *(fields[c] for c in _EDITABLE),
        )
    except asyncpg.UniqueViolationError as exc:
        raise _duplicate_sku(exc, fields["sku"]) from exc
    assert row is not None
    return row


@dataclass(frozen=True)
class ListOrder:
    """One order of the product list: its sort key in SQL and the types its cursor holds."""

    cursor_name: str
    """The list name inside its cursors (one order's cursor given to another is a 422)."""
    key: str
    """The sort key, unique per row (it ends with id), as an SQL row."""
    key_casts: tuple[str, ...]
    """The SQL type of each part of the key, for the cursor's bind parameters."""
    key_type: Any
    """The Python type of the key inside a cursor."""


LIST_ORDERS: dict[ProductSort, ListOrder] = {
    "created": ListOrder("products", "created_at, id", ("timestamptz", "uuid"), tuple[datetime, UUID]),
    # A storefront shows first what a shopper came for: the synthetic products generate-data
    # writes (tagged `generated`) after all others, then by category and name. Migration 0140's
    # index holds this key, so a page reads its rows in order instead of sorting the catalog.
    "catalog": ListOrder(
        "products-catalog",
        "tags @> '{generated}'::text[], category_id, name, id",
        ("boolean", "text", "text", "uuid"),
        tuple[bool, str, str, UUID],
    ),
}


async def list_products(
    conn: Connection,
    *,
    category_id: str | None,
    seller_id: str | None,
    q: str | None,
    is_active: bool | None,
    sort: ProductSort = "created",
    after: tuple[Any, ...] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A page of products in `sort` order after the key `after`; each row has its `sort_key`."""
    pattern = None
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    order = LIST_ORDERS[sort]
    keyset = ""
    if after is not None:
        bound = ", ".join(f"${i}::{cast}" for i, cast in enumerate(order.key_casts, start=6))
        keyset = f"AND ({order.key}) > ({bound})"
    return await conn.fetch(
        f"""SELECT {PRODUCT_COLUMNS}, ROW({order.key}) AS sort_key FROM products
            WHERE ($1::text IS NULL OR category_id = $1)
              AND ($2::text IS NULL OR seller_id = $2)
              AND ($3::text IS NULL OR name ILIKE $3 OR sku ILIKE $3)
              AND ($4::boolean IS NULL OR is_active = $4)
              {keyset}
            ORDER BY {order.key}
            LIMIT $5""",
        category_id,
        seller_id,
        pattern,
        is_active,
        limit + 1,
        *(after or ()),
    )


MAX_CATEGORIES = 500
"""The most categories `list_categories` returns (a store's filter, not an export)."""


async def list_categories(conn: Connection) -> list[str]:
    """The categories that have an active product, sorted.

    A skip scan over products_category_idx: one index probe per category rather than reading
    every product (PostgreSQL 15 does not skip by itself)."""
    rows = await conn.fetch(
        """WITH RECURSIVE seen(category_id) AS (
               (SELECT category_id FROM products WHERE is_active ORDER BY category_id LIMIT 1)
               UNION ALL
               SELECT (SELECT p.category_id FROM products p
                        WHERE p.is_active AND p.category_id > seen.category_id
                        ORDER BY p.category_id LIMIT 1)
                 FROM seen WHERE seen.category_id IS NOT NULL
           )
           SELECT category_id FROM seen WHERE category_id IS NOT NULL LIMIT $1""",
        MAX_CATEGORIES,
    )
    return [row["category_id"] for row in rows]


async def insert_first_price(conn: Connection, *, product_id: UUID, price: Decimal, actor: str) -> None:
    """The price-history row of a new product (its price set, not moved: old_price is null)."""
    await conn.execute(
        """INSERT INTO price_history (product_id, old_price, new_price, reason, source, actor)
           VALUES ($1, NULL, $2, 'product created', 'manual', $3)""",
        product_id,
        price,
        actor,
    )


async def move_price(
    conn: Connection,
    *,
    product_id: UUID,
    new_price: Decimal,
    source: PriceSource,
    reason: str,
    actor: str,
    ref_id: UUID | None = None,
) -> Decimal | None:
    """THE way to change a product's current_price, in the caller's transaction.

    The SQL function (migrations/0013) locks the row, sets the price and appends the
    price-history row with source, reason and the rule/campaign/decision id; the products
    row's own trigger (migrations/0009) queues the cache invalidation in the same transaction.
    Returns the old price (None: no such product). Inventory repricing calls the same
    function from its trigger.
    """
    old: Decimal | None = await conn.fetchval(
        "SELECT move_price($1, $2, $3, $4, $5, $6)", product_id, new_price, source, reason, actor, ref_id
    )
    return old


async def list_price_history(
    conn: Connection, *, product_id: UUID, before: tuple[datetime, int] | None, limit: int
) -> list[asyncpg.Record]:
    where = [("product_id = {}", product_id)]
    return await fetch_keyset(
        conn, f"SELECT {_HISTORY_COLUMNS} FROM price_history", where, before, limit, NEWEST_CHANGE_FIRST
    )


async def price_writes(conn: Connection, *, product_id: UUID, field: str, hours: int) -> list[asyncpg.Record]:
    """The audited writes (docs/governance.md) of the last `hours` that changed the product's
    `field` (current_price or base_price), newest first: `actor_kind` (`seller` for a seller's own
    write; an approved change request is written by its approver), `before` and `after`."""
    return await audited_writes(conn, entity_type="product", entity_id=product_id, field=field, hours=hours)


async def audited_writes(
    conn: Connection, *, entity_type: str, entity_id: UUID, field: str, hours: int
) -> list[asyncpg.Record]:
    """The audited writes of the last `hours` that changed `field` of one entity (a product, an
    offer), newest first: `actor_kind`, `before` and `after`."""
    return await conn.fetch(
        """SELECT actor ->> 'kind' AS actor_kind, (before ->> $2)::numeric AS before, (after ->> $2)::numeric AS after
           FROM audit_log
           WHERE entity_type = $4 AND entity_id = $1::text
             AND at > clock_timestamp() - make_interval(hours => $3)
             AND (before -> $2) IS DISTINCT FROM (after -> $2)
           ORDER BY id DESC""",
        str(entity_id),
        field,
        hours,
        entity_type,
    )


async def seller_live_price_writes(
    conn: Connection, *, product_id: UUID, seller_id: str, field: str, hours: int
) -> list[asyncpg.Record]:
    """The audited writes of the last `hours` that changed the price `field` at which `seller_id` sold
    the product live — on the product itself (its default offer) or on any of the product's offers —,
    newest first: `actor_kind`, and `before` and `after`, each the live price that side of the write
    had (null where that seller's offer was not active then: a deactivation's `after`, a creation's
    `before`)."""
    return await conn.fetch(
        """SELECT actor_kind, before, after FROM (
               SELECT id, actor ->> 'kind' AS actor_kind,
                      CASE WHEN (before ->> 'is_active')::boolean AND before ->> 'seller_id' = $2
                           THEN (before ->> $3)::numeric END AS before,
                      CASE WHEN (after ->> 'is_active')::boolean AND after ->> 'seller_id' = $2
                           THEN (after ->> $3)::numeric END AS after
               FROM audit_log
               WHERE ((entity_type = 'product' AND entity_id = $1::uuid::text)
                      OR (entity_type = 'offer'
                          AND entity_id IN (SELECT id::text FROM offers WHERE product_id = $1::uuid)))
                 AND at > clock_timestamp() - make_interval(hours => $4)
           ) w
           WHERE before IS DISTINCT FROM after
           ORDER BY id DESC""",
        product_id,
        seller_id,
        field,
        hours,
    )


async def adjust_stock(conn: Connection, *, product_id: UUID, delta: int) -> int | None:
    """Add `delta` to stock in one statement; None when the result would leave [0, 2^31)."""
    stock: int | None = await conn.fetchval(
        """UPDATE products SET stock = stock + $2, updated_at = now()
           WHERE id = $1 AND stock::bigint + $2 BETWEEN 0 AND 2147483647 RETURNING stock""",
        product_id,
        delta,
    )
    return stock


async def insert_stock_movement(
    conn: Connection, *, product_id: UUID, delta: int, stock_after: int, reason: str, actor: str
) -> None:
    await conn.execute(
        """INSERT INTO stock_movements (product_id, delta, stock_after, reason, actor)
           VALUES ($1, $2, $3, $4, $5)""",
        product_id,
        delta,
        stock_after,
        reason,
        actor,
    )


async def quantity_rules(conn: Connection) -> dict[str, QuantityRules]:
    """Every product's quantity rules, by product id (those without rules are left out: an index holds the rest)."""
    rows = await conn.fetch("SELECT id, quantity_rules FROM products WHERE quantity_rules IS NOT NULL")
    return {str(row["id"]): msgspec.convert(row["quantity_rules"], QuantityRules) for row in rows}


async def product_exists(conn: Connection, *, product_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM products WHERE id = $1)", product_id))


async def lock_products(conn: Connection, *, product_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """Lock the products' rows in id order (every writer of several products locks in this order)."""
    return await conn.fetch(
        """SELECT id, stock, is_active, currency, min_price FROM products
           WHERE id = any($1::uuid[]) ORDER BY id FOR UPDATE""",
        product_ids,
    )


async def add_stock(conn: Connection, *, deltas: dict[UUID, int]) -> list[asyncpg.Record]:
    """Add each (signed) delta to its locked product's stock; returns (id, stock) after."""
    return await conn.fetch(
        """UPDATE products p SET stock = p.stock + t.delta, updated_at = now()
           FROM unnest($1::uuid[], $2::integer[]) AS t(id, delta)
           WHERE p.id = t.id
           RETURNING p.id, p.stock""",
        list(deltas),
        list(deltas.values()),
    )


async def move_stock(conn: Connection, *, deltas: dict[UUID, int], reason: str, actor: str) -> None:
    """`add_stock` of `deltas` (in their order), then one stock movement per product, in id order."""
    after = {row["id"]: row["stock"] for row in await add_stock(conn, deltas=deltas)}
    movements = [(product_id, delta, after[product_id]) for product_id, delta in sorted(deltas.items())]
    await insert_stock_movements(conn, movements=movements, reason=reason, actor=actor)


async def insert_stock_movements(
    conn: Connection, *, movements: Sequence[tuple[UUID, int, int]], reason: str, actor: str
) -> None:
    """One stock_movements row per (product_id, delta, stock_after)."""
    await conn.executemany(
        """INSERT INTO stock_movements (product_id, delta, stock_after, reason, actor)
           VALUES ($1, $2, $3, $4, $5)""",
        [(product_id, delta, after, reason, actor) for product_id, delta, after in movements],
    )


async def held_units(conn: Connection, *, product_ids: Sequence[UUID], now: datetime) -> dict[UUID, int]:
    """Units held by unexpired stock reservations of quotes, per product (absent: none held;
    docs/reservations.md: the reservations domain writes the holds, every stock writer reads them).

    Run it AFTER the statement that locked the products, never in it: a statement's snapshot is
    taken before it waits for a lock, and would miss the holds of the writer it waited for."""
    return await units_held(conn, "reservation_holds", "product_id", product_ids, now)


async def units_held(conn: Connection, holds: str, column: str, ids: Sequence[UUID], now: datetime) -> dict[UUID, int]:
    """The units of `holds` (`reservation_holds` by `product_id`, `reservation_offer_holds` by `offer_id`)
    unexpired at `now`, per id of `column` (absent: none held)."""
    rows = await conn.fetch(
        f"""SELECT {column}, sum(quantity)::integer AS held FROM {holds}
            WHERE {column} = any($1::uuid[]) AND expires_at > $2
            GROUP BY {column}""",
        list(ids),
        now,
    )
    return {row[column]: row["held"] for row in rows}


async def sellers_of(conn: Connection, *, product_ids: Sequence[UUID]) -> dict[UUID, str]:
    """The seller of each of these catalog products that exists."""
    rows = await conn.fetch("SELECT id, seller_id FROM products WHERE id = any($1::uuid[])", list(product_ids))
    return {row["id"]: row["seller_id"] for row in rows}

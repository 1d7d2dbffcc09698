"""SQL for offers, their price history and the stock orders take from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.catalog.repository import audited_writes
from quote_service.db.keyset import NEWEST_CHANGE_FIRST, Sort, fetch_keyset
from quote_service.db.pool import Connection
from quote_service.db.rows import row_as
from quote_service.db.writes import insert_sql
from quote_service.errors import DuplicateKey
from quote_service.pricing.offers import SnapOffer
from quote_service.pricing.quantity_rules import QuantityRules

OFFER_COLUMNS = (
    "o.id, o.product_id, p.sku AS product_sku, p.name AS product_name, o.seller_id, p.currency, o.base_price, "
    "o.current_price, o.min_price, o.cost_price, o.stock, o.condition, o.is_active, o.created_at, o.updated_at, "
    "o.quantity_rules"
)
_FROM = "offers o JOIN products p ON p.id = o.product_id"
_EDITABLE = (
    "seller_id",
    "base_price",
    "min_price",
    "cost_price",
    "stock",
    "condition",
    "is_active",
    "quantity_rules",
)
"""Every column an update writes but current_price (see `move_price`)."""


def offer_exists_error(product_id: object, seller_id: object) -> DuplicateKey:
    return DuplicateKey(
        f"seller {seller_id} already offers product {product_id} (one active offer per product and seller; "
        "the product's own seller sells it through the product)",
        code="OFFER_EXISTS",
    )


async def insert_offer(conn: Connection, *, fields: dict[str, Any]) -> asyncpg.Record:
    columns = (
        *("product_id", "seller_id", "base_price", "current_price", "min_price", "cost_price", "stock"),
        *("condition", "is_active", "quantity_rules"),
    )
    try:
        offer_id = await conn.fetchval(insert_sql("offers", columns, "id"), *(fields[c] for c in columns))
    except asyncpg.UniqueViolationError as exc:
        raise offer_exists_error(fields["product_id"], fields["seller_id"]) from exc
    row = await get_offer(conn, offer_id=offer_id)
    assert row is not None
    return row


async def active_offer_exists(conn: Connection, *, product_id: UUID, seller_id: str) -> bool:
    """Whether the seller has an active offer of the product (a second one is 409 OFFER_EXISTS)."""
    found: bool = await conn.fetchval(
        "SELECT exists (SELECT 1 FROM offers WHERE product_id = $1 AND seller_id = $2 AND is_active)",
        product_id,
        seller_id,
    )
    return found


async def get_offer(conn: Connection, *, offer_id: UUID, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF o" if for_update else ""
    return await conn.fetchrow(f"SELECT {OFFER_COLUMNS} FROM {_FROM} WHERE o.id = $1{lock}", offer_id)


async def update_offer(conn: Connection, *, offer_id: UUID, fields: dict[str, Any]) -> None:
    """Write every editable field but current_price."""
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(_EDITABLE, start=2))
    try:
        await conn.execute(
            f"UPDATE offers SET {assignments}, updated_at = clock_timestamp() WHERE id = $1",
            offer_id,
            *(fields[c] for c in _EDITABLE),
        )
    except asyncpg.UniqueViolationError as exc:
        raise offer_exists_error(fields["product_id"], fields["seller_id"]) from exc


async def move_price(
    conn: Connection, *, offer_id: UUID, old: Decimal | None, new: Decimal, source: str, reason: str, actor: str
) -> None:
    """Set the offer's current_price and append its price-history row, in the caller's transaction."""
    if old is not None:
        await conn.execute(
            "UPDATE offers SET current_price = $2, updated_at = clock_timestamp() WHERE id = $1", offer_id, new
        )
    await conn.execute(
        """INSERT INTO offer_price_history (offer_id, old_price, new_price, reason, source, actor)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        offer_id,
        old,
        new,
        reason,
        source,
        actor,
    )


async def list_offers(
    conn: Connection,
    *,
    product_id: UUID | None,
    seller_id: str | None,
    is_active: bool | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    where = [("o.product_id = {}", product_id), ("o.seller_id = {}", seller_id), ("o.is_active = {}", is_active)]
    return await fetch_keyset(
        conn, f"SELECT {OFFER_COLUMNS} FROM {_FROM}", where, after, limit, Sort("o.created_at, o.id")
    )


async def list_price_history(
    conn: Connection, *, offer_id: UUID, before: tuple[datetime, int] | None, limit: int
) -> list[asyncpg.Record]:
    where = [("offer_id = {}", offer_id)]
    return await fetch_keyset(
        conn,
        "SELECT id, offer_id, old_price, new_price, reason, source, actor, changed_at FROM offer_price_history",
        where,
        before,
        limit,
        NEWEST_CHANGE_FIRST,
    )


async def price_writes(conn: Connection, *, offer_id: UUID, field: str, hours: int) -> list[asyncpg.Record]:
    """The audited writes of the last `hours` that changed the offer's `field`, newest first (as
    catalog.repository.price_writes for a product)."""
    return await audited_writes(conn, entity_type="offer", entity_id=offer_id, field=field, hours=hours)


async def load_active(conn: Connection) -> tuple[list[SnapOffer], dict[str, int]]:
    """Every active offer of an active product, and each such product's own stock, for the configuration
    snapshot (one query; none: nothing more is read)."""
    rows = await conn.fetch(
        """SELECT o.id, o.product_id, o.seller_id, o.current_price, o.min_price, o.stock, o.condition,
                  o.quantity_rules, p.stock AS default_stock
           FROM offers o JOIN products p ON p.id = o.product_id
           WHERE o.is_active AND p.is_active ORDER BY o.product_id, o.id"""
    )
    return [
        row_as(
            SnapOffer,
            r,
            quantity_rules=None if r["quantity_rules"] is None else msgspec.convert(r["quantity_rules"], QuantityRules),
        )
        for r in rows
    ], {str(r["product_id"]): r["default_stock"] for r in rows}


async def active_products(conn: Connection, *, offer_ids: Sequence[UUID]) -> dict[UUID, UUID]:
    """The product of each active offer among `offer_ids` (an item naming only its offer sells it)."""
    rows = await conn.fetch(
        "SELECT id, product_id FROM offers WHERE id = any($1::uuid[]) AND is_active", list(offer_ids)
    )
    return {row["id"]: row["product_id"] for row in rows}


async def lock_offers(conn: Connection, *, offer_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """Lock the offers' rows in id order (every writer of several offers locks in this order)."""
    return await conn.fetch(
        """SELECT id, product_id, stock, is_active, min_price FROM offers
           WHERE id = any($1::uuid[]) ORDER BY id FOR UPDATE""",
        list(offer_ids),
    )


async def add_stock(conn: Connection, *, deltas: dict[UUID, int]) -> dict[UUID, int]:
    """Add each (signed) delta to its locked offer's stock; the stock after, by offer id."""
    rows = await conn.fetch(
        """UPDATE offers o SET stock = o.stock + t.delta, updated_at = clock_timestamp()
           FROM unnest($1::uuid[], $2::integer[]) AS t(id, delta)
           WHERE o.id = t.id
           RETURNING o.id, o.stock""",
        list(deltas),
        list(deltas.values()),
    )
    return {row["id"]: row["stock"] for row in rows}


async def min_prices(conn: Connection, *, offer_ids: Sequence[UUID]) -> dict[UUID, Decimal]:
    """Each offer's `min_price` now, active or not (an order edit's floor of the lines it sold)."""
    rows = await conn.fetch("SELECT id, min_price FROM offers WHERE id = any($1::uuid[])", list(offer_ids))
    return {row["id"]: row["min_price"] for row in rows}

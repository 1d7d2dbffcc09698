"""SQL for price lists and their prices."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.keyset import Sort, fetch_keyset
from quote_service.db.pool import Connection
from quote_service.db.writes import insert_row, picked, update_sql
from quote_service.pricing.price_lists import ListPrice, PriceBook, PriceList, label
from quote_service.pricing.quantity_rules import QuantityRules

_COLUMNS = (
    "l.id, l.name, l.currency, l.customer_groups, l.channels, l.priority, l.starts_at, l.ends_at, "
    "l.created_by, l.updated_by, l.created_at, l.updated_at, l.prices_include_tax, l.rounding_mode, "
    "l.tax_calculation, "
    "(SELECT count(*) FROM price_list_prices p WHERE p.price_list_id = l.id) AS price_count"
)
_WRITABLE = (
    "name",
    "currency",
    "customer_groups",
    "channels",
    "priority",
    "starts_at",
    "ends_at",
    "prices_include_tax",
    "rounding_mode",
    "tax_calculation",
)


async def insert_price_list(conn: Connection, *, fields: dict[str, Any], actor: str) -> UUID:
    list_id: UUID = (await insert_row(conn, "price_lists", picked(fields, _WRITABLE), "id", actor=actor))["id"]
    return list_id


async def update_price_list(conn: Connection, *, list_id: UUID, fields: dict[str, Any], actor: str) -> bool:
    """Replace every writable field; False when no list has this id."""
    status: str = await conn.execute(
        update_sql("price_lists", "id", _WRITABLE), list_id, actor, *(fields[c] for c in _WRITABLE)
    )
    return status != "UPDATE 0"


async def touch(conn: Connection, *, list_id: UUID, actor: str) -> bool:
    """Mark the list updated (its prices changed); False when no list has this id. Locks its row."""
    status: str = await conn.execute(
        "UPDATE price_lists SET updated_by = $2, updated_at = now() WHERE id = $1", list_id, actor
    )
    return status != "UPDATE 0"


BULK_PRICES = 1000
"""More prices than this in one write is a bulk write (its statement may take BULK_STATEMENT_SECONDS)."""
BULK_STATEMENT_SECONDS = 60
"""A bulk write's one statement may take this long (the server's statement_timeout in its
transaction, and asyncpg's own timeout of the call a second later)."""


async def upsert_prices(
    conn: Connection,
    *,
    list_id: UUID,
    prices: list[tuple[UUID, int, Decimal, dict[str, Any] | None, UUID | None]],
) -> None:
    """Add each (product, min_quantity, amount, quantity rules, offer), replacing the amount and rules at an
    existing (product, offer, min_quantity): one statement. Call it in a transaction: a bulk write (more than
    BULK_PRICES prices) may take up to BULK_STATEMENT_SECONDS in it, not DB_STATEMENT_TIMEOUT, since
    each price writes its audit row too (10,000 of them took over 5 s on a loaded 2-core box)."""
    if not prices:
        return
    bulk = len(prices) > BULK_PRICES
    if bulk:
        await conn.execute(f"SET LOCAL statement_timeout = '{BULK_STATEMENT_SECONDS}s'")
    await conn.execute(
        """INSERT INTO price_list_prices (price_list_id, product_id, min_quantity, amount, quantity_rules, offer_id)
           SELECT $1, product_id, min_quantity, amount, quantity_rules, offer_id
           FROM unnest($2::uuid[], $3::int[], $4::numeric[], $5::jsonb[], $6::uuid[])
                AS p (product_id, min_quantity, amount, quantity_rules, offer_id)
           ON CONFLICT ON CONSTRAINT price_list_prices_entry_key
           DO UPDATE SET amount = excluded.amount, quantity_rules = excluded.quantity_rules""",
        list_id,
        [p[0] for p in prices],
        [p[1] for p in prices],
        [p[2] for p in prices],
        [p[3] for p in prices],
        [p[4] for p in prices],
        timeout=BULK_STATEMENT_SECONDS + 1 if bulk else None,
    )


async def known_products(conn: Connection, *, product_ids: list[UUID]) -> set[UUID]:
    """Which of `product_ids` are catalog products."""
    rows = await conn.fetch("SELECT id FROM products WHERE id = any($1::uuid[])", product_ids)
    return {row["id"] for row in rows}


async def offer_products(conn: Connection, *, offer_ids: list[UUID]) -> dict[UUID, UUID]:
    """The product of each of `offer_ids` that is an offer (active or not)."""
    rows = await conn.fetch("SELECT id, product_id FROM offers WHERE id = any($1::uuid[])", offer_ids)
    return {row["id"]: row["product_id"] for row in rows}


async def get_price_list(conn: Connection, *, list_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM price_lists l WHERE l.id = $1", list_id)


async def get_prices(conn: Connection, *, list_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT product_id, amount, min_quantity, quantity_rules, offer_id FROM price_list_prices
           WHERE price_list_id = $1 ORDER BY product_id, offer_id NULLS FIRST, min_quantity""",
        list_id,
    )


async def delete_price_list(conn: Connection, *, list_id: UUID) -> asyncpg.Record | None:
    """Delete a list and its prices; the list as it was, or None when no list has this id."""
    row = await get_price_list(conn, list_id=list_id)
    if row is not None:
        await conn.execute("DELETE FROM price_lists WHERE id = $1", list_id)
    return row


async def list_price_lists(
    conn: Connection, *, currency: str | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Lists oldest first, after the (created_at, id) `after`."""
    where = [("l.currency = {}", currency)]
    return await fetch_keyset(
        conn, f"SELECT {_COLUMNS} FROM price_lists l", where, after, limit, Sort("l.created_at, l.id")
    )


async def currencies_open_to(conn: Connection, *, channel: str, group: str | None) -> list[str]:
    """The currencies of the lists in effect now that a customer of `group` (None: none) is priced
    from on `channel`, sorted. Channels and groups compare as `label` folds them."""
    rows = await conn.fetch(
        """SELECT DISTINCT btrim(currency) AS currency FROM price_lists
           WHERE (starts_at IS NULL OR starts_at <= now()) AND (ends_at IS NULL OR ends_at > now())
             AND (channels = '{}' OR EXISTS (SELECT 1 FROM unnest(channels) c WHERE lower(btrim(c)) = $1))
             AND (customer_groups = '{}'
                  OR EXISTS (SELECT 1 FROM unnest(customer_groups) g WHERE lower(btrim(g)) = $2))
           ORDER BY 1""",
        label(channel),
        label(group),
    )
    return [row["currency"] for row in rows]


_compiled: tuple[tuple[str, UUID, int], PriceBook] | None = None
"""The last book compiled in this process, by (database, token, version) of the lists it holds."""


async def load_book(conn: Connection) -> PriceBook:
    """Every list in effect or still to come, compiled; the previous book again while no list or
    price has changed (a reload for a flag or a rule does not read or index 50,000 prices).
    Call inside the snapshot's repeatable-read transaction: the version and the data agree."""
    global _compiled
    row = await conn.fetchrow("SELECT current_database() AS db, token, version FROM price_lists_version")
    key = None if row is None else (str(row["db"]), row["token"], int(row["version"]))
    if key is not None and _compiled is not None and _compiled[0] == key:
        return _compiled[1]
    book = PriceBook.of(await load_active(conn))
    if key is not None:
        _compiled = (key, book)
    return book


async def load_active(conn: Connection) -> list[PriceList]:
    """Lists in effect or still to come, with their prices, as the quote engine reads them."""
    lists = await conn.fetch(
        """SELECT id, name, currency, customer_groups, channels, priority, starts_at, ends_at, created_at,
                  prices_include_tax, rounding_mode, tax_calculation
           FROM price_lists WHERE ends_at IS NULL OR ends_at > now()"""
    )
    if not lists:
        return []
    prices: dict[UUID, list[ListPrice]] = {row["id"]: [] for row in lists}
    for row in await conn.fetch(
        """SELECT price_list_id, product_id, amount, min_quantity, quantity_rules, offer_id FROM price_list_prices
           WHERE price_list_id = any($1::uuid[])""",
        list(prices),
    ):
        rules = row["quantity_rules"]
        prices[row["price_list_id"]].append(
            ListPrice(
                row["product_id"],
                row["amount"],
                row["min_quantity"],
                None if rules is None else msgspec.convert(rules, QuantityRules),
                row["offer_id"],
            )
        )
    return [
        PriceList(
            id=row["id"],
            name=row["name"],
            currency=row["currency"].strip(),
            priority=row["priority"],
            created_at=row["created_at"],
            customer_groups=frozenset(filter(None, map(label, row["customer_groups"]))),
            channels=frozenset(filter(None, map(label, row["channels"]))),
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            prices=tuple(prices[row["id"]]),
            prices_include_tax=row["prices_include_tax"],
            rounding_mode=row["rounding_mode"],
            tax_calculation=row["tax_calculation"],
        )
        for row in lists
    ]

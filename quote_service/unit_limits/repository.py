"""SQL for per-customer quantity limits: a customer's units of a product, or of an offer, read from its orders.

A limit's key (`QuantityLimit.key`) is a product's id (its units from every seller) or `offer:<offer id>`
(the units sold from that offer: docs/offers.md#quantity-rules). An order's live line's units count until
refunded (a cancel refunds every unit); a line an order edit retired counts no more (the edit wrote what
was left of it anew); gift lines are given, not bought, and never count. The version of a (customer, key)
is how many times those units changed (one per order line, retired ones too, one per refund line of it): it
only grows, with each committed change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from quote_service.db.pool import Connection
from quote_service.pricing.quantity_rules import MAX_WINDOW_DAYS
from quote_service.pricing.quote import OFFER_LIMIT


class Purchases(msgspec.Struct, frozen=True):
    """A customer's live units of one product: (epoch second of the order, units) for its orders of the
    last MAX_WINDOW_DAYS days that still hold some, and the version they were read at."""

    entries: list[tuple[int, int]]
    version: int


async def lock(conn: Connection, *, customer_id: str, product_ids: Sequence[str]) -> None:
    """Take the transaction's lock on each (customer, product), in product order: orders of one
    customer's limited product count and write one after another."""
    await conn.execute(
        """SELECT count(pg_advisory_xact_lock(hashtextextended('unit_limit:' || $1 || ':' || p, 0)))
           FROM (SELECT p FROM unnest($2::text[]) AS p ORDER BY p) AS products""",
        customer_id,
        sorted(product_ids),
    )


async def purchases(
    conn: Connection,
    *,
    customer_id: str,
    product_ids: Sequence[str],
    now: datetime,
    other_than: UUID | None = None,
) -> dict[str, Purchases]:
    """The customer's live units of each key, a product's id or `offer:<offer id>` (every key named, none
    bought: empty at version 0); `other_than`: an order whose units are left out (an edit of it counts its
    edited basket instead)."""
    offers = [key.removeprefix(OFFER_LIMIT) for key in product_ids if key.startswith(OFFER_LIMIT)]
    rows = await conn.fetch(
        """SELECT k.key AS product_id, o.created_at,
                  CASE WHEN l.retired_by IS NULL AND o.id IS DISTINCT FROM $5::uuid
                       THEN l.quantity - coalesce(r.units, 0) ELSE 0 END AS units,
                  1 + coalesce(r.changes, 0) AS changes
           FROM orders o
           JOIN order_lines l ON l.order_id = o.id
           CROSS JOIN LATERAL (
               SELECT l.product_id AS key WHERE l.product_id = any($2::text[])
               UNION ALL
               SELECT $4 || l.offer_id::text WHERE l.offer_id = any($3::uuid[])
           ) k
           LEFT JOIN LATERAL (
               SELECT sum(rl.quantity) AS units, count(*) AS changes FROM refund_lines rl
               WHERE rl.order_id = l.order_id AND rl.position = l.position
           ) r ON true
           WHERE o.customer_id = $1 AND l.price_source <> 'gift'
             AND (l.product_id = any($2::text[]) OR l.offer_id = any($3::uuid[]))""",
        customer_id,
        list(product_ids),
        offers,
        OFFER_LIMIT,
        other_than,
    )
    since = now - timedelta(days=MAX_WINDOW_DAYS)
    entries: dict[str, list[tuple[int, int]]] = {pid: [] for pid in product_ids}
    versions = dict.fromkeys(product_ids, 0)
    for row in rows:
        versions[row["product_id"]] += row["changes"]
        if row["units"] > 0 and row["created_at"] > since:
            entries[row["product_id"]].append((int(row["created_at"].timestamp()), int(row["units"])))
    return {pid: Purchases(sorted(entries[pid]), versions[pid]) for pid in product_ids}

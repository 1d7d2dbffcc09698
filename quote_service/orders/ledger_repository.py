"""SQL for the sellers' ledger (migrations/0901_seller_ledger.sql): the entries each change of an order's money
writes, in the change's transaction (orders/money.py works them out), and what an order's edits moved."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from quote_service.db.pool import Connection
from quote_service.orders.money import Kind, SellerEntry, stored_fees, tax_counts, tax_rows


async def write(
    conn: Connection,
    *,
    kind: Kind,
    entry_id: UUID,
    order_id: UUID,
    currency: str,
    at: datetime,
    entries: Sequence[SellerEntry],
) -> None:
    """The change's entries, one per seller (`money.ledger_entries`), and their tax by code."""
    if not entries:
        return
    await conn.executemany(
        """INSERT INTO seller_ledger (seller_id, kind, id, order_id, currency, at, goods, tax, platform, commission,
               commission_tax, delivery, tax_collected, tax_refunded, fees)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)""",
        [
            (
                e.seller_id, kind, entry_id, order_id, currency, at, e.goods, e.tax, e.platform, e.commission,
                e.commission_tax, e.delivery, *tax_counts(e, kind), stored_fees(e, kind),
            )
            for e in entries
        ],
    )  # fmt: skip
    codes = [(e.seller_id, kind, entry_id, *row) for e in entries for row in tax_rows(e, kind)]
    if codes:
        await conn.executemany(
            """INSERT INTO seller_ledger_taxes (seller_id, kind, id, code, kept, external, collected, refunded)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            codes,
        )


async def seller_edits(conn: Connection, *, order_ids: Sequence[UUID], seller_id: str) -> dict[UUID, Decimal]:
    """What each edit of these orders moved of what the customer pays `seller_id` (its ledger entry's goods,
    tax and delivery: docs/orders-and-refunds.md#edits-and-exchanges), by edit id."""
    rows = await conn.fetch(
        """SELECT id, goods + tax + delivery AS moved FROM seller_ledger
           WHERE kind = 'edit' AND order_id = any($1::uuid[]) AND seller_id = $2""",
        list(order_ids),
        seller_id,
    )
    return {row["id"]: row["moved"] for row in rows}

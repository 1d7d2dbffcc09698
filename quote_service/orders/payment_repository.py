"""SQL for payments of the money an order's edits made due (docs/orders-and-refunds.md#money-due-and-payments)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection

PAYMENT_COLUMNS = "id, order_id, currency, amount, balance_due, request_hash, created_by, created_at"


async def get_payment_by_key(conn: Connection, *, principal_id: UUID, idempotency_key: str) -> asyncpg.Record | None:
    """The payment this principal recorded with this key (None: none yet)."""
    return await conn.fetchrow(
        f"SELECT {PAYMENT_COLUMNS} FROM order_payments WHERE principal_id = $1 AND idempotency_key = $2",
        principal_id,
        idempotency_key,
    )


async def insert_payment(conn: Connection, *, fields: dict[str, Any]) -> asyncpg.Record:
    """The payment, and the order's balance due and paid amount after it (under the order's row lock)."""
    row = await conn.fetchrow(
        f"""INSERT INTO order_payments (id, order_id, currency, amount, balance_due, principal_id, idempotency_key,
                request_hash, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {PAYMENT_COLUMNS}""",
        fields["id"],
        fields["order_id"],
        fields["currency"],
        fields["amount"],
        fields["balance_due"],
        fields["principal_id"],
        fields["idempotency_key"],
        fields["request_hash"],
        fields["created_by"],
    )
    assert row is not None
    await conn.execute(
        "UPDATE orders SET balance_due = $2, paid_amount = paid_amount + $3 WHERE id = $1",
        fields["order_id"],
        fields["balance_due"],
        fields["amount"],
    )
    return row


async def payments_of(conn: Connection, *, order_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """The payments of these orders, by order, oldest first."""
    return await conn.fetch(
        f"SELECT {PAYMENT_COLUMNS} FROM order_payments WHERE order_id = any($1::uuid[]) ORDER BY order_id, created_at",
        list(order_ids),
    )

"""SQL for market signals: raise one idempotently, resolve, acknowledge, list.

Signals are raised by whoever sees the data (the competitor-price consumer, the order and
quote hooks, the experiment guardrails): `raise_signal` is the one way in. A subject (product,
or `details.experiment_id` when there is no product) has at most one live (open or
acknowledged) signal per type; raising again refreshes that signal's severity and details
instead of adding a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from quote_service.db.keyset import NEWEST_FIRST, fetch_keyset
from quote_service.db.pool import Connection

SIGNAL_COLUMNS = (
    "id, type, product_id, severity, details, status, created_at, updated_at, acknowledged_at, acknowledged_by, "
    "resolved_at"
)
# Must match the expression of the signals_one_live index (migration 0018).
_SUBJECT = "(coalesce(product_id::text, details ->> 'experiment_id', ''))"
SEVERITIES = ("info", "warning", "critical")
STATUSES = ("open", "acknowledged", "resolved")


class Raised(NamedTuple):
    """The live signal after a raise, and whether this raise created it."""

    row: asyncpg.Record
    created: bool


async def raise_signal(
    conn: Connection,
    *,
    type: str,
    product_id: UUID | None,
    severity: str,
    details: Mapping[str, Any],
) -> Raised:
    """Open a signal, or refresh the live one of this subject and type (never a second row).

    Safe under concurrency: two processes raising the same signal at once meet on the unique
    index and one of them updates the other's row.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}")
    if product_id is None and "experiment_id" not in details:
        raise ValueError("a signal without a product names its subject in details.experiment_id")
    row = await conn.fetchrow(
        f"""INSERT INTO signals (id, type, product_id, severity, details)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (type, {_SUBJECT}) WHERE status <> 'resolved'
            DO UPDATE SET severity = EXCLUDED.severity, details = EXCLUDED.details, updated_at = clock_timestamp()
            RETURNING {SIGNAL_COLUMNS}, (xmax = 0) AS created""",
        uuid.uuid4(),
        type,
        product_id,
        severity,
        dict(details),
    )
    assert row is not None
    return Raised(row, bool(row["created"]))


async def resolve_signal(
    conn: Connection,
    *,
    type: str,
    product_id: UUID | None,
    experiment_id: str | None = None,
) -> asyncpg.Record | None:
    """Resolve the live signal of this subject and type (its condition cleared); None if none."""
    subject = str(product_id) if product_id is not None else (experiment_id or "")
    return await conn.fetchrow(
        f"""UPDATE signals SET status = 'resolved', resolved_at = clock_timestamp(), updated_at = clock_timestamp()
            WHERE type = $1 AND {_SUBJECT} = $2 AND status <> 'resolved'
            RETURNING {SIGNAL_COLUMNS}""",
        type,
        subject,
    )


async def live_signals(conn: Connection, product_ids: Sequence[UUID]) -> dict[tuple[UUID, str], str]:
    """{(product, type): severity} of the products' live signals, so a batch's rules write only
    what changes (a signal to resolve, a new one, a new severity)."""
    rows = await conn.fetch(
        "SELECT product_id, type, severity FROM signals WHERE product_id = any($1::uuid[]) AND status <> 'resolved'",
        list(product_ids),
    )
    return {(row["product_id"], row["type"]): row["severity"] for row in rows}


async def acknowledge_signal(conn: Connection, *, signal_id: UUID, actor: str) -> asyncpg.Record | None:
    """Mark an open signal seen; an acknowledged or resolved one is returned unchanged."""
    row = await conn.fetchrow(
        f"""UPDATE signals SET status = 'acknowledged', acknowledged_at = clock_timestamp(), acknowledged_by = $2,
                   updated_at = clock_timestamp()
            WHERE id = $1 AND status = 'open' RETURNING {SIGNAL_COLUMNS}""",
        signal_id,
        actor,
    )
    if row is None:
        row = await conn.fetchrow(f"SELECT {SIGNAL_COLUMNS} FROM signals WHERE id = $1", signal_id)
    return row


async def get_signal(conn: Connection, *, signal_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {SIGNAL_COLUMNS} FROM signals WHERE id = $1", signal_id)


async def list_signals(
    conn: Connection,
    *,
    type: str | None,
    product_id: UUID | None,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
    where = [("type = {}", type), ("product_id = {}", product_id), ("status = {}", status)]
    return await fetch_keyset(conn, f"SELECT {SIGNAL_COLUMNS} FROM signals", where, after, limit, NEWEST_FIRST)

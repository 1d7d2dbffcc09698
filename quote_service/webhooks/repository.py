"""SQL for webhook subscriptions, their deliveries, and the sender's claims (migrations/0300)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection

WEBHOOK_COLUMNS = (
    "id, url, events, description, is_active, "
    "CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END AS previous_secret_expires_at, "
    "created_by, updated_by, created_at, updated_at"
)
DELIVERY_COLUMNS = (
    "id, webhook_id, type, status, attempts, last_status_code, last_error, next_attempt_at, last_attempt_at, "
    "delivered_at, created_at"
)
_WRITABLE = ("url", "events", "description", "is_active")


async def insert_webhook(conn: Connection, *, fields: dict[str, Any], secret: str, actor: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO webhooks (url, events, description, is_active, secret, created_by, updated_by)
            VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {WEBHOOK_COLUMNS}, secret""",
        *(fields[c] for c in _WRITABLE),
        secret,
        actor,
    )
    assert row is not None
    return row


async def get_webhook(conn: Connection, *, webhook_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1", webhook_id)


async def update_webhook(
    conn: Connection, *, webhook_id: UUID, fields: dict[str, Any], actor: str
) -> asyncpg.Record | None:
    """Replace every writable field; None when there is no such subscription."""
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(_WRITABLE, start=3))
    return await conn.fetchrow(
        f"""UPDATE webhooks SET {assignments}, updated_by = $2, updated_at = clock_timestamp()
            WHERE id = $1 RETURNING {WEBHOOK_COLUMNS}""",
        webhook_id,
        actor,
        *(fields[c] for c in _WRITABLE),
    )


async def rotate_secret(
    conn: Connection, *, webhook_id: UUID, secret: str, overlap_seconds: float, actor: str
) -> asyncpg.Record | None:
    """A new secret; the current one keeps signing for `overlap_seconds` (none when 0)."""
    return await conn.fetchrow(
        f"""UPDATE webhooks
               SET previous_secret = CASE WHEN $3 > 0 THEN secret END,
                   previous_secret_expires_at = CASE WHEN $3 > 0 THEN now() + make_interval(secs => $3) END,
                   secret = $2, updated_by = $4, updated_at = clock_timestamp()
             WHERE id = $1 RETURNING {WEBHOOK_COLUMNS}, secret""",
        webhook_id,
        secret,
        overlap_seconds,
        actor,
    )


async def delete_webhook(conn: Connection, *, webhook_id: UUID) -> asyncpg.Record | None:
    """Delete a subscription with its deliveries."""
    return await conn.fetchrow(f"DELETE FROM webhooks WHERE id = $1 RETURNING {WEBHOOK_COLUMNS}", webhook_id)


async def list_webhooks(conn: Connection, *, after: tuple[datetime, UUID] | None, limit: int) -> list[asyncpg.Record]:
    """Subscriptions oldest first (keyset on created_at, id); `limit + 1` rows."""
    return await conn.fetch(
        f"""SELECT {WEBHOOK_COLUMNS} FROM webhooks
            WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid)
            ORDER BY created_at, id LIMIT $3""",
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )


async def list_deliveries(
    conn: Connection,
    *,
    webhook_id: UUID,
    status: str | None,
    event_type: str | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A subscription's deliveries newest first (keyset on created_at, id); `limit + 1` rows."""
    return await conn.fetch(
        f"""SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
            WHERE webhook_id = $1
              AND ($2::text IS NULL OR status = $2)
              AND ($3::text IS NULL OR type = $3)
              AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::uuid))
            ORDER BY created_at DESC, id DESC LIMIT $6""",
        webhook_id,
        status,
        event_type,
        before[0] if before else None,
        before[1] if before else None,
        limit + 1,
    )


async def get_delivery(conn: Connection, *, webhook_id: UUID, delivery_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2",
        delivery_id,
        webhook_id,
    )


async def send_again(conn: Connection, *, webhook_id: UUID, delivery_id: UUID) -> asyncpg.Record | None:
    """A delivered or failed delivery pending again, due now, with a fresh count of attempts;
    None when there is no such delivery or it is still pending."""
    return await conn.fetchrow(
        f"""UPDATE webhook_deliveries
               SET status = 'pending', next_attempt_at = now(), attempts_base = attempts, delivered_at = NULL
             WHERE id = $1 AND webhook_id = $2 AND status <> 'pending'
            RETURNING {DELIVERY_COLUMNS}""",
        delivery_id,
        webhook_id,
    )


# --- the sender ------------------------------------------------------------------------------


async def claim(
    conn: Connection,
    *,
    limit: int,
    per_endpoint: int,
    busy: dict[UUID, int],
    lease_seconds: float,
) -> list[asyncpg.Record]:
    """Take up to `limit` due deliveries of active subscriptions, oldest due first and at most
    `per_endpoint` minus `busy[subscription]` (what this process is sending to it already) per
    subscription: each is leased (due again `lease_seconds` from now, should this process never
    finish it) and its attempt counted. Rows another process holds are skipped, never waited for.
    Returns what an attempt needs: the URL, the secrets that sign, the body."""
    return await conn.fetch(
        """WITH picked AS (
               SELECT p.id FROM webhooks w
               LEFT JOIN unnest($3::uuid[], $4::int[]) AS b(webhook_id, busy) ON b.webhook_id = w.id
               CROSS JOIN LATERAL (
                   SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
                    WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= now()
                    ORDER BY d.next_attempt_at
                    LIMIT greatest(0, $2 - coalesce(b.busy, 0))
                    FOR UPDATE OF d SKIP LOCKED) p
               WHERE w.is_active
               ORDER BY p.next_attempt_at LIMIT $1)
           UPDATE webhook_deliveries d
              SET attempts = d.attempts + 1, last_attempt_at = now(),
                  next_attempt_at = now() + make_interval(secs => $5)
             FROM picked, webhooks w, webhook_events e
            WHERE d.id = picked.id AND w.id = d.webhook_id AND e.id = d.event_id
        RETURNING d.id, d.webhook_id, d.attempts, d.attempts_base, w.url, w.secret,
                  CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret,
                  e.body""",
        limit,
        per_endpoint,
        list(busy),
        list(busy.values()),
        lease_seconds,
    )


async def record_delivered(conn: Connection, *, delivery_id: UUID, attempt: int, status_code: int) -> bool:
    """The claimed attempt `attempt` was answered 2xx; False when the claim had been lost."""
    status = await conn.execute(
        """UPDATE webhook_deliveries
              SET status = 'delivered', next_attempt_at = NULL, delivered_at = now(),
                  last_status_code = $3, last_error = NULL
            WHERE id = $1 AND attempts = $2 AND status = 'pending'""",
        delivery_id,
        attempt,
        status_code,
    )
    return status != "UPDATE 0"


async def record_failure(
    conn: Connection,
    *,
    delivery_id: UUID,
    attempt: int,
    status_code: int | None,
    error: str | None,
    retry_in: float | None,
) -> bool:
    """The claimed attempt `attempt` failed: due again in `retry_in` seconds, or `failed` when
    None; False when the claim had been lost."""
    status = await conn.execute(
        """UPDATE webhook_deliveries
              SET status = CASE WHEN $5::float8 IS NULL THEN 'failed' ELSE 'pending' END,
                  next_attempt_at = now() + make_interval(secs => $5::float8),
                  last_status_code = $3, last_error = $4
            WHERE id = $1 AND attempts = $2 AND status = 'pending'""",
        delivery_id,
        attempt,
        status_code,
        error,
        retry_in,
    )
    return status != "UPDATE 0"


async def release(conn: Connection, *, claims: Sequence[tuple[UUID, int]]) -> None:
    """Give back claims a stopping process will not finish: due again now, the attempt uncounted."""
    await conn.execute(
        """UPDATE webhook_deliveries d
              SET next_attempt_at = now(), attempts = d.attempts - 1
             FROM unnest($1::uuid[], $2::int[]) AS c(id, attempt)
            WHERE d.id = c.id AND d.attempts = c.attempt AND d.status = 'pending'""",
        [c[0] for c in claims],
        [c[1] for c in claims],
    )


async def backlog(conn: Connection) -> tuple[int, float]:
    """(pending deliveries of active subscriptions, seconds since the oldest of them was written)."""
    row = await conn.fetchrow(
        """SELECT count(*) AS pending,
                  coalesce(extract(epoch FROM clock_timestamp() - min(d.created_at)), 0)::float8 AS oldest
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
            WHERE d.status = 'pending' AND w.is_active"""
    )
    assert row is not None
    return int(row["pending"]), float(row["oldest"])

"""SQL for webhook subscriptions, their deliveries, and the sender's claims (migrations/0300)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection

WEBHOOK_COLUMNS = (
    "id, url, events, description, is_active, failing_since, disabled_at, disabled_reason, "
    "CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END AS previous_secret_expires_at, "
    "created_by, updated_by, created_at, updated_at"
)
DELIVERY_COLUMNS = (
    "id, webhook_id, event_id, type, status, attempts - attempts_base AS attempts, attempts AS total_attempts, "
    "last_status_code, last_error, next_attempt_at, last_attempt_at, "
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


AGENT_EVENTS = ["order_create", "order_update"]
"""An agent's subscription's `events`: ACP's types, which `webhook_emit` never fans out (docs/agents.md)."""


async def insert_agent_webhook(conn: Connection, *, agent_key_id: UUID, url: str, secret: str, actor: str) -> None:
    """The subscription of an agent key's `webhook_url`: its own orders' events, signed as ACP signs them."""
    await conn.execute(
        """INSERT INTO webhooks (url, events, description, secret, created_by, updated_by, agent_key_id, signing)
           VALUES ($1, $2, $3, $4, $5, $5, $6, 'acp')""",
        url,
        AGENT_EVENTS,
        f"order events of agent key {agent_key_id}",
        secret,
        actor,
        agent_key_id,
    )


async def emit_to_agent(conn: Connection, *, agent_key_id: UUID, event_type: str, body: str) -> bool:
    """Write `body` for the active subscription of agent key `agent_key_id`, in `conn`'s transaction
    (the outbox: delivered and retried as every event); False when that key has none."""
    made: bool = await conn.fetchval(
        """WITH hook AS (SELECT id FROM webhooks WHERE agent_key_id = $1 AND is_active),
                event AS (INSERT INTO webhook_events (type, body)
                          SELECT $2, $3 WHERE EXISTS (SELECT 1 FROM hook) RETURNING id),
                delivery AS (INSERT INTO webhook_deliveries (webhook_id, event_id, type)
                             SELECT hook.id, event.id, $2 FROM hook, event RETURNING 1)
           SELECT EXISTS (SELECT 1 FROM delivery)""",
        agent_key_id,
        event_type,
        body,
    )
    return made


async def get_webhook(conn: Connection, *, webhook_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1", webhook_id)


async def signing(conn: Connection, *, webhook_id: UUID) -> asyncpg.Record | None:
    """What an attempt needs of a subscription: its URL and the secrets that sign now."""
    return await conn.fetchrow(
        """SELECT url, secret, CASE WHEN previous_secret_expires_at > now() THEN previous_secret END AS previous_secret
             FROM webhooks WHERE id = $1""",
        webhook_id,
    )


async def update_webhook(
    conn: Connection, *, webhook_id: UUID, fields: dict[str, Any], actor: str
) -> asyncpg.Record | None:
    """Replace every writable field; None when there is no such subscription. Making it active
    clears what a disabling left (`disabled_at`, `disabled_reason`) and starts its count of failing time afresh."""
    assert _WRITABLE.index("is_active") == 3  # $6 below
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(_WRITABLE, start=3))
    return await conn.fetchrow(
        f"""UPDATE webhooks SET {assignments}, updated_by = $2, updated_at = clock_timestamp(),
                   failing_since = CASE WHEN $6 AND NOT is_active THEN NULL ELSE failing_since END,
                   disabled_at = CASE WHEN $6 THEN NULL ELSE disabled_at END,
                   disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END
            WHERE id = $1 RETURNING {WEBHOOK_COLUMNS}""",
        webhook_id,
        actor,
        *(fields[c] for c in _WRITABLE),
    )


async def wait_for_missed_events(conn: Connection, *, webhook_id: UUID) -> None:
    """Take the subscription's enabling lock until the transaction ends: it waits for every open
    transaction that wrote an event this subscription wants while it was inactive, and makes those
    that write one now wait for it (migrations/0694). Then a replay made after re-enabling sees
    every such event committed, and every later one has its delivery already."""
    await conn.execute("SELECT pg_advisory_xact_lock(webhook_enable_lock($1))", webhook_id)


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
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A subscription's deliveries newest first (keyset on created_at, id), made in `[since, until)`
    when given; `limit + 1` rows."""
    return await conn.fetch(
        f"""SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
            WHERE webhook_id = $1
              AND ($2::text IS NULL OR status = $2)
              AND ($3::text IS NULL OR type = $3)
              AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::uuid))
              AND ($7::timestamptz IS NULL OR created_at >= $7)
              AND ($8::timestamptz IS NULL OR created_at < $8)
            ORDER BY created_at DESC, id DESC LIMIT $6""",
        webhook_id,
        status,
        event_type,
        before[0] if before else None,
        before[1] if before else None,
        limit + 1,
        since,
        until,
    )


async def get_delivery(conn: Connection, *, webhook_id: UUID, delivery_id: UUID) -> asyncpg.Record | None:
    """The delivery with this webhook-id (the newest, when a replay sent it again)."""
    return await conn.fetchrow(
        f"""SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2
            ORDER BY created_at DESC LIMIT 1""",
        delivery_id,
        webhook_id,
    )


async def send_again(conn: Connection, *, webhook_id: UUID, delivery_id: UUID) -> asyncpg.Record | None:
    """A delivered or failed delivery (its newest row) pending again, due now, with a fresh count of
    attempts; None when there is no such delivery or a row of it is still pending."""
    return await conn.fetchrow(
        f"""UPDATE webhook_deliveries
               SET status = 'pending', next_attempt_at = now(), attempts_base = attempts, delivered_at = NULL
             WHERE (id, created_at) = (SELECT id, created_at FROM webhook_deliveries
                                        WHERE id = $1 AND webhook_id = $2 ORDER BY created_at DESC LIMIT 1)
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries
                                WHERE id = $1 AND webhook_id = $2 AND status = 'pending')
            RETURNING {DELIVERY_COLUMNS}""",
        delivery_id,
        webhook_id,
    )


async def replay(
    conn: Connection, *, webhook_id: UUID, since: datetime, until: datetime, types: Sequence[str]
) -> tuple[int, int]:
    """New pending deliveries, due now, of every event of `types` written in `[since, until)`, each
    under the webhook-id this subscription first got it with (or, for an event it never got, an id
    made of the subscription's and the event's, the same at every replay); events whose delivery
    to it is still pending are left to it. Returns (deliveries made, events left pending)."""
    row = await conn.fetchrow(
        """WITH wanted AS (
               SELECT e.id AS event_id, e.type, e.created_at,
                      (SELECT d.id FROM webhook_deliveries d WHERE d.webhook_id = $1 AND d.event_id = e.id
                        ORDER BY d.created_at LIMIT 1) AS first_id,
                      EXISTS (SELECT 1 FROM webhook_deliveries d
                               WHERE d.webhook_id = $1 AND d.event_id = e.id AND d.status = 'pending') AS pending
                 FROM webhook_events e
                WHERE e.created_at >= $2 AND e.created_at < $3 AND e.type = any($4::text[])),
           made AS (
               INSERT INTO webhook_deliveries (id, webhook_id, event_id, type)
               SELECT coalesce(first_id, md5($1::text || ':' || event_id)::uuid), $1, event_id, type
                 FROM wanted WHERE NOT pending ORDER BY created_at, event_id
               RETURNING 1)
           SELECT (SELECT count(*) FROM made) AS made, (SELECT count(*) FROM wanted WHERE pending) AS pending""",
        webhook_id,
        since,
        until,
        list(types),
    )
    assert row is not None
    return int(row["made"]), int(row["pending"])


# --- the sender ------------------------------------------------------------------------------


async def claim(
    conn: Connection,
    *,
    limit: int,
    per_endpoint: int,
    busy: dict[UUID, int],
    lease_seconds: float,
    now: datetime,
) -> list[asyncpg.Record]:
    """Take up to `limit` due deliveries of active subscriptions, oldest due first and at most
    `per_endpoint` minus `busy[subscription]` (what this process is sending to it already) per
    subscription: each is leased (due again `lease_seconds` from now, should this process never
    finish it) and its attempt counted. Rows another process holds are skipped, never waited for.
    Returns what an attempt needs: the URL, the secrets that sign, the body."""
    return await conn.fetch(
        """WITH picked AS (
               SELECT p.id, p.created_at FROM webhooks w
               LEFT JOIN unnest($3::uuid[], $4::int[]) AS b(webhook_id, busy) ON b.webhook_id = w.id
               CROSS JOIN LATERAL (
                   SELECT d.id, d.created_at, d.next_attempt_at FROM webhook_deliveries d
                    WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= $6::timestamptz
                    ORDER BY d.next_attempt_at
                    LIMIT greatest(0, $2 - coalesce(b.busy, 0))
                    FOR UPDATE OF d SKIP LOCKED) p
               WHERE w.is_active
               ORDER BY p.next_attempt_at LIMIT $1)
           UPDATE webhook_deliveries d
              SET attempts = d.attempts + 1, last_attempt_at = $6,
                  next_attempt_at = $6::timestamptz + make_interval(secs => $5)
             FROM picked, webhooks w, webhook_events e
            WHERE (d.id, d.created_at) = (picked.id, picked.created_at) AND w.id = d.webhook_id AND e.id = d.event_id
        RETURNING d.id, d.webhook_id, d.attempts, d.attempts_base, w.url, w.secret, w.signing,
                  CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret,
                  e.body""",
        limit,
        per_endpoint,
        list(busy),
        list(busy.values()),
        lease_seconds,
        now,
    )


async def record_delivered(
    conn: Connection, *, delivery_id: UUID, webhook_id: UUID, attempt: int, status_code: int, now: datetime
) -> bool:
    """The claimed attempt `attempt` was answered 2xx (and its subscription is failing no more);
    False when the claim had been lost."""
    recorded = await conn.fetchval(
        """WITH done AS (
               UPDATE webhook_deliveries
                  SET status = 'delivered', next_attempt_at = NULL, delivered_at = $4,
                      last_status_code = $3, last_error = NULL
                WHERE id = $1 AND attempts = $2 AND status = 'pending' RETURNING 1),
           healthy AS (
               UPDATE webhooks SET failing_since = NULL
                WHERE id = $5 AND failing_since IS NOT NULL AND EXISTS (SELECT 1 FROM done) RETURNING 1)
           SELECT EXISTS (SELECT 1 FROM done)""",
        delivery_id,
        attempt,
        status_code,
        now,
        webhook_id,
    )
    return bool(recorded)


async def record_failure(
    conn: Connection,
    *,
    delivery_id: UUID,
    attempt: int,
    status_code: int | None,
    error: str | None,
    retry_in: float | None,
    webhook_id: UUID,
    now: datetime,
) -> bool:
    """The claimed attempt `attempt` failed: due again in `retry_in` seconds, or `failed` when
    None; its subscription failing since `now` unless it was already. False when the claim had been lost."""
    recorded = await conn.fetchval(
        """WITH done AS (
               UPDATE webhook_deliveries
                  SET status = CASE WHEN $5::float8 IS NULL THEN 'failed' ELSE 'pending' END,
                      next_attempt_at = $6::timestamptz + make_interval(secs => $5::float8),
                      last_status_code = $3, last_error = $4
                WHERE id = $1 AND attempts = $2 AND status = 'pending' RETURNING 1),
           failing AS (
               UPDATE webhooks SET failing_since = $6
                WHERE id = $7 AND failing_since IS NULL AND EXISTS (SELECT 1 FROM done) RETURNING 1)
           SELECT EXISTS (SELECT 1 FROM done)""",
        delivery_id,
        attempt,
        status_code,
        error,
        retry_in,
        now,
        webhook_id,
    )
    return bool(recorded)


async def release(conn: Connection, *, claims: Sequence[tuple[UUID, int]], now: datetime) -> None:
    """Give back claims a stopping process will not finish: due again now, the attempt uncounted."""
    await conn.execute(
        """UPDATE webhook_deliveries d
              SET next_attempt_at = $3, attempts = d.attempts - 1
             FROM unnest($1::uuid[], $2::int[]) AS c(id, attempt)
            WHERE d.id = c.id AND d.attempts = c.attempt AND d.status = 'pending'""",
        [c[0] for c in claims],
        [c[1] for c in claims],
        now,
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


async def disable_failing(conn: Connection, *, now: datetime, after_hours: float) -> list[asyncpg.Record]:
    """Disable every active subscription whose attempts have all failed since `after_hours` before
    `now`, and write `webhook.disabled` for each (to the subscriptions that want it: not the
    disabled one, inactive now); call it in a transaction."""
    disabled = await conn.fetch(
        f"""UPDATE webhooks
               SET is_active = false, disabled_at = $1,
                   disabled_reason = 'every delivery attempt failed since ' || webhook_time(failing_since)
                                     || ' (WEBHOOK_DISABLE_AFTER_HOURS ' || $2::text || ')'
             WHERE is_active AND failing_since <= $1::timestamptz - make_interval(secs => $2::float8 * 3600)
            RETURNING {WEBHOOK_COLUMNS}""",
        now,
        after_hours,
    )
    for row in disabled:
        await conn.execute(
            """SELECT webhook_emit('webhook.disabled', json_build_object(
                   'webhook_id', $1::uuid, 'url', $2::text, 'disabled_reason', $3::text,
                   'failing_since', webhook_time($4), 'disabled_at', webhook_time($5))::text)""",
            row["id"],
            row["url"],
            row["disabled_reason"],
            row["failing_since"],
            row["disabled_at"],
        )
    return disabled

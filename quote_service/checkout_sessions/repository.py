"""SQL of checkout sessions (migration 0930)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from quote_service.checkout_sessions.schemas import Protocol, State, Status
from quote_service.db.pool import Connection

_COLUMNS = (
    "id, principal_id, agent_name, protocol, status, currency, quote_id, quote_expires_at, order_id, state,"
    " created_at, updated_at, expires_at, completed_at"
)


def state_of(row: asyncpg.Record) -> State:
    return msgspec.convert(row["state"], State)


def _encoded(state: State) -> object:
    return msgspec.to_builtins(state)


async def insert(
    conn: Connection,
    *,
    session_id: UUID,
    principal_id: UUID,
    agent_name: str,
    protocol: Protocol,
    currency: str,
    state: State,
    now: datetime,
    expires_at: datetime,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"INSERT INTO checkout_sessions ({_COLUMNS}) VALUES"
        " ($1, $2, $3, $4, 'open', $5, $6, $7, NULL, $8, $9, $9, $10, NULL) RETURNING *",
        session_id,
        principal_id,
        agent_name,
        protocol,
        currency,
        state.summary.quote_id,
        state.summary.quote_expires_at,
        _encoded(state),
        now,
        expires_at,
    )
    assert row is not None
    return row


async def get(conn: Connection, *, session_id: UUID, principal_id: UUID, lock: bool = False) -> asyncpg.Record | None:
    """The session, only to its own agent key; `lock`: FOR UPDATE (in a transaction)."""
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM checkout_sessions WHERE id = $1 AND principal_id = $2"
        + (" FOR UPDATE" if lock else ""),
        session_id,
        principal_id,
    )


async def save(conn: Connection, *, session_id: UUID, state: State, now: datetime) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE checkout_sessions SET state = $2, quote_id = $3, quote_expires_at = $4, updated_at = $5"
        f" WHERE id = $1 RETURNING {_COLUMNS}",
        session_id,
        _encoded(state),
        state.summary.quote_id,
        state.summary.quote_expires_at,
        now,
    )
    assert row is not None
    return row


async def finish(
    conn: Connection, *, session_id: UUID, status: Status, state: State, order_id: UUID | None, now: datetime
) -> asyncpg.Record:
    """Mark the session completed (with its order) or canceled."""
    row = await conn.fetchrow(
        "UPDATE checkout_sessions SET status = $2::text, state = $3, order_id = $4, updated_at = $5::timestamptz,"
        " completed_at = CASE WHEN $2::text = 'completed' THEN $5::timestamptz END,"
        " quote_id = $6, quote_expires_at = $7"
        f" WHERE id = $1 RETURNING {_COLUMNS}",
        session_id,
        status,
        _encoded(state),
        order_id,
        now,
        state.summary.quote_id,
        state.summary.quote_expires_at,
    )
    assert row is not None
    return row


_PER_AGENT = """
WITH sessions AS (
    SELECT principal_id, max(agent_name) AS agent_name,
           count(*) AS created,
           count(*) FILTER (WHERE status = 'completed') AS completed,
           count(*) FILTER (WHERE status = 'canceled') AS abandoned,
           count(*) FILTER (WHERE status = 'open' AND expires_at <= $3) AS expired
      FROM checkout_sessions
     WHERE created_at >= $1 AND created_at < $2
     GROUP BY principal_id
), placed AS (
    SELECT (agent->>'key_id')::uuid AS principal_id, max(agent->>'name') AS agent_name,
           count(*) AS orders,
           count(*) FILTER (WHERE flash_purchase_id IS NOT NULL) AS flash_purchases
      FROM orders
     WHERE agent IS NOT NULL AND created_at >= $1 AND created_at < $2
     GROUP BY 1
)
SELECT principal_id, coalesce(s.agent_name, p.agent_name) AS agent_name,
       coalesce(s.created, 0) AS created, coalesce(s.completed, 0) AS completed,
       coalesce(s.abandoned, 0) AS abandoned, coalesce(s.expired, 0) AS expired,
       coalesce(p.orders, 0) AS orders, coalesce(p.flash_purchases, 0) AS flash_purchases
  FROM sessions s FULL JOIN placed p USING (principal_id)
 ORDER BY created DESC, orders DESC, principal_id
"""


async def per_agent(conn: Connection, *, since: datetime, until: datetime, now: datetime) -> list[asyncpg.Record]:
    """Per agent key: its sessions created in [since, until) (created, completed, canceled, expired open) and
    the orders its quotes made in that time (a session's, one placed from a quote, a flash purchase), any
    flash purchases among them."""
    return list(await conn.fetch(_PER_AGENT, since, until, now))

"""Admin writes carry who is writing to PostgreSQL, where triggers append the audit row.

The audit triggers (migration 0400) write one `audit_log` row per changed configuration row, in
the same transaction as the change, when the connection names its actor in the session setting
`quote_service.audit_actor`. `audited(pool, actor, request_id)` is the pool an admin write uses:
every connection it hands out has the setting, and the pool's `RESET ALL` on release clears it,
so a connection reused by a quote or an order writes no audit row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import msgspec

from quote_service.db.pool import Connection, Pool

_SET = (
    "SELECT set_config('quote_service.audit_actor', $1, false), set_config('quote_service.audit_request_id', $2, false)"
)


def actor_document(*, kind: str, actor_id: str | None, name: str) -> str:
    """The `actor` of an audit row as JSON text: `{kind, id, name}`."""
    return msgspec.json.encode({"kind": kind, "id": actor_id, "name": name}).decode()


async def mark(conn: Connection, actor: str, request_id: str | None) -> None:
    """Make the writes of `conn` audited as `actor` (a JSON document) until it is released."""
    await conn.fetchval(_SET, actor, request_id or "")


class _AuditedPool:
    """The parts of the pool an admin write uses, with every connection marked."""

    __slots__ = ("_actor", "_on", "_pool", "_request_id")

    def __init__(self, pool: Pool, actor: str, request_id: str | None, on: Connection | None) -> None:
        self._pool = pool
        self._actor = actor
        self._request_id = request_id
        self._on = on

    @asynccontextmanager
    async def _acquire(self, wait: float | None) -> AsyncIterator[Connection]:
        if self._on is not None:
            # The caller's transaction: a write's own `conn.transaction()` is a savepoint in it.
            await mark(self._on, self._actor, self._request_id)
            yield self._on
            return
        async with self._pool.acquire(timeout=wait) as conn:
            await mark(conn, self._actor, self._request_id)
            yield conn

    def acquire(self, *, timeout: float | None = None) -> Any:
        return self._acquire(timeout)

    def __getattr__(self, name: str) -> Any:
        # pool.fetchrow & co. would use an unmarked connection: run them on a marked one.
        async def on_marked(*args: Any, **kwargs: Any) -> Any:
            async with self._acquire(None) as conn:
                return await getattr(conn, name)(*args, **kwargs)

        if name in {"fetch", "fetchrow", "fetchval", "execute", "executemany", "copy_records_to_table"}:
            return on_marked
        return getattr(self._pool, name)


def audited(pool: Pool, actor: str, request_id: str | None, *, on: Connection | None = None) -> Pool:
    """`pool` for one admin write: what it writes is audited as `actor`. `on`: a connection in a
    transaction (an approved change request being applied) that every acquire hands out instead,
    so the write commits, or not, with what that transaction does next."""
    return cast(Pool, _AuditedPool(pool, actor, request_id, on))

"""SQL for the audit log: appends (the change-request rows; the triggers write the rest) and reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from quote_service.db.pool import Connection

COLUMNS = "id, at, actor, action, entity_type, entity_id, before, after, request_id"


async def append(
    conn: Connection,
    *,
    actor: dict[str, Any],
    action: str,
    entity_type: str,
    entity_id: str | None,
    before: Any,
    after: Any,
    request_id: str | None,
) -> None:
    """One audit row, on `conn` (inside the caller's transaction)."""
    await conn.execute(
        """INSERT INTO audit_log (actor, actor_id, action, entity_type, entity_id, before, after, request_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        actor,
        actor.get("id"),
        action,
        entity_type,
        entity_id,
        before,
        after,
        request_id,
    )


async def list_audit(
    conn: Connection,
    *,
    entity_type: str | None,
    entity_id: str | None,
    actor_id: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first; `since` inclusive, `until` exclusive; `limit + 1` rows (pagination.py)."""
    return await conn.fetch(
        f"""SELECT {COLUMNS} FROM audit_log
            WHERE ($1::text IS NULL OR entity_type = $1) AND ($2::text IS NULL OR entity_id = $2)
              AND ($3::text IS NULL OR actor_id = $3) AND ($4::text IS NULL OR action = $4)
              AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)
              AND ($7::bigint IS NULL OR id < $7)
            ORDER BY id DESC LIMIT $8""",
        entity_type,
        entity_id,
        actor_id,
        action,
        since,
        until,
        before_id,
        limit + 1,
    )

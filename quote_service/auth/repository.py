"""SQL for users, API keys and revoked tokens."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection
from quote_service.errors import DuplicateKey

_USER_COLUMNS = (
    "id, username, password_hash, role, tier, segment, customer_group, is_active, created_at, created_by, seller_id,"
    " sessions_ended_at"
)
_KEY_COLUMNS = (
    "id, name, role, prefix, money_format, customer_group, created_at, revoked_at, created_by, seller_id, public_key,"
    " (SELECT w.url FROM webhooks w WHERE w.agent_key_id = api_keys.id) AS webhook_url"
)
MAX_LINEAGE = 64
"""How many makers back `root_person` looks (a chain of users making users is never this long)."""


async def insert_user(
    conn: Connection,
    *,
    username: str,
    password_hash: str,
    role: str,
    tier: str | None,
    segment: str | None,
    customer_group: str | None = None,
    created_by: UUID | None = None,
    seller_id: str | None = None,
) -> asyncpg.Record:
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO users (username, password_hash, role, tier, segment, customer_group, created_by, seller_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_USER_COLUMNS}""",
            username,
            password_hash,
            role,
            tier,
            segment,
            customer_group,
            created_by,
            seller_id,
        )
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateKey(f"username {username!r} is taken") from exc
    assert row is not None
    return row


async def get_user_by_username(conn: Connection, *, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE lower(username) = lower($1)", username)


async def get_user(conn: Connection, *, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)


async def update_user(conn: Connection, *, user_id: UUID, fields: dict[str, object]) -> asyncpg.Record | None:
    """Set `fields` (column → value, names from the code, never from a request); None: no such user."""
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(fields, start=2))
    return await conn.fetchrow(
        f"UPDATE users SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {_USER_COLUMNS}",
        user_id,
        *fields.values(),
    )


async def person_of(conn: Connection, *, principal_id: UUID) -> UUID:
    """The person a user or API key acts for (docs/authentication.md): a user, itself; a key, the
    person whose request made it, or itself when it was made on the command line."""
    person: UUID = await conn.fetchval(
        "SELECT coalesce((SELECT coalesce(created_by, id) FROM api_keys WHERE id = $1), $1)", principal_id
    )
    return person


async def root_person(conn: Connection, *, principal_id: UUID) -> UUID:
    """The person a user or key counts as in approvals (docs/governance.md#who-may-approve): a
    key's maker (itself when made on the command line), then, for a user made over HTTP, whoever
    made that user, and so on up to a user or key made on the command line."""
    root: UUID = await conn.fetchval(
        """WITH RECURSIVE lineage (person, depth) AS (
               SELECT coalesce((SELECT coalesce(created_by, id) FROM api_keys WHERE id = $1), $1), 0
               UNION ALL
               SELECT u.created_by, l.depth + 1 FROM lineage l JOIN users u ON u.id = l.person
               WHERE u.created_by IS NOT NULL AND l.depth < $2
           )
           SELECT person FROM lineage ORDER BY depth DESC LIMIT 1""",
        principal_id,
        MAX_LINEAGE,
    )
    return root


async def person_name(conn: Connection, *, person_id: UUID) -> str | None:
    """How the audit log names a person (a user's username, a key made on the command line as
    `api-key:<name>`); None: no such user or key."""
    name: str | None = await conn.fetchval(
        """SELECT coalesce((SELECT username FROM users WHERE id = $1),
                           (SELECT 'api-key:' || name FROM api_keys WHERE id = $1))""",
        person_id,
    )
    return name


async def lock_active_admins(conn: Connection) -> list[UUID]:
    """The active admin users, their rows locked until the transaction ends: two admins demoting
    each other at once are counted one after the other, never both against the same count."""
    rows = await conn.fetch("SELECT id FROM users WHERE role = 'admin' AND is_active ORDER BY id FOR UPDATE")
    return [r["id"] for r in rows]


async def insert_api_key(
    conn: Connection,
    *,
    name: str,
    role: str,
    key_hash: bytes,
    prefix: str,
    created_by: UUID | None,
    money_format: str = "string",
    customer_group: str | None = None,
    seller_id: str | None = None,
    public_key: dict[str, object] | None = None,
) -> asyncpg.Record:
    """A new key (its `webhook_url` is null: an agent's subscription is written after it)."""
    row = await conn.fetchrow(
        f"""INSERT INTO api_keys (name, role, key_hash, prefix, created_by, money_format, customer_group, seller_id,
                                  public_key)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_KEY_COLUMNS}""",
        name,
        role,
        key_hash,
        prefix,
        created_by,
        money_format,
        customer_group,
        seller_id,
        public_key,
    )
    assert row is not None
    return row


async def get_active_api_key(conn: Connection, *, key_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash
    )


async def get_api_key(conn: Connection, *, key_id: UUID) -> asyncpg.Record | None:
    """An unrevoked key by its id."""
    return await conn.fetchrow(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = $1 AND revoked_at IS NULL", key_id)


async def revoke_api_key(conn: Connection, *, key_id: UUID) -> asyncpg.Record | None:
    """Revoke a key (idempotent); None when the id is unknown."""
    return await conn.fetchrow(
        f"""UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
            WHERE id = $1 RETURNING {_KEY_COLUMNS}, key_hash""",
        key_id,
    )


async def list_api_keys(conn: Connection, *, after: tuple[object, UUID] | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_KEY_COLUMNS} FROM api_keys
            WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid)
            ORDER BY created_at, id LIMIT $3""",
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )


async def revoke_token(conn: Connection, *, jti: str, user_id: UUID, expires_at: datetime) -> None:
    """Record a logged-out token (a second logout of the same token changes nothing)."""
    await conn.execute(
        """INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (jti) DO NOTHING""",
        jti,
        user_id,
        expires_at,
    )


async def revoked_tokens(conn: Connection, *, since: datetime | None) -> list[asyncpg.Record]:
    """Unexpired revoked tokens (jti, expires_at) revoked at or after `since` (None: all of them)."""
    return await conn.fetch(
        """SELECT jti, expires_at FROM revoked_tokens
           WHERE expires_at > now() AND ($1::timestamptz IS NULL OR revoked_at >= $1)""",
        since,
    )


async def ended_sessions(
    conn: Connection, *, changed_since: datetime | None, ended_after: datetime
) -> list[asyncpg.Record]:
    """Users (id, sessions_ended_at) whose sessions ended after `ended_after`, among those
    updated at or after `changed_since` (None: all of them)."""
    return await conn.fetch(
        """SELECT id, sessions_ended_at FROM users
           WHERE sessions_ended_at IS NOT NULL AND sessions_ended_at > $2
             AND ($1::timestamptz IS NULL OR updated_at >= $1)""",
        changed_since,
        ended_after,
    )


async def delete_expired_revocations(conn: Connection, *, before: datetime) -> None:
    """Forget revocations of tokens that expired before `before` (they are refused as expired)."""
    await conn.execute("DELETE FROM revoked_tokens WHERE expires_at < $1", before)


async def database_now(conn: Connection) -> datetime:
    """PostgreSQL's clock now (not the transaction's start)."""
    now: datetime = await conn.fetchval("SELECT clock_timestamp()")
    return now

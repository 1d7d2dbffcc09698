"""SQL for feature flags, and their storage format.

Values live in jsonb: NUMBER and PERCENTAGE values as JSON strings of the exact decimal,
a JSON null as SQL NULL, the rollout as one object (see migrations/0004).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.pool import Connection
from quote_service.db.writes import insert_row
from quote_service.errors import DuplicateKey
from quote_service.pricing.flags import FeatureFlag, FlagType, Rollout

FLAG_COLUMNS = (
    "id, key, name, description, type, value, default_value, is_enabled, rollout, permanent, "
    "flag_lifecycle(permanent, updated_at, rollout, now()) AS lifecycle, "
    "created_by, updated_by, created_at, updated_at"
)
_WRITABLE = ("name", "description", "type", "value", "default_value", "is_enabled", "rollout", "permanent")
_JSON_COLUMNS = frozenset({"value", "default_value", "rollout"})
_DECIMAL_TYPES = frozenset({"NUMBER", "PERCENTAGE"})


def encode_column(name: str, value: Any) -> Any:
    """A field as its column holds it (jsonb columns: JSON-ready builtins, decimals as strings)."""
    return msgspec.to_builtins(value) if name in _JSON_COLUMNS else value


def decode_value(flag_type: FlagType, stored: Any) -> Any:
    """A stored value back in the engine's terms (Decimal for NUMBER and PERCENTAGE)."""
    if stored is not None and flag_type in _DECIMAL_TYPES:
        return Decimal(stored)
    return stored


def decode_rollout(flag_type: FlagType, stored: dict[str, Any]) -> Rollout:
    rollout = msgspec.convert(stored, Rollout)
    variants = tuple(
        msgspec.structs.replace(variant, value=decode_value(flag_type, variant.value)) for variant in rollout.variants
    )
    return msgspec.structs.replace(rollout, variants=variants)


def model_from_row(row: asyncpg.Record) -> FeatureFlag:
    """The flag as the evaluation engine reads it."""
    flag_type: FlagType = row["type"]
    return FeatureFlag(
        key=row["key"],
        type=flag_type,
        value=decode_value(flag_type, row["value"]),
        default_value=decode_value(flag_type, row["default_value"]),
        is_enabled=row["is_enabled"],
        rollout=decode_rollout(flag_type, row["rollout"]),
    )


def _duplicate_key(key: str) -> DuplicateKey:
    return DuplicateKey(f"a feature flag with key {key!r} already exists")


async def insert_flag(conn: Connection, *, key: str, fields: dict[str, Any], actor: str) -> asyncpg.Record:
    values = {"key": key, **{c: encode_column(c, fields[c]) for c in _WRITABLE}}
    try:
        return await insert_row(conn, "feature_flags", values, FLAG_COLUMNS, actor=actor)
    except asyncpg.UniqueViolationError as exc:
        raise _duplicate_key(key) from exc


async def get_flag(conn: Connection, *, flag_id: UUID, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {FLAG_COLUMNS} FROM feature_flags WHERE id = $1{lock}", flag_id)


async def get_flag_by_key(conn: Connection, *, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {FLAG_COLUMNS} FROM feature_flags WHERE key = $1", key)


async def explain_change(conn: Connection, *, reason: str | None = None, actor: str | None = None) -> None:
    """Say why (and, for a delete, who) in the history row of this transaction's flag changes
    (migration 0020's trigger reads these transaction-local settings)."""
    if reason is not None:
        await conn.execute("SELECT set_config('quote_service.flag_change_reason', $1, true)", reason)
    if actor is not None:
        await conn.execute("SELECT set_config('quote_service.flag_change_actor', $1, true)", actor)


async def update_flag(
    conn: Connection, *, flag_id: UUID, fields: dict[str, Any], actor: str, roll_back: bool = False
) -> asyncpg.Record | None:
    """Replace every writable field; None when no flag has this id.

    `roll_back`: also mark the experiment rolled back, only if it is not already — None when
    it is (the conditional UPDATE that makes a guardrail rollback happen exactly once)."""
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(_WRITABLE, start=4))
    return await conn.fetchrow(
        f"""UPDATE feature_flags SET {assignments}, updated_by = $2, updated_at = now(),
                   rolled_back_at = CASE WHEN $3 THEN now() ELSE rolled_back_at END
            WHERE id = $1 AND (NOT $3 OR rolled_back_at IS NULL) RETURNING {FLAG_COLUMNS}""",
        flag_id,
        actor,
        roll_back,
        *(encode_column(c, fields[c]) for c in _WRITABLE),
    )


async def delete_flag(conn: Connection, *, flag_id: UUID) -> asyncpg.Record | None:
    """Delete a flag and return it as it was; None when no flag has this id."""
    return await conn.fetchrow(f"DELETE FROM feature_flags WHERE id = $1 RETURNING {FLAG_COLUMNS}", flag_id)


HISTORY_COLUMNS = "id, flag_id, flag_key, action, actor, reason, before, after, changed_at"


async def flag_history(conn: Connection, *, flag_id: UUID, before: int | None, limit: int) -> list[asyncpg.Record]:
    """A flag's changes, newest first; `before` is the id of the last row of the previous page."""
    return await conn.fetch(
        f"""SELECT {HISTORY_COLUMNS} FROM feature_flag_history
            WHERE flag_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3""",
        flag_id,
        before,
        limit + 1,
    )


async def list_flags(
    conn: Connection, *, is_enabled: bool | None, lifecycle: str | None, after: str | None, limit: int
) -> list[asyncpg.Record]:
    """Flags ordered by key, after the key `after`."""
    return await conn.fetch(
        f"""SELECT {FLAG_COLUMNS} FROM feature_flags
            WHERE ($1::boolean IS NULL OR is_enabled = $1)
              AND ($2::text IS NULL OR key > $2)
              AND ($4::text IS NULL OR flag_lifecycle(permanent, updated_at, rollout, now()) = $4)
            ORDER BY key
            LIMIT $3""",
        is_enabled,
        after,
        limit + 1,
        lifecycle,
    )


async def mark_stale(conn: Connection, *, now: datetime, days: float) -> list[asyncpg.Record]:
    """Flags that are potentially stale at `now` and were not marked so in their current version:
    marked now (each once, whichever process gets there first); call it in a transaction."""
    return await conn.fetch(
        """WITH stale AS (
               SELECT id, updated_at FROM feature_flags
                WHERE flag_lifecycle(permanent, updated_at, rollout, $1, $2) = 'potentially_stale')
           INSERT INTO feature_flag_stale_marks (flag_id, flag_updated_at, marked_at)
           SELECT id, updated_at, $1 FROM stale
           ON CONFLICT DO NOTHING
           RETURNING flag_id,
                     (SELECT key FROM feature_flags f WHERE f.id = flag_id) AS key,
                     flag_updated_at""",
        now,
        days,
    )


async def load_active(conn: Connection) -> list[FeatureFlag]:
    """Every flag, disabled ones too: the engine answers DISABLED with their default_value."""
    rows = await conn.fetch(f"SELECT {FLAG_COLUMNS} FROM feature_flags ORDER BY key")
    return [model_from_row(row) for row in rows]

"""SQL for pricing-rule versions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.pool import Connection
from quote_service.db.rows import row_as
from quote_service.db.writes import insert_row, picked
from quote_service.pricing.rules import PricingRule, RuleConfig

RULE_COLUMNS = (
    "id, name, version, type, configuration, region, product_id, category_id, priority, exclusive, "
    "effective_from, effective_to, is_active, retired_at, created_by, created_at"
)
AS_SENT = (
    *("type", "region", "product_id", "category_id", "priority", "exclusive"),
    *("effective_from", "effective_to", "is_active"),
)
"""The columns a version takes from its body as sent (the others: its name, number, configuration, writer)."""
_WRITABLE = ("name", "version", "configuration", *AS_SENT, "created_by", "updated_by")


def rule_from_row(row: asyncpg.Record) -> PricingRule:
    """A stored version as the model (the jsonb configuration converted to its typed Struct)."""
    configuration = msgspec.convert({**row["configuration"], "type": row["type"]}, RuleConfig)
    return row_as(
        PricingRule,
        row,
        configuration=configuration,
    )


async def lock_name(conn: Connection, *, name: str) -> None:
    """Serialise writers of one rule name until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('pricing_rule:' || $1, 0))", name)


async def latest_version(conn: Connection, *, name: str) -> asyncpg.Record | None:
    """The highest version of `name` (retired or not), or None for an unknown name."""
    return await conn.fetchrow(
        f"SELECT {RULE_COLUMNS} FROM pricing_rules WHERE name = $1 ORDER BY version DESC LIMIT 1", name
    )


async def insert_version(conn: Connection, *, fields: dict[str, Any]) -> asyncpg.Record:
    """Insert one version; asyncpg.UniqueViolationError when (name, version) exists."""
    return await insert_row(conn, "pricing_rules", picked(fields, _WRITABLE), RULE_COLUMNS)


async def get_version(conn: Connection, *, rule_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {RULE_COLUMNS} FROM pricing_rules WHERE id = $1", rule_id)


async def retire_name(conn: Connection, *, name: str, actor: str) -> int:
    """Stamp every live version of `name` retired; returns how many were."""
    status = await conn.execute(
        """UPDATE pricing_rules SET retired_at = clock_timestamp(), updated_by = $2, updated_at = clock_timestamp()
           WHERE name = $1 AND retired_at IS NULL""",
        name,
        actor,
    )
    return int(status.rsplit(" ", 1)[-1])


async def list_latest(
    conn: Connection,
    *,
    rule_type: str | None,
    region: str | None,
    product_id: UUID | None,
    category_id: str | None,
    include_retired: bool,
    after: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The latest version of each name, ordered by name, filtered on that version."""
    return await conn.fetch(
        f"""SELECT {RULE_COLUMNS} FROM (
                SELECT DISTINCT ON (name) {RULE_COLUMNS} FROM pricing_rules
                WHERE ($1::text IS NULL OR name > $1)
                ORDER BY name, version DESC
            ) AS latest
            WHERE ($2::text IS NULL OR type = $2)
              AND ($3::text IS NULL OR lower(region) = lower($3))
              AND ($4::uuid IS NULL OR product_id = $4)
              AND ($5::text IS NULL OR category_id = $5)
              AND ($6::boolean OR retired_at IS NULL)
            ORDER BY name
            LIMIT $7""",
        after,
        rule_type,
        region,
        product_id,
        category_id,
        include_retired,
        limit + 1,
    )


async def list_versions(conn: Connection, *, name: str, before: int | None, limit: int) -> list[asyncpg.Record]:
    """Versions of `name`, newest first."""
    return await conn.fetch(
        f"""SELECT {RULE_COLUMNS} FROM pricing_rules
            WHERE name = $1 AND ($2::integer IS NULL OR version < $2)
            ORDER BY version DESC
            LIMIT $3""",
        name,
        before,
        limit + 1,
    )


async def name_exists(conn: Connection, *, name: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pricing_rules WHERE name = $1)", name))


async def load_active(conn: Connection) -> list[PricingRule]:
    """Every version that can apply now or later: live name, active, not yet expired."""
    rows = await conn.fetch(
        f"""SELECT {RULE_COLUMNS} FROM pricing_rules
            WHERE retired_at IS NULL AND is_active AND (effective_to IS NULL OR effective_to > now())
            ORDER BY name, version DESC"""
    )
    return [rule_from_row(row) for row in rows]

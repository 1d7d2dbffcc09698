"""HTTP: POST /api/v1/audit/{id}/revert (admin): write an audit entry's `before` back, in one step
(docs/governance.md#revert).

The entity must not have changed since the entry (its newest audit row is the entry): else 409
CHANGE_CONFLICT. Undoing an update writes the `before` document's columns back (counters that
orders move, and bookkeeping, excepted); undoing a create removes the record as its DELETE route
would (deactivated, a pricing rule retired — its previous version live again —, else deleted);
undoing a hard delete inserts the record again. The triggers then record the write as any admin
write (an audit row, config.changed, the flag history). Where a change of the type needs approval,
the revert is a change request, applied later through this same route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
from litestar import post
from litestar.di import NamedDependency
from litestar.params import FromPath

from quote_service.audit import changes
from quote_service.audit.admin import ask_approval, who
from quote_service.audit.writer import audited
from quote_service.auth.guards import AdminController
from quote_service.config import Settings
from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import found
from quote_service.errors import Conflict, invalid
from quote_service.web.deps import AdminPoolDep, AuthedRequest, ConfigStoreDep, PoolDep, actor_of
from quote_service.web.envelope import Envelope, ok
from quote_service.web.middleware import REQUEST_ID

REVERTIBLE = frozenset(changes.GOVERNED - {"user", "api_key", "product", "payout", "fx_rate"})
"""Entity types an entry of which can be written back: not users' and keys' (their entries lack
their secrets), nor products' (a price moves through the price history, not a row written back), nor
payouts' (money sent: a payout is marked paid or failed, never written back), nor FX rates' (their
history is kept: a newer rate supersedes one, docs/currencies.md)."""
_KEPT = frozenset(
    {"updated_at", "updated_by", "created_at", "created_by", "times_used", "budget_used", "cache_version", "stock"}
)
"""Columns a revert leaves as they are: bookkeeping, and the counters that orders move (an offer's stock)."""
_DOMAINS = {entity_type: domain for domain, entity_type in changes.ENTITY_TYPES.items()}

RevertWriter = Callable[[Pool, str, dict[str, Any] | None, str], Awaitable[None]]
"""How a domain writes a revert of its records itself: (a pool whose connection is the revert's, the
entity's id, the columns to write back with their values typed — None: remove the record as its DELETE
route does —, the actor as `created_by`/`updated_by` name it)."""
_WRITERS: dict[str, RevertWriter] = {}


def writes_back(entity_type: str, writer: RevertWriter) -> None:
    """Register the domain's own write of a revert of `entity_type` (its plugin does, at import): one
    whose writes keep more than the row (an offer's price history and `offer.updated`)."""
    _WRITERS[entity_type] = writer


class Reverted(msgspec.Struct, kw_only=True):
    entry_id: int
    """The audit entry whose `before` was written back."""
    entity_type: str
    entity_id: str
    entity: Any
    """The record now (as the audit log writes it; null when the revert removed it)."""


async def _entry(conn: Connection, entry_id: int) -> asyncpg.Record:
    # An id past a bigint's range names no entry: 404 like any other unknown id (PostgreSQL would refuse
    # the parameter itself, an error no caller should see as a 500).
    row = None
    if 0 < entry_id < 2**63:
        row = await conn.fetchrow(
            "SELECT id, action, entity_type, entity_id, before, after FROM audit_log WHERE id = $1", entry_id
        )
    row = found(row, f"audit entry {entry_id}")
    if row["entity_type"] not in REVERTIBLE or row["action"] not in ("create", "update", "delete"):
        raise invalid(
            "id",
            f"an entry of {row['entity_type']} ({row['action']}) cannot be reverted: only creates, updates and "
            f"deletes of {', '.join(sorted(REVERTIBLE))}",
        )
    return row


async def _unchanged_since(conn: Connection, entry: asyncpg.Record) -> None:
    await changes.lock_entity(conn, entry["entity_type"], entry["entity_id"])
    if await changes.version(conn, entry["entity_type"], entry["entity_id"]) != entry["id"]:
        raise Conflict(
            f"{entry['entity_type']} {entry['entity_id']} changed since audit entry {entry['id']}: "
            "revert its newest entry instead",
            code="CHANGE_CONFLICT",
        )


async def _columns(conn: Connection, table: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
        table,
    )
    return {r["column_name"] for r in rows}


async def _write_back(conn: Connection, entry: asyncpg.Record, actor: str, held: Pool) -> None:
    """The entry's `before` as the record (see the module's docstring), on `conn` (`held`: a pool
    whose every connection is `conn`, for a domain that writes its reverts itself)."""
    table, key, key_type, _ = changes.table(entry["entity_type"])
    columns = await _columns(conn, table)
    before, after = entry["before"], entry["after"]
    entity_id = entry["entity_id"]
    restored = sorted((set(before or {}) & columns) - _KEPT - {key})
    writer = _WRITERS.get(entry["entity_type"])
    if writer is not None and (before is None or after is not None):
        await writer(held, entity_id, None if before is None else await _typed(conn, table, before, restored), actor)
        return
    # Bookkeeping where the table keeps it (an offer has no `updated_by`): the actor is the last argument.
    args: list[Any] = [actor] if "updated_by" in columns else []
    if before is None:  # a create: remove it as its DELETE route does
        stamp = _stamp(columns, "$2")
        if table == "pricing_rules":
            await conn.execute(
                f"UPDATE pricing_rules SET retired_at = now(){stamp} WHERE id = $1::uuid", entity_id, *args
            )
            await conn.execute(
                """UPDATE pricing_rules SET retired_at = NULL, updated_by = $1, updated_at = now()
                    WHERE name = $2 AND version = $3 AND retired_at IS NOT NULL""",
                actor,
                after["name"],
                int(after["version"]) - 1,
            )
        elif "is_active" in columns:
            await conn.execute(
                f"UPDATE {table} SET is_active = false{stamp} WHERE {key} = $1::{key_type}", entity_id, *args
            )
        else:
            await conn.execute(f"DELETE FROM {table} WHERE {key} = $1::{key_type}", entity_id)
        return
    if after is None:  # a hard delete: the record again
        made = [column for column in ("created_by", "updated_by") if column in columns]
        values = ", ".join([key, *restored, *("$2" for _ in made)])
        await conn.execute(
            f"INSERT INTO {table} ({', '.join([key, *restored, *made])}) "
            f"SELECT {values} FROM jsonb_populate_record(NULL::{table}, $1)",
            before,
            *([actor] if made else []),
        )
        return
    if not restored:
        return
    names = ", ".join(restored)
    await conn.execute(
        f"""UPDATE {table} t SET ({names}) = (SELECT {names} FROM jsonb_populate_record(NULL::{table}, $1))
                {_stamp(columns, "$3")} WHERE t.{key} = $2::{key_type}""",
        before,
        entity_id,
        *args,
    )


def _stamp(columns: set[str], actor: str) -> str:
    """`, updated_by = <actor>, updated_at = now()`, of the two those the table has (an offer: no `updated_by`)."""
    return (f", updated_by = {actor}" if "updated_by" in columns else "") + (
        ", updated_at = now()" if "updated_at" in columns else ""
    )


async def _typed(conn: Connection, table: str, document: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The `names` of an audit document as the table's own types (money as numeric, not text)."""
    if not names:
        return {}
    row = await conn.fetchrow(f"SELECT {', '.join(names)} FROM jsonb_populate_record(NULL::{table}, $1)", document)
    assert row is not None
    return dict(row)


class RevertController(AdminController):
    path = "/api/v1/audit"
    tags = ["governance"]

    @post("/{entry_id:int}/revert", status_code=200, summary="Write an audit entry's `before` back (may need approval)")
    async def revert(
        self,
        entry_id: FromPath[int],
        request: AuthedRequest,
        pool: PoolDep,
        admin_pool: AdminPoolDep,
        config_store: ConfigStoreDep,
        settings: NamedDependency[Settings],
    ) -> Envelope[Reverted]:
        replaying = changes.replaying(request)
        request_id = request.scope.get("state", {}).get(REQUEST_ID)
        async with admin_pool.acquire() as conn, conn.transaction():
            entry = await _entry(conn, entry_id)
            await _unchanged_since(conn, entry)
            required = settings.change_approval == "required"
            if replaying is None and await changes.approval_needed(pool, entry["entity_type"], required=required):
                await ask_approval(
                    request,
                    pool,
                    entry["entity_type"],
                    entry["before"],
                    entity_id=entry["entity_id"],
                    action="revert",
                )
            # A domain that writes its reverts itself (an offer) writes on this connection, audited as the caller.
            held = audited(pool, msgspec.json.encode(await who(request, pool)).decode(), request_id, on=conn)
            try:
                await _write_back(conn, entry, actor_of(request), held)
            except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                raise Conflict(f"audit entry {entry_id} cannot be written back: {exc}", code="CHANGE_CONFLICT") from exc
            entity = await changes.current(conn, entry["entity_type"], entry["entity_id"])
        domain = _DOMAINS.get(entry["entity_type"])
        if domain is not None:
            if replaying is not None:
                replaying.after_commit.append(lambda: config_store.changed(domain))
            else:
                await config_store.changed(domain)
        result = Reverted(
            entry_id=entry_id, entity_type=entry["entity_type"], entity_id=entry["entity_id"], entity=entity
        )
        return ok(result, f"Audit entry {entry_id} reverted")

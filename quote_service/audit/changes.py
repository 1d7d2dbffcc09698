"""Change requests (four-eyes, docs/governance.md): stored, listed, approved or rejected.

With CHANGE_APPROVAL=required an admin write of a configuration domain does not run: the `write`
dependency (audit/admin.py) stores it as a change request and the route answers 202; so do the
writes that make or unmake an admin wherever any approval applies (docs/governance.md). Approving
is another person's: not the author, not a key acting for the author, not a user the author made
(nor a user or key made by those). Applying it (audit/applying.py) replays the stored request through the
application itself, as the approver, on the connection that then marks it applied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar.connection import ASGIConnection

from quote_service.audit import repository as audit
from quote_service.auth import repository as people
from quote_service.clock import utcnow
from quote_service.db.keyset import NEWEST_FIRST, fetch_keyset
from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import found, row_as
from quote_service.errors import Conflict, Forbidden

APPLYING = "change_request_applying"
"""The key in `scope["state"]` that marks a replayed request (an `Applying`): it writes instead of asking."""

ENTITY_TYPES = {
    "commission_rates": "commission_rate",
    "pricing_rules": "pricing_rule",
    "feature_flags": "feature_flag",
    "coupons": "coupon",
    "promotions": "promotion",
    "price-lists": "price_list",
    "shipping_profiles": "shipping_profile",
    "installment_plans": "installment_plan",
    "extensions": "extension",
    "offers": "offer",
    "fx_rates": "fx_rate",
}
"""Configuration domain (audit/admin.py) → the entity type of its audit rows and change requests."""

# entity type → (table, key column, the key's type, columns a diff never shows)
_TABLES = {
    "commission_rate": ("commission_rates", "id", "uuid", ""),
    "pricing_rule": ("pricing_rules", "id", "uuid", ""),
    "feature_flag": ("feature_flags", "id", "uuid", ""),
    "coupon": ("coupons", "code", "text", ""),
    "promotion": ("promotions", "id", "uuid", ""),
    "price_list": ("price_lists", "id", "uuid", ""),
    "shipping_profile": ("shipping_profiles", "id", "uuid", ""),
    "installment_plan": ("installment_plans", "id", "uuid", ""),
    "extension": ("extensions", "id", "uuid", " - 'secret'"),
    "product": ("products", "id", "uuid", ""),
    "offer": ("offers", "id", "uuid", ""),
    "fx_rate": ("fx_rates", "id", "uuid", ""),
    "approval_policy": ("approval_policies", "entity_type", "text", ""),
    "payout": ("payouts", "id", "uuid", ""),  # a payout run (docs/payouts.md): a change request has no entity id
    "user": ("users", "id", "uuid", " - 'password_hash'"),
    "api_key": ("api_keys", "id", "uuid", " - 'key_hash'"),
}
GOVERNED = frozenset(_TABLES)


def governed(name: str) -> str | None:
    """The entity type `name` means: itself, or its table's or route's name (`commission_rates`,
    `price-lists`); None when it names no governed type."""
    if name in GOVERNED:
        return name
    return next((t for t, (table, *_) in _TABLES.items() if name in (table, table.replace("_", "-"))), None)


def table(entity_type: str) -> tuple[str, str, str, str]:
    """(table, key column, the key's type, columns a diff never shows) of an entity type."""
    return _TABLES[entity_type]


"""Entity types whose changes can be change requests, and so have an approval policy."""
_ACTIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
COLUMNS = (
    "id, author, author_id, entity_type, entity_id, action, method, path, query, body, before, base_version, "
    "status, apply_at, approver, decided_at, applied_at, result, created_at, sealed, approvals, approvals_required"
)
AS_AUTHOR = {"replay_as": "author"}
"""A request's `sealed` mark: applied as its author (read again), not as the approver — a seller's
write, which its own-products scope must still bound when it applies (audit/applying.py)."""
MASKED = "********"
"""What a change request's body shows for a password (its hash is sealed, docs/governance.md)."""


class ChangeRequest(msgspec.Struct, kw_only=True):
    id: UUID
    author: dict[str, Any]
    entity_type: str
    entity_id: str | None
    action: str
    method: str
    path: str
    body: Any
    base_version: int
    status: str
    apply_at: datetime | None
    approver: dict[str, Any] | None
    decided_at: datetime | None
    applied_at: datetime | None
    result: Any
    created_at: datetime
    before: Any
    after: Any
    approvals: list[dict[str, Any]]
    """Who approved it so far, `{kind, id, name, at}` each: every one a different person."""
    approvals_required: int
    """How many it needs (its entity type's approval policy; 1 without one)."""


def request_of(row: asyncpg.Record) -> ChangeRequest:
    """A change request with its diff: `before` (the entity when it was asked) and `after` (what was sent)."""
    return row_as(
        ChangeRequest,
        row,
        after=None if row["action"] == "delete" else row["body"],
    )


class ChangeRequested(Exception):
    """Raised by a write that needs approval instead of writing; answered 202 (change_controller.py),
    with `key` when the write makes an API key, `secret` when it makes an extension (shown to its author
    only, and only there)."""

    def __init__(self, request: ChangeRequest, *, key: str | None = None, secret: str | None = None) -> None:
        super().__init__(str(request.id))
        self.request = request
        self.key = key
        self.secret = secret


@dataclass(eq=False)
class Applying:
    """An approved request being replayed (audit/applying.py), in `scope["state"][APPLYING]`."""

    change_id: UUID
    conn: Connection
    """The connection whose transaction commits the write with the request's status: every
    write dependency hands it out instead of a pooled one."""
    author_person: UUID
    """Whom the write is made for (a user's or key's `created_by`): the author, not the approver."""
    sealed: dict[str, Any]
    author: dict[str, Any] = field(default_factory=dict)
    """Who asked (`{kind, id, name}`; a seller's has kind `seller`, docs/sellers.md)."""
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """What the write does once committed (announce the new configuration): run after the status."""


def replaying(connection: ASGIConnection[Any, Any, Any, Any]) -> Applying | None:
    """The approved request this request replays, or None for a request from a client."""
    found: Applying | None = connection.scope.get("state", {}).get(APPLYING)
    return found


async def policy(conn: Connection | Pool, entity_type: str) -> int | None:
    """The approvals its policy asks of a change of `entity_type` (None: no policy)."""
    approvals: int | None = await conn.fetchval(
        "SELECT approvals FROM approval_policies WHERE entity_type = $1", entity_type
    )
    return approvals


async def approval_needed(pool: Pool, entity_type: str, *, required: bool) -> bool:
    """Whether a write of `entity_type` is a change request: CHANGE_APPROVAL=required (`required`),
    a policy for the type, or always for a policy itself."""
    return required or entity_type == "approval_policy" or await policy(pool, entity_type) is not None


async def any_approval(pool: Pool, *, required: bool) -> bool:
    """Whether any approval applies in this deployment: CHANGE_APPROVAL=required (`required`), or
    an approval policy for any type. Then the writes that make or unmake an admin, or mint a key
    that could write for one, are change requests too (docs/governance.md#admins-are-made-by-two)."""
    return required or bool(await pool.fetchval("SELECT exists (SELECT 1 FROM approval_policies)"))


async def version(conn: Connection, entity_type: str, entity_id: str | None) -> int:
    """The id of the entity's newest audit row (0 when it has none): what "changed since" compares."""
    if entity_id is None:
        return 0
    version: int = await conn.fetchval(
        """SELECT coalesce(max(id), 0) FROM audit_log
           WHERE (entity_type = $1 AND entity_id = $2)
              OR (entity_type = $1 || '_price' AND entity_id LIKE $2 || '/%')""",
        entity_type,
        entity_id,
    )
    return version


async def current(conn: Connection, entity_type: str, entity_id: str | None) -> Any:
    """The entity as the audit log writes it (None: no such record)."""
    if entity_id is None:
        return None
    table, key, key_type, hidden = _TABLES[entity_type]
    # Money as the audit log writes it (migration 0611): strings with the currency's digits, never floats.
    return await conn.fetchval(
        f"SELECT audit_money_as_text($2, to_jsonb(t){hidden}) FROM {table} t WHERE {key} = $1::{key_type}",
        entity_id,
        entity_type,
    )


async def lock_entity(conn: Connection, entity_type: str, entity_id: str | None) -> None:
    """Hold the entity's row until the caller's transaction ends: a write to it in flight commits
    first (and its audit row moves the version), one that comes later waits."""
    if entity_id is not None:
        table, key, key_type, _ = _TABLES[entity_type]
        await conn.execute(f"SELECT 1 FROM {table} WHERE {key} = $1::{key_type} FOR UPDATE", entity_id)


async def create(
    pool: Pool,
    *,
    author: dict[str, Any],
    entity_type: str,
    method: str,
    path: str,
    query: str,
    path_params: dict[str, Any],
    body: Any,
    request_id: str | None,
    sealed: dict[str, Any] | None = None,
    entity_id: str | None = None,
    action: str | None = None,
) -> ChangeRequest:
    """Store a write as a pending change request (and its `create` audit row). The entity is the
    path's (`entity_id` when the path names something else), the action the method's unless given."""
    if entity_id is None and path_params:
        entity_id = str(next(iter(path_params.values())))
        if entity_type == "coupon":
            entity_id = entity_id.upper()
    action = action or _ACTIONS[method]
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""INSERT INTO change_requests
                    (author, author_id, entity_type, entity_id, action, method, path, query, body, before, base_version,
                     sealed, approvals_required)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {COLUMNS}""",
            author,
            author["id"],
            entity_type,
            entity_id,
            action,
            method,
            path,
            query,
            body,
            await current(conn, entity_type, entity_id),
            await version(conn, entity_type, entity_id),
            sealed,
            await policy(conn, entity_type) or 1,
        )
        assert row is not None
        await audit.append(
            conn,
            actor=author,
            action="create",
            entity_type="change_request",
            entity_id=str(row["id"]),
            before=None,
            after={"entity_type": entity_type, "entity_id": entity_id, "action": action, "body": body},
            request_id=request_id,
        )
    return request_of(row)


async def get(pool: Pool, request_id: UUID) -> ChangeRequest:
    row = await pool.fetchrow(f"SELECT {COLUMNS} FROM change_requests WHERE id = $1", request_id)
    return request_of(found(row, f"change request {request_id}"))


async def list_requests(
    conn: Connection, *, status: str | None, entity_type: str | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    where = [("status = {}", status), ("entity_type = {}", entity_type)]
    return await fetch_keyset(conn, f"SELECT {COLUMNS} FROM change_requests", where, after, limit, NEWEST_FIRST)


async def decide(
    pool: Pool,
    change_id: UUID,
    *,
    approver: dict[str, Any],
    approve: bool,
    apply_at: datetime | None,
    request_id: str | None,
) -> ChangeRequest:
    """Approve or reject a pending request: exactly one of several racing decisions wins, and
    an approval is another person's (anyone may reject, the author withdrawing too). Under an
    approval policy of N, the first N - 1 approvals are recorded and the request stays pending;
    each approver is a different person from the author and from every earlier approver."""
    async with pool.acquire() as conn, conn.transaction():
        asked = await conn.fetchrow(
            """SELECT author_id, status, created_at, entity_type, approvals, approvals_required
               FROM change_requests WHERE id = $1 FOR UPDATE""",
            change_id,
        )
        asked = found(asked, f"change request {change_id}")
        # An approved request that has not applied yet (due later, or waiting out a passing failure)
        # may still be rejected; approving is for pending ones. Applying holds this row's lock while
        # it writes, so a reject either comes first (nothing applies) or finds it applied.
        if asked["status"] != "pending" and (approve or asked["status"] != "approved"):
            raise Conflict(f"change request {change_id} is {asked['status']}, not pending", code="CHANGE_NOT_PENDING")
        given = list(asked["approvals"])
        if approve and await same_person(conn, approver["id"], asked["author_id"]):
            raise Forbidden(
                "the author of a change request cannot approve it, nor can a key acting for them or a user "
                "they made: another admin must",
                code="SELF_APPROVAL",
            )
        for earlier in given if approve else ():
            if await same_person(conn, approver["id"], earlier["id"]):
                raise Forbidden(
                    f"{earlier['name']} has approved this change request already, and this approval is the same "
                    "person's: its policy asks for distinct approvers",
                    code="DUPLICATE_APPROVAL",
                )
        # A policy raised while the request waits raises what it needs; one lowered does not lower it.
        needed = max(asked["approvals_required"], await policy(conn, asked["entity_type"]) or 1)
        approvals = [*given, {**approver, "at": utcnow().isoformat()}] if approve else given
        status = "rejected" if not approve else "approved" if len(approvals) >= needed else "pending"
        row = await conn.fetchrow(
            f"""UPDATE change_requests SET status = $2, approver = $3, approver_id = $4,
                       decided_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END,
                       apply_at = $5, approvals = $6, approvals_required = $7
                WHERE id = $1 RETURNING {COLUMNS}""",
            change_id,
            status,
            approver,
            approver["id"],
            apply_at if status == "approved" else None,
            approvals,
            needed,
        )
        assert row is not None
        after: dict[str, Any] = {"status": status, "apply_at": None if apply_at is None else apply_at.isoformat()}
        was = asked["status"]
        if approve:
            after |= {"approvals": len(approvals), "approvals_required": needed}
        await audit.append(
            conn,
            actor=approver,
            action="approve" if approve else "reject",
            entity_type="change_request",
            entity_id=str(change_id),
            before={"status": was},
            after=after,
            request_id=request_id,
        )
    return request_of(row)


async def same_person(conn: Connection, one_id: str, other_id: str) -> bool:
    """Whether two users or keys are one person: a key counts as the person who made it, a user
    made over HTTP as the person who made them (at any time, through any chain of such makings)."""
    one = await people.root_person(conn, principal_id=UUID(one_id))
    return one == await people.root_person(conn, principal_id=UUID(other_id))

"""Change requests (four-eyes, docs/governance.md).

With CHANGE_APPROVAL=required an admin write of a configuration domain does not run: the `write`
dependency (audit/admin.py) stores it as a change request and the route answers 202. Approving it
replays the stored request through the application itself, as the approver, so applying runs
exactly the code of a direct write: the same validation, the same audit rows, the same
propagation to every worker through the configuration store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog
from litestar.types import ASGIApp, Message

from quote_service.audit import repository as audit
from quote_service.db.pool import Connection, Pool
from quote_service.errors import Conflict, FieldError, Forbidden, NotFound
from quote_service.web.middleware import REQUEST_ID

APPLYING = "change_request_applying"
"""The key in `scope["state"]` that marks a replayed request: it writes instead of asking."""

ENTITY_TYPES = {
    "commission_rates": "commission_rate",
    "pricing_rules": "pricing_rule",
    "feature_flags": "feature_flag",
    "coupons": "coupon",
    "promotions": "promotion",
    "price-lists": "price_list",
}
"""Configuration domain (audit/admin.py) → the entity type of its audit rows and change requests."""

_TABLES = {
    "commission_rate": ("commission_rates", "id::text"),
    "pricing_rule": ("pricing_rules", "id::text"),
    "feature_flag": ("feature_flags", "id::text"),
    "coupon": ("coupons", "code"),
    "promotion": ("promotions", "id::text"),
    "price_list": ("price_lists", "id::text"),
}
_ACTIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
COLUMNS = (
    "id, author, author_id, entity_type, entity_id, action, method, path, query, body, before, base_version, "
    "status, apply_at, approver, decided_at, applied_at, result, created_at"
)


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


def request_of(row: asyncpg.Record) -> ChangeRequest:
    """A change request with its diff: `before` (the entity when it was asked) and `after` (what was sent)."""
    return ChangeRequest(
        id=row["id"],
        author=row["author"],
        entity_type=row["entity_type"],
        entity_id=row["entity_id"],
        action=row["action"],
        method=row["method"],
        path=row["path"],
        body=row["body"],
        base_version=row["base_version"],
        status=row["status"],
        apply_at=row["apply_at"],
        approver=row["approver"],
        decided_at=row["decided_at"],
        applied_at=row["applied_at"],
        result=row["result"],
        created_at=row["created_at"],
        before=row["before"],
        after=None if row["action"] == "delete" else row["body"],
    )


class ChangeRequested(Exception):
    """Raised by the `write` dependency instead of writing; answered 202 (change_controller.py)."""

    def __init__(self, request: ChangeRequest) -> None:
        super().__init__(str(request.id))
        self.request = request


async def _version(conn: Connection, entity_type: str, entity_id: str | None) -> int:
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


async def _current(conn: Connection, entity_type: str, entity_id: str | None) -> Any:
    if entity_id is None:
        return None
    table, key = _TABLES[entity_type]
    return await conn.fetchval(f"SELECT to_jsonb(t) FROM {table} t WHERE {key} = $1", entity_id)


async def create(
    pool: Pool,
    *,
    author: dict[str, Any],
    domain: str,
    method: str,
    path: str,
    query: str,
    path_params: dict[str, Any],
    body: Any,
    request_id: str | None,
) -> ChangeRequest:
    entity_type = ENTITY_TYPES[domain]
    entity_id = None
    if path_params:
        entity_id = str(next(iter(path_params.values())))
        if entity_type == "coupon":
            entity_id = entity_id.upper()
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""INSERT INTO change_requests
                    (author, author_id, entity_type, entity_id, action, method, path, query, body, before, base_version)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}""",
            author,
            author["id"],
            entity_type,
            entity_id,
            _ACTIONS[method],
            method,
            path,
            query,
            body,
            await _current(conn, entity_type, entity_id),
            await _version(conn, entity_type, entity_id),
        )
        assert row is not None
        await audit.append(
            conn,
            actor=author,
            action="create",
            entity_type="change_request",
            entity_id=str(row["id"]),
            before=None,
            after={"entity_type": entity_type, "entity_id": entity_id, "action": _ACTIONS[method], "body": body},
            request_id=request_id,
        )
    return request_of(row)


async def get(pool: Pool, request_id: UUID) -> ChangeRequest:
    row = await pool.fetchrow(f"SELECT {COLUMNS} FROM change_requests WHERE id = $1", request_id)
    if row is None:
        raise NotFound(f"change request {request_id} not found")
    return request_of(row)


async def list_requests(
    conn: Connection, *, status: str | None, entity_type: str | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {COLUMNS} FROM change_requests
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR entity_type = $2)
              AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
            ORDER BY created_at DESC, id DESC LIMIT $5""",
        status,
        entity_type,
        None if after is None else after[0],
        None if after is None else after[1],
        limit + 1,
    )


async def _refusal(conn: Connection, change_id: UUID, actor_id: str, *, approving: bool) -> Exception:
    row = await conn.fetchrow("SELECT author_id, status FROM change_requests WHERE id = $1", change_id)
    if row is None:
        return NotFound(f"change request {change_id} not found")
    if approving and row["author_id"] == actor_id and row["status"] == "pending":
        return Forbidden("the author of a change request cannot approve it: another admin must", code="SELF_APPROVAL")
    return Conflict(f"change request {change_id} is {row['status']}, not pending", code="CHANGE_NOT_PENDING")


async def decide(
    pool: Pool,
    change_id: UUID,
    *,
    approver: dict[str, Any],
    approve: bool,
    apply_at: datetime | None,
    request_id: str | None,
) -> ChangeRequest:
    """Approve or reject a pending request: exactly one of several racing decisions wins."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE change_requests SET status = $3, approver = $4, approver_id = $5, decided_at = now(),
                       apply_at = $6
                WHERE id = $1 AND status = 'pending' AND ($2 = false OR author_id <> $5)
                RETURNING {COLUMNS}""",
            change_id,
            approve,
            "approved" if approve else "rejected",
            approver,
            approver["id"],
            apply_at,
        )
        if row is None:
            raise await _refusal(conn, change_id, approver["id"], approving=approve)
        await audit.append(
            conn,
            actor=approver,
            action="approve" if approve else "reject",
            entity_type="change_request",
            entity_id=str(change_id),
            before={"status": "pending"},
            after={"status": row["status"], "apply_at": None if apply_at is None else apply_at.isoformat()},
            request_id=request_id,
        )
    return request_of(row)


async def _replay(
    app: ASGIApp, row: asyncpg.Record, headers: list[tuple[bytes, bytes]], request_id: str | None
) -> tuple[int, Any]:
    """Run the stored request through the application; its status and decoded body. The replay
    carries the approving request's id (its audit rows name it) and leaves that request's log
    context as it found it."""
    body = b"" if row["body"] is None else msgspec.json.encode(row["body"])
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": row["method"],
        "scheme": "http",
        "path": row["path"],
        "raw_path": row["path"].encode(),
        "query_string": row["query"].encode(),
        "root_path": "",
        "headers": [*headers, (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 80),
        "state": {APPLYING: str(row["id"]), **({REQUEST_ID: request_id} if request_id else {})},
    }
    sent = False
    status = 500
    chunks: list[bytes] = []

    async def receive() -> Any:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    context = structlog.contextvars.get_contextvars()
    try:
        await app(scope, receive, send)  # type: ignore[arg-type]
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**context)
    raw = b"".join(chunks)
    try:
        return status, msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        return status, {"message": raw.decode(errors="replace")}


async def apply(
    app: ASGIApp,
    pool: Pool,
    change_id: UUID,
    *,
    headers: list[tuple[bytes, bytes]],
    request_id: str | None,
    skip_locked: bool = False,
) -> ChangeRequest | None:
    """Apply an approved request once: None when another process has applied it (or, with
    `skip_locked`, the scheduled loop's pass, is applying it now). The approving route waits for
    the row: a racing approval that lost still locks it for a moment while it re-reads it.

    A request whose entity changed since it was made is `conflicted` (409 CHANGE_CONFLICT), as is
    one the direct write now refuses (its answer is kept in `result`)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM change_requests WHERE id = $1 AND status = 'approved' FOR UPDATE"
            + (" SKIP LOCKED" if skip_locked else ""),
            change_id,
        )
        if row is None:
            return None
        changed = row["action"] != "create" and (
            await _version(conn, row["entity_type"], row["entity_id"]) != row["base_version"]
        )
        if changed:
            status, answer = 409, {"message": "the entity changed since the change request was made"}
        else:
            status, answer = await _replay(app, row, headers, request_id)
        outcome = "applied" if 200 <= status < 300 else "conflicted"
        updated = await conn.fetchrow(
            f"""UPDATE change_requests SET status = $2, result = $3,
                       applied_at = CASE WHEN $2 = 'applied' THEN now() END
                WHERE id = $1 RETURNING {COLUMNS}""",
            change_id,
            outcome,
            answer,
        )
        assert updated is not None
        await audit.append(
            conn,
            actor=row["approver"],
            action="apply",
            entity_type="change_request",
            entity_id=str(change_id),
            before={"status": "approved"},
            after={"status": outcome, "answer_status": status},
            request_id=request_id,
        )
    if outcome == "conflicted":
        raise _conflict(change_id, answer)
    return request_of(updated)


def _conflict(change_id: UUID, answer: Any) -> Conflict:
    """409 CHANGE_CONFLICT carrying the refusal of the replayed write (its message and field errors)."""
    found: dict[str, Any] = answer if isinstance(answer, dict) else {}
    error: dict[str, Any] = found.get("error") or {}
    details = [FieldError(d["field"], d["message"]) for d in error.get("details") or [] if isinstance(d, dict)]
    message = found.get("message", "")
    return Conflict(f"change request {change_id} cannot be applied: {message}", code="CHANGE_CONFLICT", details=details)


async def due(pool: Pool, now: datetime) -> list[asyncpg.Record]:
    """Approved requests whose `apply_at` has come, oldest first; and one approved for now whose
    approving request died before applying it (a minute later), so none stays approved forever."""
    return await pool.fetch(
        """SELECT id, approver FROM change_requests
           WHERE status = 'approved' AND approver ->> 'kind' = 'user'
             AND (apply_at <= $1 OR (apply_at IS NULL AND decided_at < $1 - interval '1 minute'))
           ORDER BY coalesce(apply_at, decided_at) LIMIT 100""",
        now,
    )


async def apply_due(app: ASGIApp, pool: Pool, issue_token: Any, now: datetime) -> None:
    """One pass of the scheduled-approval loop: apply every approved request whose time has come,
    each as its approver (a fresh bearer token; approvals with apply_at need a user approver)."""
    for row in await due(pool, now):
        approver = row["approver"]
        token = issue_token(UUID(approver["id"]))
        headers = [(b"authorization", f"Bearer {token}".encode())]
        try:
            await apply(
                app, pool, row["id"], headers=headers, request_id=f"change-request-{row['id']}", skip_locked=True
            )
        except Conflict:
            continue  # recorded as conflicted; the request says why

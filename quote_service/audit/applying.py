"""Applying an approved change request: once, or not at all (docs/governance.md).

The stored request is replayed through the application itself, as the approver (a seller key's
write as that key, so its own-products scope holds: `changes.AS_AUTHOR`), so applying runs
exactly the code of a direct write: the same validation, the same audit rows, the same
propagation to every worker. The replay writes on the connection of the transaction that holds
the request's row, and that transaction marks the request applied: the write, its audit rows and
the status commit together. A process that dies before the commit leaves the request `approved`
(the loop applies it); one that dies after leaves it `applied`. The entity's row is locked before
its version is compared, so a write to it in flight commits first (and the request is
`conflicted`) or waits for this one to commit; it is never overwritten.

A refusal is final: a changed entity, or the write's own 4xx, makes the request `conflicted`.
A failure that passes (the write answered 429, 503 or 504 — a lock not granted in time, a store that
did not answer —, a lost connection, a pool with no connection free, a serialization failure or
deadlock) rolls everything back and leaves the request `approved`: the loop tries it again. Any other
failure (the write answered 500, or applying raised an error of the service's own) would fail the same
way every time: it rolls everything back and ends the request `failed`, once, with the reason in its
`result`; it is never tried again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog
from litestar.types import ASGIApp, Message

from quote_service import fault_points
from quote_service.audit import repository as audit
from quote_service.audit.changes import (
    APPLYING,
    AS_AUTHOR,
    COLUMNS,
    Applying,
    ChangeRequest,
    lock_entity,
    request_of,
    version,
)
from quote_service.auth import repository as people
from quote_service.auth.middleware import ACTING_AS
from quote_service.auth.schemas import Principal
from quote_service.auth.service import key_principal, user_principal
from quote_service.db.pool import Connection, Pool
from quote_service.errors import Conflict, FieldError
from quote_service.web.errors import UNHANDLED, connection_lost
from quote_service.web.middleware import REQUEST_ID

log = structlog.get_logger("quote_service.audit")


class ApplyDeferred(Exception):
    """Applying failed for a passing reason: nothing was written, the request stays `approved`
    and the loop tries it again."""


class ApplyFailed(Exception):
    """Applying failed for a reason that does not pass: nothing was written and the request is
    `failed` (`request`), its reason in `result`; it is not tried again."""

    def __init__(self, request: ChangeRequest, reason: str) -> None:
        super().__init__(reason)
        self.request = request
        self.reason = reason


class _Refused(Exception):
    """The replayed write answered other than 2xx: undo whatever it did before answering."""


PASSING_STATUSES = frozenset({429, 503, 504})
"""What a replayed write answers when the same write may well succeed later: rate limited, a store
that did not answer (a lock not granted within DB_LOCK_TIMEOUT is a 503), out of time."""


def _passing(exc: BaseException) -> bool:
    return isinstance(
        exc, ApplyDeferred | asyncpg.SerializationError | asyncpg.DeadlockDetectedError
    ) or connection_lost(exc)


async def apply(
    app: ASGIApp, pool: Pool, change_id: UUID, *, request_id: str | None, skip_locked: bool = False
) -> ChangeRequest | None:
    """Apply an approved request once: None when it is not approved (another process applied it,
    or, with `skip_locked`, the loop's pass, is applying it now). The approving route waits for the
    row. Raises Conflict (409 CHANGE_CONFLICT) when it became `conflicted`, ApplyDeferred when it
    stays `approved` for a passing reason, ApplyFailed when it became `failed`."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {COLUMNS} FROM change_requests WHERE id = $1 AND status = 'approved' FOR UPDATE"
                + (" SKIP LOCKED" if skip_locked else ""),
                change_id,
            )
            if row is None:
                return None
            try:
                async with conn.transaction():  # a savepoint: the write undone, the request's row still locked
                    applying, status, answer = await _write(app, conn, row, request_id)
                    await fault_points.hit("change_request.replayed")
            except Exception as exc:
                if _passing(exc):
                    raise
                # An error of the service's own would fail the same way on every pass of the loop: logged
                # once, here, and the request ends `failed` in this transaction, while it holds the row (the
                # row let go first, a pass of the loop took it up and failed the same write again).
                log.error("change_request_apply_failed", change_request_id=str(change_id), exc_info=exc)
                reason = f"applying it raised {type(exc).__name__}: {exc}"[:500]
                applying, status, answer = None, 500, {"success": False, "message": reason, "reason": reason}
            outcome = "applied" if 200 <= status < 300 else "failed" if status >= 500 else "conflicted"
            updated = await _decided(conn, row, outcome, status, answer, request_id)
    except Exception as exc:
        if _passing(exc):
            log.warning("change_request_apply_deferred", change_request_id=str(change_id), error=repr(exc)[:200])
            raise exc if isinstance(exc, ApplyDeferred) else ApplyDeferred(type(exc).__name__) from exc
        # An error of the service's own would fail the same way on every pass of the loop: logged
        # once, here, and the request ends `failed` rather than being tried for ever.
        log.error("change_request_apply_failed", change_request_id=str(change_id), exc_info=exc)
        reason = f"applying it raised {type(exc).__name__}: {exc}"[:500]
        failed = await _fail(pool, change_id, reason, request_id)
        if failed is None:
            return None
        raise ApplyFailed(failed, reason) from None
    for announce in applying.after_commit if applying else ():
        await announce()
    if outcome == "conflicted":
        raise _conflict(change_id, answer)
    if outcome == "failed":
        raise ApplyFailed(request_of(updated), str(answer.get("reason")))
    return request_of(updated)


async def _decided(
    conn: Connection, row: asyncpg.Record, outcome: str, status: int, answer: Any, request_id: str | None
) -> asyncpg.Record:
    """Mark the request `outcome` (applied, conflicted or failed) with the write's answer, and its
    `apply` audit row, on `conn` (in the transaction that made the write, if any)."""
    updated = await conn.fetchrow(
        f"""UPDATE change_requests SET status = $2, result = $3,
                   applied_at = CASE WHEN $2 = 'applied' THEN now() END
            WHERE id = $1 RETURNING {COLUMNS}""",
        row["id"],
        outcome,
        answer,
    )
    assert updated is not None
    after: dict[str, Any] = {"status": outcome, "answer_status": status}
    if outcome == "failed":
        after["reason"] = answer.get("reason")
    await audit.append(
        conn,
        actor=row["approver"],
        action="apply",
        entity_type="change_request",
        entity_id=str(row["id"]),
        before={"status": "approved"},
        after=after,
        request_id=request_id,
    )
    return updated


async def _fail(pool: Pool, change_id: UUID, reason: str, request_id: str | None) -> ChangeRequest | None:
    """End an approved request `failed` with `reason`, in a transaction of its own (the one that
    raised was rolled back); None when it is no longer `approved`."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM change_requests WHERE id = $1 AND status = 'approved' FOR UPDATE", change_id
        )
        if row is None:
            return None
        answer = {"success": False, "message": reason, "reason": reason}
        return request_of(await _decided(conn, row, "failed", 500, answer, request_id))


async def _write(
    app: ASGIApp, conn: Connection, row: asyncpg.Record, request_id: str | None
) -> tuple[Applying | None, int, Any]:
    """The request's write on `conn` (in its transaction): the replay, its status and answer."""
    await lock_entity(conn, row["entity_type"], row["entity_id"])
    if row["action"] != "create" and await version(conn, row["entity_type"], row["entity_id"]) != row["base_version"]:
        return None, 409, {"message": "the entity changed since the change request was made"}
    approver = await _principal(conn, row["approver"])
    if approver is None:
        return None, 403, {"message": "the approver is no longer an active user or key"}
    acting = await _acting(conn, row, approver)
    if acting is None:
        return None, 403, {"message": "the author is no longer an active user or key"}
    author = await people.person_of(conn, principal_id=UUID(row["author_id"]))
    applying = Applying(
        change_id=row["id"], conn=conn, author_person=author, sealed=row["sealed"] or {}, author=row["author"] or {}
    )
    status, answer, bug = 500, None, None
    try:
        async with conn.transaction():  # a savepoint: a refused write leaves nothing behind
            status, answer, bug = await _replay(app, row, applying, acting, request_id)
            if not 200 <= status < 300:
                raise _Refused
    except _Refused:
        applying.after_commit.clear()
    message = answer.get("message") if isinstance(answer, dict) else None
    if status in PASSING_STATUSES:
        raise ApplyDeferred(f"the write answered {status}: {message}")
    if status >= 500:
        # The replay's own log line (unhandled_exception) has the traceback; the request keeps what it was.
        reason = f"the write answered {status}: {bug or message}"
        answer = {**(answer if isinstance(answer, dict) else {}), "reason": reason}
    return applying, status, answer


async def _principal(conn: Connection, who: dict[str, Any]) -> Principal | None:
    """The approver as the replay runs: read again (a key revoked or a user deactivated since is None)."""
    principal_id = UUID(who["id"])
    if who["kind"] == "api_key":
        key = await people.get_api_key(conn, key_id=principal_id)
        return None if key is None else key_principal(key)
    user = await people.get_user(conn, user_id=principal_id)
    return None if user is None or not user["is_active"] else user_principal(user)


async def _acting(conn: Connection, row: asyncpg.Record, approver: Principal) -> Principal | None:
    """Whom the replay runs as: the approver; for a seller's write (`AS_AUTHOR`), that seller, read
    again (None: revoked or deactivated since), so its own-products scope bounds what applies."""
    if (row["sealed"] or {}).get("replay_as") != AS_AUTHOR["replay_as"]:
        return approver
    author = row["author"] or {}
    return await _principal(conn, {"kind": author.get("via", "user"), "id": row["author_id"]})


async def _replay(
    app: ASGIApp, row: asyncpg.Record, applying: Applying, acting: Principal, request_id: str | None
) -> tuple[int, Any, str | None]:
    """Run the stored request through the application as `acting` (the approver; a seller's write:
    its author); its status, decoded body and, for a 500, what the bug was.
    The replay carries the approving request's id (its audit rows name it) and leaves that
    request's log context as it found it."""
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
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 80),
        "state": {APPLYING: applying, ACTING_AS: acting, **({REQUEST_ID: request_id} if request_id else {})},
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
    bug: str | None = scope["state"].get(UNHANDLED)
    try:
        return status, msgspec.json.decode(raw) if raw else None, bug
    except msgspec.DecodeError:
        return status, {"message": raw.decode(errors="replace")}, bug


def _conflict(change_id: UUID, answer: Any) -> Conflict:
    """409 CHANGE_CONFLICT carrying the refusal of the replayed write (its message and field errors)."""
    found: dict[str, Any] = answer if isinstance(answer, dict) else {}
    error: dict[str, Any] = found.get("error") or {}
    details = [FieldError(d["field"], d["message"]) for d in error.get("details") or [] if isinstance(d, dict)]
    message = found.get("message", "")
    return Conflict(f"change request {change_id} cannot be applied: {message}", code="CHANGE_CONFLICT", details=details)


async def due(pool: Pool, now: datetime) -> list[UUID]:
    """Approved requests to apply, oldest first: those whose `apply_at` has come, and those
    approved for now that are still `approved` (their approving process died, or applying them
    failed for a passing reason). One that the approving route is applying is locked, and skipped."""
    rows = await pool.fetch(
        """SELECT id FROM change_requests
           WHERE status = 'approved' AND (apply_at IS NULL OR apply_at <= $1)
           ORDER BY coalesce(apply_at, decided_at) LIMIT 100""",
        now,
    )
    return [r["id"] for r in rows]


async def apply_due(app: ASGIApp, pool: Pool, now: datetime) -> None:
    """One pass of the loop: apply every due request, each as its approver."""
    for change_id in await due(pool, now):
        try:
            await apply(app, pool, change_id, request_id=f"change-request-{change_id}", skip_locked=True)
        except (Conflict, ApplyFailed, ApplyDeferred):
            continue  # recorded as conflicted or failed (the request says why), or left approved for the next pass

"""Every failure leaves as the error envelope of docs/api.md, never with a stack trace."""

from __future__ import annotations

import errno
import re
from typing import Any

import asyncpg
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from redis import exceptions as redis_exceptions

from quote_service.cache.redis import write_refused
from quote_service.db.idempotency import Answer, Replayed
from quote_service.errors import (
    REGISTRY,
    DependencyUnavailable,
    FieldError,
    ServiceError,
    ValidationFailed,
    framework_code,
)
from quote_service.observability.metrics import CLIENT_DISCONNECTS, REFUSALS
from quote_service.web.envelope import ErrorBody, ErrorEnvelope
from quote_service.web.request import ClientDisconnected

log = structlog.get_logger("quote_service.errors")

_REFUSAL_STATUSES = frozenset({429, 503, 504})
UNHANDLED = "unhandled_error"
"""The key in `scope["state"]` where `handle_unexpected` leaves what the bug was (`Type: message`), for a
caller of the app that reads its own scope back: a change request's replay (audit/applying.py)."""
_PASSED_HEADERS = frozenset({"allow", "retry-after", "connection"})
CLIENT_CLOSED_REQUEST = REGISTRY["CLIENT_DISCONNECTED"].status
"""The status logged and measured (never sent: nobody is listening) when the client hung up."""
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
_MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter '([^']+)'")


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[FieldError] | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorEnvelope]:
    """The one way an error envelope is built."""
    if status in _REFUSAL_STATUSES:
        REFUSALS.labels(str(status), code).inc()
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="quote-service"')
    if retry_after is not None:
        all_headers["Retry-After"] = str(retry_after)
    return Response(error_envelope(code, message, details), status_code=status, headers=all_headers)


def error_envelope(code: str, message: str, details: list[FieldError] | None = None) -> ErrorEnvelope:
    """The body of an error answer."""
    return ErrorEnvelope(message=message, error=ErrorBody(code=code, details=details or []))


def _validation_details(extra: Any) -> list[FieldError]:
    details = []
    for entry in extra if isinstance(extra, list) else []:
        if not isinstance(entry, dict):
            continue
        key = str(entry.get("key") or "")
        if entry.get("source") == "body" and key == "data":
            key = ""  # Litestar names the body itself `data`; paths here are relative to it
        message = str(entry.get("message") or "invalid value")
        named = _UNKNOWN_FIELD.search(message) or _MISSING_FIELD.search(message)
        if named:
            # msgspec reports these at the enclosing object; the client wants the field itself
            key = f"{key}.{named.group(1)}" if key else named.group(1)
            message = "unknown field" if named.re is _UNKNOWN_FIELD else "required field missing"
        details.append(FieldError(field=key or "body", message=message))
    return details


def _body_missing(extra: Any) -> bool:
    """Litestar reports an empty body as its `data` argument missing (the message is a KeyError's)."""
    return isinstance(extra, list) and any(
        isinstance(entry, dict) and entry.get("key") == "data" and entry.get("message") == "'data'" for entry in extra
    )


def render(exc: ServiceError, headers: dict[str, str] | None = None) -> Response[ErrorEnvelope]:
    """The envelope of a service error: the status, code and Retry-After of its registry row."""
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.retry_after, headers)


def handle_replayed(request: Request[Any, Any, Any], exc: Replayed) -> Response[Any]:
    """An Idempotency-Key answered before: its first answer again, byte for byte (web/replay.py)."""
    if exc.answer is None:
        assert exc.refusal is not None
        return render(exc.refusal, REPLAYED_HEADERS)
    return replayed_response(exc.answer)


REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED_HEADERS = {REPLAYED_HEADER: "true"}


def replayed_response(answer: Answer) -> Response[bytes]:
    """A kept answer sent again: its status, content type and bytes, and `Idempotent-Replayed: true`."""
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type, headers=REPLAYED_HEADERS)


def handle_service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[ErrorEnvelope]:
    """A deliberate refusal: its own status, code and details."""
    if exc.status_code >= 500:
        log.warning("request_failed", code=exc.code, error=exc.message)
    return render(exc)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorEnvelope]:
    """Framework errors: bad JSON (400), bad values (422), unknown routes, wrong methods."""
    if isinstance(exc, ValidationException):
        if _body_missing(exc.extra):
            return error_response(400, framework_code(400), "Malformed request body: a JSON body is required")
        details = _validation_details(exc.extra)
        missing = _MISSING_PARAMETER.match(str(exc.detail))
        if missing and not details:
            details = [FieldError(field=missing.group(2), message=f"required {missing.group(1)} parameter missing")]
        summary = "; ".join(f"{d.field}: {d.message}" for d in details) or "invalid request"
        return render(ValidationFailed(f"Validation failed: {summary}", details=details))
    status = exc.status_code
    if status >= 500:
        return handle_unexpected(request, exc)
    code = framework_code(status)
    message = str(exc.detail)
    if status == 400:
        message = f"Malformed request body: {exc.detail}"
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in _PASSED_HEADERS}
    return error_response(status, code, message, headers=headers)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """A bug: logged with its traceback and request id, answered without either."""
    log.error("unhandled_exception", exc_info=exc)
    state = request.scope.get("state")
    if isinstance(state, dict):
        state[UNHANDLED] = f"{type(exc).__name__}: {exc}"[:500]
    return render(ServiceError("Internal server error; the request id identifies it in the logs"))


def handle_client_disconnect(request: Request[Any, Any, Any], exc: ClientDisconnected) -> Response[ErrorEnvelope]:
    """The client hung up mid-body: its doing, not a server error; counted, logged at info."""
    CLIENT_DISCONNECTS.inc()
    log.info("client_disconnected", detail="connection closed before the whole request body arrived")
    return error_response(CLIENT_CLOSED_REQUEST, "CLIENT_DISCONNECTED", "Client closed the connection mid-request")


def handle_unstorable_text(request: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[ErrorEnvelope]:
    """Text PostgreSQL cannot hold (a NUL in a query parameter): the client's mistake, not ours.

    Bodies are checked field by field before any handler runs (web/request.py); this is the
    backstop for path and query values, and it leaves nothing written (the statement failed).
    """
    return render(
        ValidationFailed(
            "Text must not contain the NUL character (\\u0000)",
            details=[FieldError(field="query", message="contains the NUL character")],
        )
    )


def handle_store_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """PostgreSQL or Redis unreachable (refused, reset, timed out): 503 with Retry-After, not a 500."""
    log.warning("dependency_unavailable", error=type(exc).__name__, detail=str(exc)[:200])
    return render(DependencyUnavailable("A backing store is unavailable; retry shortly"))


# OSErrors that mean "the connection to a store failed", as opposed to a bug (a missing file).
_CONNECTION_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
        errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.ENOTCONN,
    }
)  # fmt: skip


def connection_lost(exc: BaseException) -> bool:
    """asyncpg's ways of saying the connection went away mid-request (or could not be made).

    A dropped connection surfaces as many classes depending on the moment it drops: a protocol
    error from the socket (ConnectionResetError), `InterfaceError: connection is closed`,
    `InternalClientError: cannot switch to state N` (the protocol saw the socket die while in a
    state it did not expect), `InterfaceError: ... connection has been released back to the
    pool` (the next statement on a connection the pool reclaimed when it closed), the server's
    own 08xxx / 57Pxx errors (admin shutdown, crash, cannot connect now) or 53300 too many
    connections, and `OSError: Multiple exceptions` when every address of the host refused.
    A transaction cut off before its COMMIT was answered is rolled back by the server; only a
    COMMIT whose answer was lost may have committed, which is why writes that matter take an
    Idempotency-Key (the retry replays the stored result).
    """
    if isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.exceptions.OperatorInterventionError  # 57xxx: shutdowns, query cancelled by timeout
        | asyncpg.exceptions.InsufficientResourcesError  # 53xxx: too many connections
        | asyncpg.exceptions.LockNotAvailableError  # 55P03: lock_timeout
        | asyncpg.exceptions.InternalClientError
        | ConnectionError
        | TimeoutError,
    ):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        # "released back to the pool" is what a pooled connection says once the server dropped it
        # (the pool reclaims a closed connection at once); the same words for using a connection
        # after its `async with` ended would be a bug, but that fails every time, in every test.
        message = str(exc).lower()
        return any(words in message for words in ("is closed", "was closed", "pool is closing", "released back"))
    if isinstance(exc, OSError):
        return exc.errno in _CONNECTION_ERRNOS or str(exc).startswith("Multiple exceptions")
    return False


def handle_postgres_failure(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """A lost or refused PostgreSQL connection is 503 + Retry-After; any other such error is a bug."""
    if connection_lost(exc):
        return handle_store_unavailable(request, exc)
    return handle_unexpected(request, exc)


def handle_redis_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """Redis refusing a write (out of memory, read-only, ... in any of its spellings) is 503 +
    Retry-After, as an unreachable Redis; any other error reply is a bug."""
    if write_refused(exc):
        return handle_store_unavailable(request, exc)
    return handle_unexpected(request, exc)


def handle_redis_cluster_failure(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """A Redis Cluster with no reachable node or a slot without a master (a failover under way)
    is 503 + Retry-After; any other client-side cluster error is a bug."""
    if isinstance(exc, redis_exceptions.SlotNotCoveredError) or "cannot be connected" in str(exc):
        return handle_store_unavailable(request, exc)
    return handle_unexpected(request, exc)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    redis_exceptions.ConnectionError: handle_store_unavailable,
    redis_exceptions.TimeoutError: handle_store_unavailable,
    # Redis refusing writes (maxmemory reached under noeviction; a read-only replica): docs/operations.md.
    redis_exceptions.OutOfMemoryError: handle_store_unavailable,
    redis_exceptions.ReadOnlyError: handle_store_unavailable,
    redis_exceptions.ResponseError: handle_redis_error,
    # Redis Cluster: CLUSTERDOWN / MASTERDOWN and TRYAGAIN while a failover or a slot move is under way,
    # and ClusterError("TTL exhausted."), their base, when the client ran out of redirects following one.
    redis_exceptions.ClusterError: handle_store_unavailable,
    redis_exceptions.TryAgainError: handle_store_unavailable,
    redis_exceptions.RedisClusterException: handle_redis_cluster_failure,
    asyncpg.PostgresConnectionError: handle_store_unavailable,
    asyncpg.exceptions.OperatorInterventionError: handle_store_unavailable,
    asyncpg.exceptions.InsufficientResourcesError: handle_store_unavailable,
    asyncpg.exceptions.LockNotAvailableError: handle_store_unavailable,
    asyncpg.exceptions.InternalClientError: handle_store_unavailable,
    asyncpg.InterfaceError: handle_postgres_failure,
    OSError: handle_postgres_failure,
    ConnectionError: handle_store_unavailable,
    TimeoutError: handle_store_unavailable,
    asyncpg.CharacterNotInRepertoireError: handle_unstorable_text,
    asyncpg.UntranslatableCharacterError: handle_unstorable_text,
    ClientDisconnected: handle_client_disconnect,
    Replayed: handle_replayed,
    ServiceError: handle_service_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}

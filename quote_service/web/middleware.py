"""Request context: X-Request-ID in and out, security headers, one canonical log line per request.

Wrapped around Litestar's whole ASGI handler (not as route middleware) so that unknown
routes and wrong methods, which never reach a route, are logged and tagged as well. The lean
edge (quote_service/edge.py) sits outside it and does the same for the requests it answers
itself, with the helpers below: `request_id_for`, `finish_request` and `SECURITY_HEADERS`.
"""

from __future__ import annotations

import asyncio
import re
import time

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from quote_service.ids import random_hex
from quote_service.observability.deferred import DeferredHistogram
from quote_service.observability.logging import LEVELS
from quote_service.observability.metrics import REQUEST_DURATION
from quote_service.observability.tracing import name_server_span
from quote_service.web.envelope import ErrorBody, ErrorEnvelope
from quote_service.web.headers import with_security_headers

log = structlog.get_logger("quote_service.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SKIP_LOG_PATHS = frozenset({"/health", "/metrics"})
REQUEST_ID = "request_id"
"""The key of the request's id in `scope["state"]`: set by whichever layer chose it (the lean
edge, before it hands a request on, or this middleware), kept by the next."""
_ERRORS = msgspec.json.Encoder()
SECURITY_HEADERS = tuple(with_security_headers([(b"content-type", b"application/json")])[1:])
"""The security headers of a JSON answer that states no caching of its own (web/headers.py)."""


class RequestContextMiddleware:
    """Binds request_id to the log context, echoes it, and logs the request once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = state.get(REQUEST_ID) or request_id_for(_incoming_request_id(scope))
        header = (b"x-request-id", request_id.encode())
        status = 500
        started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        state[REQUEST_ID] = request_id

        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message["headers"] = with_security_headers([*message.get("headers", []), header])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except (Exception, asyncio.CancelledError) as exc:
            # Litestar renders every Exception of a route; what passes it (a failure in a layer
            # around it, a cancellation that was not this request's) would reach the server,
            # which answers a bare 500 without the envelope or the request id.
            if answered or not answerable(exc):
                raise
            status = await _last_resort(send_with_id, exc)
        finally:
            # Route templates, not paths: one series per endpoint, whatever the ids.
            route = scope.get("path_template") or "unmatched"
            finish_request(scope["method"], route, scope["path"], status, time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()


def answerable(exc: BaseException) -> bool:
    """Whether the request can still be answered: not when this request's own task is being
    cancelled (the client left, the server is stopping)."""
    if not isinstance(exc, asyncio.CancelledError):
        return True
    task = asyncio.current_task()
    return task is not None and not task.cancelling()


async def _last_resort(send: Send, exc: BaseException) -> int:
    """The error envelope of a failure nothing else answered; its status. A stray cancellation
    (work this request shared, cancelled for another's sake) is 503, worth a retry; anything
    else is a bug, 500, logged with its traceback."""
    if isinstance(exc, asyncio.CancelledError):
        log.warning("request_cancelled_by_shared_work")
        status, code, message = 503, "SERVICE_UNAVAILABLE", "The request was interrupted; retry it"
    else:
        log.error("unhandled_exception", exc_info=exc)
        status, code, message = 500, "INTERNAL_ERROR", "Internal server error; the request id identifies it in the logs"
    body = _ERRORS.encode(ErrorEnvelope(message=message, error=ErrorBody(code=code)))
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 503:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
    return status


def request_id_for(incoming: bytes | None) -> str:
    """The request's id: the X-Request-ID it came with when that is a valid one, else a fresh one."""
    if incoming is not None:
        candidate = incoming.decode("latin-1")
        if _VALID_REQUEST_ID.match(candidate):
            return candidate
    return random_hex()


def finish_request(method: str, route: str, path: str, status: int, elapsed: float) -> None:
    """A request answered: its duration in the histogram, the trace's name, the access log line."""
    request_duration(method, route, status).observe(elapsed)
    name_server_span(method, route)
    if LEVELS.info and (path not in _SKIP_LOG_PATHS or status >= 400):
        # log.bind(), not log.info: structlog's lazy proxy answers `.info` through __getattr__ (a
        # failed look-up first); bind() is the logger it assembled at first use (cache_logger_on_first_use).
        log.bind().info("request", method=method, path=path, status=status, duration_ms=round(elapsed * 1000, 3))


_DURATIONS: dict[tuple[str, str, int], DeferredHistogram] = {}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "OTHER"})
"""HTTP's methods (RFC 9110); any other a request names is counted as `OTHER` (docs/operations.md)."""


def request_duration(method: str, route: str, status: int) -> DeferredHistogram:
    """The request-duration histogram's child for these labels, looked up once per label set
    (`labels()` takes a lock and checks its arguments on every call, ~1 µs a request), and
    counted in integers until the next flush (observability/deferred.py)."""
    key = (method, route, status)
    child = _DURATIONS.get(key)
    if child is None:
        if method not in _METHODS:  # a made-up method a client sent: one child for them all, not one each
            return request_duration("OTHER", route, status)  # (in _METHODS: found or made below)
        # Methods, route templates ("unmatched" for the rest) and statuses: a few hundred at most.
        child = _DURATIONS[key] = DeferredHistogram(REQUEST_DURATION.labels(method, route, str(status)))
    return child


def _incoming_request_id(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value
    return None

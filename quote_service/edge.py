"""The lean edge: POST /api/v1/quote served without Litestar when nothing about it is odd.

Litestar's routing, middleware, dependency injection and Response → ASGI conversion cost a
quote about as much as pricing it. This ASGI dispatcher is the app's outermost own layer (only
the optional trace and proxy-header layers wrap it) and takes only the plain case:
`POST /api/v1/quote` with `Content-Type: application/json`, an `X-API-Key` the process
authenticated recently (`AuthService.known_api_key`), a body within the size limit that decodes
straight into `QuoteRequest`, no X-Money-Format or one naming a format (web/money_format.py).
It starts the quote's deadline before anything else, prices, and writes the success envelope's
bytes, money in the format asked for. What RequestContextMiddleware does for every other request
it does for these itself, with the middleware's own helpers: the request id (echoed, bound to
the log context), the security headers, the duration metric, the trace's name, the access log.

A room above may serve one POST of its own here the same way (`LeanPost`, registered in the app's state
once the room has started: an agent's checkout-session update, checkout_sessions/lean_update.py), with
`read_body`, `hand_on` and the helpers `answer`, `replay` and `served`.

Everything else goes to Litestar (through RequestContextMiddleware) with the body replayed, so
it keeps its exact answer: another content type, a bearer token (beside a key too: a pair of
credentials is judged there, 401 when ambiguous), an unknown or new key
(authenticated there, then learned here), malformed or invalid JSON, a body Litestar would
refuse. When the quote service itself fails (a ServiceError — rate limit, overload, policy,
timeout — or a store failure), the request is handed on too, carrying the exception and its
request id: the Litestar handler raises it instead of quoting again, so its envelope comes from
the one exception handler. The Litestar route stays registered (OpenAPI, and the path taken by
every odd request).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final, Protocol
from uuid import UUID

import msgspec
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)
from structlog.contextvars import bind_contextvars, reset_contextvars

from quote_service.auth.middleware import QUOTE_PATH
from quote_service.auth.schemas import Principal
from quote_service.auth.service import AuthService
from quote_service.clock import utcnow
from quote_service.db.idempotency import Replayed
from quote_service.errors import Conflict, ServiceError
from quote_service.event_loop import running_loop
from quote_service.flash_sales.purchases import Purchases
from quote_service.flash_sales.schemas import PurchaseCreate
from quote_service.observability.deferred import DeferredCounter
from quote_service.observability.logging import LEVELS, context_var
from quote_service.observability.metrics import EDGE_REQUESTS, count_purchase
from quote_service.observability.tracing import TRACING
from quote_service.pricing.quote import QuoteRequest
from quote_service.quotes.deadlines import Bound, DeadlineWatch
from quote_service.quotes.service import QuoteService
from quote_service.web.deps import MAX_IDEMPOTENCY_KEY_LENGTH
from quote_service.web.envelope import Envelope, ErrorBody, ErrorEnvelope
from quote_service.web.errors import REPLAYED_HEADER
from quote_service.web.middleware import (
    REQUEST_ID,
    SECURITY_HEADERS,
    answerable,
    finish_request,
    request_duration,
    request_id_for,
)
from quote_service.web.money_format import NUMBERS, header_asks_numbers
from quote_service.web.replay import FirstAnswer
from quote_service.web.request import BODY_READ_DEADLINE, DEFAULT_BODY_READ_TIMEOUT, EDGE_ERROR, strict_decoder

# scope["state"] key: the exception the quote service raised on the lean edge (Litestar renders it).
_DECODER = strict_decoder(QuoteRequest)
_NUL_ESCAPE = b"\\u0000"
_JSON = b"application/json"
_HTTP: Final = ScopeType.HTTP
"""Read once: a member read through its Enum class goes through the metaclass's `__getattr__` hook
(~700 instructions a read)."""
# Counted in integers, published every second and before each scrape (observability/deferred.py).
_LEAN = DeferredCounter(EDGE_REQUESTS.labels(QUOTE_PATH, "lean"))
_HANDED_ON = DeferredCounter(EDGE_REQUESTS.labels(QUOTE_PATH, "litestar"))
# Flash purchases on the lean edge (docs/hot-path.md). They were off for a while: a storm across
# a Redis flush, on a loaded box, answered some purchases 503 — the edge lets more purchases wait
# on Redis at once, and redis-py's default pool refused the 101st concurrent command of a worker
# at once (cache/redis.py now waits for a free connection).
LEAN_PURCHASES = True
_SALES = "/api/v1/flash-sales/"
_PURCHASES = "/purchases"
_PURCHASE_PATH_LENGTH = len(_SALES) + 36 + len(_PURCHASES)
PURCHASE_TEMPLATE = "/api/v1/flash-sales/{sale_id:uuid}/purchases"
_PURCHASE_DECODER = strict_decoder(PurchaseCreate)
_PURCHASE_LEAN = DeferredCounter(EDGE_REQUESTS.labels(PURCHASE_TEMPLATE, "lean"))
_PURCHASE_HANDED_ON = DeferredCounter(EDGE_REQUESTS.labels(PURCHASE_TEMPLATE, "litestar"))
_ENCODER = msgspec.json.Encoder()
_REQUEST_ID = context_var("request_id")
"""The request id every log line of a quote carries (structlog's own variable, set in two C calls)."""
_PREFIX = b'{"success":true,"message":"Quote calculated successfully","data":'
_CONFIRMED = "Purchase confirmed"
_ALREADY_MADE = "Purchase already made with this Idempotency-Key"
_REPLAYED = (REPLAYED_HEADER.lower().encode(), b"true")
_QUOTE_OK = request_duration("POST", QUOTE_PATH, 200)
"""The answered quote's request-duration child, found once (finish_request looks it up by its labels)."""


LEAN_POST = "lean_post"
"""The app-state key of a `LeanPost` a room above registers once started (the edge cannot import it)."""


class LeanPost(Protocol):
    """A POST route served on the edge by a room above it: the plain case, everything else handed on
    (`LeanEdge.hand_on`) to Litestar, which answers it as it always does."""

    def matches(self, path: str) -> bool: ...

    async def serve(self, edge: LeanEdge, scope: Scope, receive: Receive, send: Send) -> None: ...


class LeanEdge:
    """The dispatcher (see module docstring); `inner` is the rest of the app (RequestContextMiddleware
    around Litestar's own ASGI handler)."""

    def __init__(self, inner: ASGIApp, app: Any, *, max_body: int) -> None:
        self.inner = inner
        self.app = app  # the Litestar app: its state holds the services once started
        self.max_body = max_body
        self._deadlines = DeadlineWatch()  # the body reads' deadlines, one timer for all

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == _HTTP and scope["method"] == "POST":
            path = scope["path"]
            if path == QUOTE_PATH:
                await self._quote(scope, receive, send)
                return
            if (
                LEAN_PURCHASES
                and path.startswith(_SALES)
                and path.endswith(_PURCHASES)
                and len(path) == _PURCHASE_PATH_LENGTH
            ):
                await self._purchase(scope, receive, send, path[len(_SALES) : -len(_PURCHASES)])
                return
            # A lean POST a room above registered once started (`LEAN_POST`: an agent's checkout-session update,
            # checkout_sessions/lean_update.py), read each time as `quotes` is: an app started again has a new one.
            lean: LeanPost | None = self.app.state.get(LEAN_POST)
            if lean is not None and lean.matches(path):
                await lean.serve(self, scope, receive, send)
                return
        await self.inner(scope, receive, send)

    async def _quote(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        # state.get, not getattr: Litestar's State answers attributes through __getattr__, after
        # the normal look-up has failed and made an AttributeError (~5,000 instructions a time).
        state = self.app.state
        quotes: QuoteService | None = state.get("quotes")
        auth: AuthService | None = state.get("auth")
        content_type = api_key = money = incoming_id = authorization = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"x-api-key":
                api_key = value
            elif name == b"x-money-format":
                money = value
            elif name == b"x-request-id":
                incoming_id = value if incoming_id is None else incoming_id
            elif name == b"authorization":
                authorization = value
        # A second credential beside the key: Litestar judges the pair (401 when ambiguous).
        principal = auth.known_api_key(api_key) if auth is not None and api_key and authorization is None else None
        numbers = _numbers(money, principal)
        if quotes is None or principal is None or content_type != _JSON or numbers is None:
            await self._hand_on(scope, receive, send, None, api_key, auth)
            return
        now = running_loop().time()
        deadline = now + quotes.timeout  # counts from before the body read
        # One deadline entry for the request: the body read's, then (entered again) the quote's.
        bound = Bound(quotes.deadlines, now + state.get("body_read_timeout", DEFAULT_BODY_READ_TIMEOUT))
        body, complete = await self._read_body(scope, receive, bound)
        if not complete or not body or _NUL_ESCAPE in body:
            await self._hand_on(scope, _replay(body, complete, receive), send, None, api_key, auth)
            return
        try:
            request = _DECODER.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # bad UTF-8 in a str: UnicodeDecodeError
            await self._hand_on(scope, _replay(body, complete, receive), send, None, api_key, auth)
            return
        scope["path_template"] = QUOTE_PATH
        scope["user"], scope["auth"] = principal, "api_key"
        request_id = request_id_for(incoming_id)  # _served's, without its frame: the state is there (the body read's)
        scope["state"][REQUEST_ID] = request_id
        token = _REQUEST_ID.set(request_id)
        try:
            bound.when = deadline
            priced = await quotes.quote(request, principal, body=body, numbers=numbers, bound=bound)
        except (Exception, asyncio.CancelledError) as exc:  # rendered by Litestar's exception handlers, as there
            if not answerable(exc):  # this request itself is being cancelled
                raise
            _REQUEST_ID.reset(token)
            await self._hand_on(scope, _replay(body, complete, receive), send, exc, api_key, auth)
            return
        try:
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            payload = b"".join((_PREFIX, priced.json, b',"processing_time_ms":', msgspec.json.encode(elapsed), b"}"))
            _LEAN.pending += 1  # DeferredCounter.inc without the call
            await _answer(send, 200, payload, request_id)
        finally:
            elapsed = time.perf_counter() - started
            if LEVELS.info or TRACING.tracer is not None:  # the access log line, the trace's name
                finish_request("POST", QUOTE_PATH, QUOTE_PATH, 200, elapsed)
            else:  # finish_request's one other step, without its label look-up
                _QUOTE_OK.observe(elapsed)
            _REQUEST_ID.reset(token)

    async def _purchase(self, scope: Scope, receive: Receive, send: Send, sale: str) -> None:
        """POST /api/v1/flash-sales/{id}/purchases: a storm is mostly refusals (409), answered
        here with the exact envelope the route builds; anything else goes to Litestar."""
        started = time.perf_counter()
        state = self.app.state
        purchases: Purchases | None = state.get("purchases")
        auth: AuthService | None = state.get("auth")
        content_type = api_key = idempotency_key = money = incoming_id = authorization = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"x-api-key":
                api_key = value
            elif name == b"idempotency-key":  # twice: b"", handed on (Litestar decides which counts)
                idempotency_key = value if idempotency_key is None else b""
            elif name == b"x-money-format":
                money = value
            elif name == b"x-request-id":
                incoming_id = value if incoming_id is None else incoming_id
            elif name == b"authorization":
                authorization = value
        principal = auth.known_api_key(api_key) if auth is not None and api_key and authorization is None else None
        numbers = _numbers(money, principal)
        if (
            purchases is None
            or principal is None
            or numbers is None
            or content_type != _JSON
            or idempotency_key is None
            or not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH
            or not idempotency_key.isascii()
        ):
            await self._hand_on(scope, receive, send, None, api_key, auth, _PURCHASE_HANDED_ON)
            return
        seconds = state.get("body_read_timeout", DEFAULT_BODY_READ_TIMEOUT)
        body, complete = await self._read_body(scope, receive, self._deadlines.bound(running_loop().time() + seconds))
        try:
            if not complete or not body or _NUL_ESCAPE in body:
                raise ValueError
            sale_id = UUID(sale)
            data = _PURCHASE_DECODER.decode(body)
        except (ValueError, msgspec.DecodeError, RecursionError):  # UnicodeDecodeError is a ValueError
            await self._hand_on(scope, _replay(body, complete, receive), send, None, api_key, auth, _PURCHASE_HANDED_ON)
            return
        scope["path_template"] = PURCHASE_TEMPLATE
        scope["user"], scope["auth"] = principal, "api_key"
        request_id = _served(scope, incoming_id)
        tokens = bind_contextvars(request_id=request_id)
        status = 500
        reply = FirstAnswer(_CONFIRMED, status=201, numbers=numbers)
        try:
            try:
                purchase, replayed = await purchases.purchase(
                    sale_id, data, principal=principal, idempotency_key=idempotency_key.decode(), now=utcnow(),
                    reply=reply,
                )  # fmt: skip
            except Replayed as again:  # the key's first answer, again (web/replay.py)
                count_purchase("replayed")
                _PURCHASE_LEAN.inc()
                answer = again.answer if again.answer is not None else reply.refusal(_refusal_of(again))
                status = answer.status
                await _answer(send, status, answer.body, request_id, replayed=True)
                return
            except Conflict as refused:
                count_purchase(refused.code)
                _PURCHASE_LEAN.inc()
                envelope = ErrorEnvelope(
                    message=refused.message, error=ErrorBody(code=refused.code, details=refused.details)
                )
                status = refused.status_code
                await _answer(send, status, _ENCODER.encode(envelope), request_id)
                return
            except Exception as exc:  # rendered by Litestar's exception handlers, exactly as there
                status = 0  # answered (and logged) by the middleware around Litestar
                if isinstance(exc, ServiceError):
                    count_purchase(exc.code)
                reset_contextvars(**tokens)
                await self._hand_on(
                    scope, _replay(body, complete, receive), send, exc, api_key, auth, _PURCHASE_HANDED_ON
                )
                return
            count_purchase("replayed" if replayed else "confirmed")
            _PURCHASE_LEAN.inc()
            status = 201
            if replayed:  # made before its answer was kept: the purchase as it is now
                encoder = NUMBERS if numbers else _ENCODER
                payload = encoder.encode(Envelope(message=_ALREADY_MADE, data=purchase))
                await _answer(send, status, payload, request_id, replayed=True)
            else:
                await _answer(send, status, reply.written().body, request_id)
        finally:
            if status:
                finish_request("POST", PURCHASE_TEMPLATE, scope["path"], status, time.perf_counter() - started)
                reset_contextvars(**tokens)

    async def read_body(self, scope: Scope, receive: Receive, seconds: float | None = None) -> tuple[bytes, bool]:
        """The body within the app's body-read timeout (or `seconds`): for a `LeanPost`; `complete` False when
        it is not all there (hand the request on with `replay`)."""
        if seconds is None:
            seconds = self.app.state.get("body_read_timeout", DEFAULT_BODY_READ_TIMEOUT)
        return await self._read_body(scope, receive, self._deadlines.bound(running_loop().time() + seconds))

    async def hand_on(
        self, scope: Scope, receive: Receive, send: Send, error: BaseException | None, key: bytes | None, counter: Any
    ) -> None:
        """A `LeanPost`'s request to Litestar (`error`: what its own run raised, for the route to raise again)."""
        await self._hand_on(scope, receive, send, error, key, self.app.state.get("auth"), counter)

    async def _read_body(self, scope: Scope, receive: Receive, bound: Bound) -> tuple[bytes, bool]:
        """The body within the body-read timeout, `bound` (its deadline is left in the scope: when the
        request is handed on, Litestar reads the rest by the same deadline and answers 408)."""
        scope.setdefault("state", {})[BODY_READ_DEADLINE] = bound.when
        chunks: list[bytes] = []
        try:
            with bound:
                return await _read_body(receive, self.max_body, chunks)
        except TimeoutError:
            return b"".join(chunks), False

    async def _hand_on(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        error: BaseException | None,
        api_key: bytes | None,
        auth: AuthService | None,
        counter: Any = None,
    ) -> None:
        (counter or _HANDED_ON).inc()
        if error is not None:
            scope.setdefault("state", {})[EDGE_ERROR] = error
        await self.inner(scope, receive, send)
        # A key the normal path accepted is served here next time (for as long as its cache entry lives).
        user = scope.get("user")
        if (
            error is None
            and api_key
            and auth is not None
            and scope.get("auth") == "api_key"
            and isinstance(user, Principal)
        ):
            auth.learn_api_key(api_key, user)


def _numbers(header: bytes | None, principal: Principal | None) -> bool | None:
    """Whether to write money as numbers (web/money_format.py); None for a header naming no
    format (handed on: Litestar answers the 422)."""
    if header is not None:
        return header_asks_numbers(header)
    return principal is not None and principal.money_format == "number"


def _refusal_of(again: Replayed) -> ServiceError:
    """The refusal a replayed key got first (its answer is then written from it)."""
    assert again.refusal is not None
    return again.refusal


def _served(scope: Scope, incoming: bytes | None) -> str:
    """The id of a request the edge answers (kept in the scope: should the request be handed on
    after all, RequestContextMiddleware logs it under the same id)."""
    request_id = request_id_for(incoming)
    scope.setdefault("state", {})[REQUEST_ID] = request_id
    return request_id


async def _answer(
    send: Send,
    status: int,
    payload: bytes,
    request_id: str,
    *,
    replayed: bool = False,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """The response, with the headers RequestContextMiddleware gives every answer (and `Idempotent-Replayed: true`
    for a keyed request's answer sent again); `extra`: the route's own headers (a binding's API-Version)."""
    headers = [
        (b"content-type", _JSON),
        (b"content-length", b"%d" % len(payload)),
        *extra,
        (b"x-request-id", request_id.encode()),
        *SECURITY_HEADERS,
    ]
    if replayed:
        headers.append(_REPLAYED)
    await send(HTTPResponseStartEvent(type="http.response.start", status=status, headers=headers))
    await send(HTTPResponseBodyEvent(type="http.response.body", body=payload, more_body=False))


async def _read_body(receive: Receive, limit: int, chunks: list[bytes]) -> tuple[bytes, bool]:
    """The body, and whether it is all there: False when it exceeds `limit` or the client left
    (what was read is replayed to Litestar, which then answers or reads on as it always does)."""
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks), True


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A receive that first hands back what was already read, then continues the real one."""
    sent = False

    async def replayed() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            return HTTPRequestEvent(type="http.request", body=body, more_body=not complete)
        return await receive()

    return replayed


answer = _answer
replay = _replay
served = _served
"""The edge's helpers, for a `LeanPost` of a room above."""

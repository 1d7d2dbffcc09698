"""An agent's ACP update served on the lean edge (edge.py `LeanPost`): the plain case without Litestar.

An update is an agent's most frequent request, and Litestar's routing, middleware, dependency injection and
Response → ASGI conversion cost it ~160 µs of CPU (docs/agents.md#what-an-update-costs). Served here:
`POST /acp/checkout_sessions/{id}` with `Content-Type: application/json`, an API key the process
authenticated recently (`X-API-Key`, or `Authorization: Bearer qsk_...`) of an agent, service or admin key
registered without a public key (a signed request is verified on the normal path), an `API-Version` this
binding supports or none, one `Idempotency-Key` of 1-128 printable ASCII characters, at most one `Request-Id`, and a
body that decodes into the update. The session service runs exactly as the route runs it, and the answer is
the bytes it kept for the key, with the route's headers.

Everything else goes to Litestar with the body replayed, where the route answers it as it always does: any
other header or credential, an unknown key (authenticated there, then learned here), a body the binding
refuses (its 400 naming the field). When the service itself raises — a refusal, a replayed key, a failure —
the request is handed on carrying the exception, and the route raises it in its place
(`acp.AcpCheckoutSessions.update`): the answer comes from the binding's own rendering, byte for byte.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple
from uuid import UUID

from litestar.types import Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from quote_service.auth.schemas import Principal
from quote_service.auth.service import AuthService
from quote_service.checkout_sessions.acp import SUPPORTED, VERSION, AcpCall, AcpUpdate, changes_of
from quote_service.checkout_sessions.binding import AGENT_ROLES, Malformed, ProtocolReply, decoded
from quote_service.checkout_sessions.service import CheckoutSessions, Keyed, fingerprint
from quote_service.edge import LeanEdge, answer, replay, served
from quote_service.observability.deferred import DeferredCounter
from quote_service.observability.metrics import EDGE_REQUESTS
from quote_service.web.deps import MAX_IDEMPOTENCY_KEY_LENGTH
from quote_service.web.middleware import finish_request

PREFIX = "/acp/checkout_sessions/"
TEMPLATE = "/acp/checkout_sessions/{session_id:uuid}"
_LENGTH = len(PREFIX) + 36
_JSON = b"application/json"
_BEARER_KEY = b"Bearer qsk_"
_LEAN = DeferredCounter(EDGE_REQUESTS.labels(TEMPLATE, "lean"))
_HANDED_ON = DeferredCounter(EDGE_REQUESTS.labels(TEMPLATE, "litestar"))
_SUPPORTED = tuple(version.encode() for version in SUPPORTED)
_VERSION_HEADER = (b"api-version", VERSION.encode())
_SIGNED = frozenset((b"signature", b"signature-input", b"timestamp", b"content-digest", b"cookie", b"x-money-format"))
"""Headers of a signed request, a browser's cookie, a money format: the normal path reads them."""


class LeanAcpUpdate:
    """The `LeanPost` of ACP updates (registered in the app's state by the plugin once started)."""

    def __init__(self, sessions: CheckoutSessions, auth: AuthService) -> None:
        self.sessions = sessions
        self.auth = auth

    def matches(self, path: str) -> bool:
        return len(path) == _LENGTH and path.startswith(PREFIX)

    async def serve(self, edge: LeanEdge, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        content_type = key = version = idempotency = request_id = incoming_id = None
        plain = True
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"x-api-key":
                plain = plain and key is None
                key = value
            elif name == b"authorization":
                plain = plain and key is None and value.startswith(_BEARER_KEY)
                key = value[7:]
            elif name == b"idempotency-key":
                plain = plain and idempotency is None
                idempotency = value
            elif name == b"api-version":
                plain = plain and version is None
                version = value
            elif name == b"request-id":
                plain = plain and request_id is None
                request_id = value
            elif name == b"x-request-id":
                incoming_id = value if incoming_id is None else incoming_id
            elif name in _SIGNED:
                plain = False
        principal = self.auth.known_api_key(key) if plain and key else None
        if (
            principal is None
            or principal.role not in AGENT_ROLES
            or principal.public_key is not None
            or content_type != _JSON
            or (version is not None and version not in _SUPPORTED)
            or idempotency is None
            or not 1 <= len(idempotency) <= MAX_IDEMPOTENCY_KEY_LENGTH
            or not idempotency.isascii()
            or not idempotency.decode().isprintable()  # `binding.printable`: the normal path refuses the rest
            or (request_id is not None and not request_id.isascii())
        ):
            await edge.hand_on(scope, receive, send, None, key, _HANDED_ON)
            return
        body, complete = await edge.read_body(scope, receive)
        try:
            if not complete:
                raise ValueError
            session_id = UUID(scope["path"][len(PREFIX) :])
            data = decoded(body, AcpUpdate)
        except (ValueError, Malformed):
            await edge.hand_on(scope, replay(body, complete, receive), send, None, key, _HANDED_ON)
            return
        await self._update(edge, scope, receive, send, _Sent(principal, key, idempotency, request_id, incoming_id),
                           session_id, data, body, complete, started)  # fmt: skip

    async def _update(
        self,
        edge: LeanEdge,
        scope: Scope,
        receive: Receive,
        send: Send,
        sent: _Sent,
        session_id: UUID,
        data: AcpUpdate,
        body: bytes,
        complete: bool,
        started: float,
    ) -> None:
        scope["path_template"] = TEMPLATE
        scope["user"], scope["auth"] = sent.principal, "api_key"
        request_id = served(scope, sent.incoming_id)
        tokens = bind_contextvars(request_id=request_id)
        status = 0
        try:
            idempotency = sent.idempotency.decode()
            call = AcpCall.lean(idempotency, None if sent.request_id is None else sent.request_id.decode())
            reply = ProtocolReply(call, 200)
            keyed = Keyed(idempotency, fingerprint("acp.update", session_id, body), reply)
            try:
                await self.sessions.update(sent.principal, session_id, changes_of(data), keyed)
            except Exception as exc:  # rendered by the route (the binding's own shapes), exactly as there
                reset_contextvars(**tokens)
                tokens = {}
                await edge.hand_on(scope, replay(body, complete, receive), send, exc, sent.key, _HANDED_ON)
                return
            assert reply.answer is not None, "the service did not write its answer"
            status = reply.answer.status
            _LEAN.pending += 1  # DeferredCounter.inc without the call
            extra: tuple[tuple[bytes, bytes], ...] = (_VERSION_HEADER,)
            if sent.request_id is not None:
                extra = (_VERSION_HEADER, (b"request-id", sent.request_id))
            await answer(send, status, reply.answer.body, request_id, extra=extra)
        finally:
            if status:
                finish_request("POST", TEMPLATE, scope["path"], status, time.perf_counter() - started)
            if tokens:
                reset_contextvars(**tokens)


class _Sent(NamedTuple):
    """What the request sent that the update needs."""

    principal: Principal
    key: Any
    idempotency: bytes
    request_id: bytes | None
    incoming_id: bytes | None

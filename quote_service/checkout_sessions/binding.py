"""What the two protocol bindings share: a request's checks, its body read into a Struct (a 400 naming the
bad field's JSONPath), the service run under its Idempotency-Key with its answers written in the protocol's
shape (db/idempotency.py `Reply`), and RFC 3339 times. A binding subclasses `Call` with its shapes."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Self, TypeVar
from uuid import UUID

import msgspec
from litestar import Response
from litestar.enums import MediaType

from quote_service.agents.signatures import Protocol as SigningProtocol
from quote_service.agents.signatures import SignatureRefused, verify_request
from quote_service.auth.guards import require_role
from quote_service.checkout_sessions.schemas import Allowance, Changes, Payment, Session
from quote_service.checkout_sessions.service import CheckoutSessions, Keyed, fingerprint
from quote_service.db.idempotency import JSON, Answer
from quote_service.errors import ServiceError
from quote_service.web.deps import MAX_IDEMPOTENCY_KEY_LENGTH, AuthedRequest
from quote_service.web.request import EDGE_ERROR

T = TypeVar("T")
_AT = re.compile(r" - at `(\$[^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")
_ENCODER = msgspec.json.Encoder()
KEY = "Idempotency-Key"
AGENT_ROLES = frozenset(("agent", "service", "admin"))
"""Who may call a binding's routes: checked by `Call` (the controllers carry no guard, docs/agents.md)."""


class Malformed(Exception):
    """A body that is not the protocol's shape: its 400 names the field (JSONPath); nothing is written."""

    def __init__(self, param: str, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.param = param
        self.message = message
        self.code = code


def decoded(body: bytes, into: type[T]) -> T:
    """`body` as `into`, or `Malformed` naming the field."""
    if not body.strip():
        raise Malformed("$", "the request body is missing", code="missing")
    try:
        return msgspec.json.decode(body, type=into)
    except msgspec.ValidationError as exc:
        text = str(exc)
        at = _AT.search(text)
        path = at[1] if at is not None else "$"
        missing = _MISSING.search(text)
        if missing is not None:
            raise Malformed(f"{path}.{missing[1]}", text, code="missing") from exc
        raise Malformed(path, text) from exc
    except msgspec.DecodeError as exc:
        raise Malformed("$", f"the body is not valid JSON: {exc}") from exc


@functools.lru_cache(maxsize=4096)
def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC, seconds precision. Remembered: a session's answer writes the same few moments (its
    expiries, each option's delivery window) many times, and `strftime` costs ~4 µs each."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def json_response(content: Any, status: int, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(_ENCODER.encode(content), status_code=status, media_type=MediaType.JSON, headers=headers)


class ProtocolReply:
    """A keyed request's answers in a binding's shape (db/idempotency.py `Reply`)."""

    def __init__(self, call: Call, status: int) -> None:
        self.call = call
        self.status = status
        self.answer: Answer | None = None

    def success(self, result: Any) -> Answer:
        self.answer = Answer(self.status, _ENCODER.encode(self.call.render(result)), JSON)
        return self.answer

    def refusal(self, error: ServiceError) -> Answer:
        status, content = self.call.error_of(error)
        return Answer(status, _ENCODER.encode(content), JSON)


Run = Callable[[Any, Keyed], Awaitable[Session]]


def printable(value: str) -> bool:
    """A header value of printable ASCII, spaces inside allowed (docs/agents.md: the agents' Idempotency-Key and
    UCP-Agent); a control character or a byte past ASCII, which HTTP lets through as opaque data, is refused."""
    return value.isascii() and value.isprintable()


class Call:
    """One request to a binding: its headers checked (`problem`: the refusal to send instead), its signature
    verified, its body read into the protocol's Struct, the service's answer or refusal in the protocol's shape."""

    protocol: SigningProtocol

    def __init__(self, request: AuthedRequest, *, keyed: bool) -> None:
        require_role(request.user, AGENT_ROLES)  # first, as a guard would: a 403 before any other check
        headers = request.headers
        self.request = request
        self.key = headers.get("idempotency-key")
        self.request_id = headers.get("request-id")
        self.problem = self.check(headers) or (self._check_key() if keyed else None)

    @classmethod
    def lean(cls, key: str, request_id: str | None) -> Self:
        """The call of a request the lean edge checked as the constructor checks one (lean_update.py): its key
        and Request-Id, no Litestar request (nothing it answers links an order: `base_url` is not made)."""
        call = cls.__new__(cls)
        call.key, call.request_id, call.problem = key, request_id, None
        return call

    # What a binding defines.
    def check(self, headers: Any) -> Response[bytes] | None:
        """The binding's own header checks (a version, an agent header)."""
        return None

    def render(self, session: Session) -> dict[str, Any]:
        raise NotImplementedError

    def error_of(self, refused: ServiceError) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def failed(self, code: str, message: str, param: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def headers(self) -> dict[str, str]:
        return {"Request-Id": self.request_id} if self.request_id else {}

    @functools.cached_property
    def base_url(self) -> str:
        """Where the service is reached, as the agent reached it: made only for an answer that links an order."""
        return str(self.request.base_url).rstrip("/")

    # Shared.
    def verify(self, body: bytes) -> None:
        """A key registered with a public key must sign the request as its protocol signs (401 naming the
        reason, before anything is read or written: agents/signatures.py)."""
        request = self.request
        if request.user.public_key is None:  # nothing to verify: the URL and headers are not made
            return
        verify_request(
            request.method,
            str(request.url),
            list(request.headers.multi_items()),
            body,
            request.user,
            protocol=self.protocol,
        )

    def error_body(self, refused: ServiceError) -> tuple[int, dict[str, Any]]:
        """The refusal in the binding's shape; a refused signature's code is its reason."""
        if isinstance(refused, SignatureRefused):
            return 401, self.failed(refused.reason, refused.message)
        return self.error_of(refused)

    def _check_key(self) -> Response[bytes] | None:
        if not self.key:
            return self.refuse(400, self.failed("idempotency_key_required", "send an Idempotency-Key header", KEY))
        if len(self.key) > MAX_IDEMPOTENCY_KEY_LENGTH or not printable(self.key):
            message = "Idempotency-Key is 1 to 128 printable ASCII characters"
            return self.refuse(400, self.failed("invalid", message, KEY))
        return None

    def refuse(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> Response[bytes]:
        return json_response(body, status, {**self.headers, **(extra or {})})

    def refused(self, error: ServiceError) -> Response[bytes]:
        status, body = self.error_body(error)
        return self.refuse(status, body, {"Retry-After": str(error.retry_after)} if error.retry_after else None)

    async def write(
        self, operation: str, session_id: UUID | None, into: type[Any] | None, run: Run, status: int = 200
    ) -> Response[bytes]:
        """A keyed write: the body read (400 naming the field, nothing written), the service run under the
        key, and the answer it kept sent (a retry gets it from the `Replayed` handler)."""
        if self.problem is not None:
            return self.problem
        body = await self.request.body()
        try:
            self.verify(body)
            data = None if into is None else decoded(body, into)
        except Malformed as bad:
            return self.refuse(400, self.failed(bad.code, bad.message, bad.param))
        except SignatureRefused as refused:
            return self.refused(refused)
        reply = ProtocolReply(self, status)
        assert self.key is not None
        try:
            await run(data, Keyed(self.key, fingerprint(operation, session_id, body), reply))
        except ServiceError as refused:
            return self.refused(refused)
        assert reply.answer is not None, "the service did not write its answer"
        return Response(
            reply.answer.body, status_code=reply.answer.status, media_type=MediaType.JSON, headers=self.headers
        )

    async def update(
        self,
        sessions: CheckoutSessions,
        session_id: UUID,
        into: type[T],
        changes: Callable[[T], Changes],
        *,
        replace: bool = False,
    ) -> Response[bytes]:
        """An update (`replace`: a full replace) of the session with the body's `changes`."""

        async def run(data: T, keyed: Keyed) -> Session:
            if (failed := self.request.scope["state"].get(EDGE_ERROR)) is not None:
                raise failed  # the lean edge ran this update (lean_update.py): its outcome, rendered here
            return await sessions.update(self.request.user, session_id, changes(data), keyed, replace=replace)

        return await self.write(f"{self.protocol}.update", session_id, into, run)

    async def complete(self, sessions: CheckoutSessions, session_id: UUID, into: type[Any]) -> Response[bytes]:
        """A complete with the body's `payment_data`."""

        async def run(data: Any, keyed: Keyed) -> Session:
            return await sessions.complete(self.request.user, session_id, payment_of(data.payment_data), keyed)

        return await self.write(f"{self.protocol}.complete", session_id, into, run)

    async def cancel(self, sessions: CheckoutSessions, session_id: UUID) -> Response[bytes]:
        async def run(_: None, keyed: Keyed) -> Session:
            return await sessions.cancel(self.request.user, session_id, keyed)

        return await self.write(f"{self.protocol}.cancel", session_id, None, run)

    async def read(self, sessions: CheckoutSessions, session_id: UUID) -> Response[bytes]:
        if self.problem is not None:
            return self.problem
        try:
            self.verify(await self.request.body())
            session = await sessions.get(self.request.user, session_id)
        except ServiceError as refused:
            return self.refused(refused)
        return json_response(self.render(session), 200, self.headers)


def payment_of(sent: Any) -> Payment:
    """A complete's `payment_data` (either binding's: token, provider, allowance?) as the service takes it."""
    limit = sent.allowance
    allowance = (
        None
        if limit is None
        else Allowance(max_amount=limit.max_amount, currency=limit.currency, expires_at=limit.expires_at)
    )
    return Payment(token=sent.token, provider=sent.provider, allowance=allowance)

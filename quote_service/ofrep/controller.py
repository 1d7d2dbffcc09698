"""HTTP: /ofrep/v1/evaluate/flags[/{key}] (service API keys and admins; docs/openfeature.md).

OFREP's bodies and status codes, never the /api/v1 envelope: an evaluation answers 200, an
unknown flag 404 `FLAG_NOT_FOUND`, a body or context OFREP refuses 400 (`PARSE_ERROR`,
`INVALID_CONTEXT`, `TARGETING_KEY_MISSING`); every other refusal (401, 403, 408, 413, 503...)
keeps its status with the body `{errorCode: "GENERAL", errorDetails}` — the same exception
handlers as everywhere, reshaped here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.params import FromPath

from quote_service.auth.guards import requires_role
from quote_service.clock import utcnow
from quote_service.ofrep import service
from quote_service.ofrep.schemas import ENCODER, Failure
from quote_service.ofrep.service import OfrepError
from quote_service.web.deps import AuthedRequest, ConfigStoreDep
from quote_service.web.envelope import ErrorEnvelope
from quote_service.web.errors import EXCEPTION_HANDLERS

JSON = "application/json"
PATH = "/ofrep/v1/evaluate"


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def _refused(exc: OfrepError, key: str | None) -> Response[bytes]:
    failure = Failure(key=key if key is not None else msgspec.UNSET, error_code=exc.code, error_details=exc.details)
    return _json(ENCODER.encode(failure), exc.status)


Handler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


def _reshaped(handler: Handler) -> Handler:
    """The service's handler for an exception, its envelope body turned into OFREP's (status and
    headers, Retry-After and WWW-Authenticate included, kept)."""

    def handle(request: Request[Any, Any, Any], exc: Any) -> Response[Any]:
        if isinstance(exc, OfrepError):
            return _refused(exc, request.path_params.get("key"))
        response = handler(request, exc)
        envelope = response.content
        details = envelope.message if isinstance(envelope, ErrorEnvelope) else "request refused"
        body = ENCODER.encode(Failure(error_code="GENERAL", error_details=details))
        return Response(body, status_code=response.status_code, media_type=JSON, headers=dict(response.headers))

    return handle


OFREP_EXCEPTION_HANDLERS: dict[Any, Any] = {kind: _reshaped(handler) for kind, handler in EXCEPTION_HANDLERS.items()}
OFREP_EXCEPTION_HANDLERS[OfrepError] = _reshaped(EXCEPTION_HANDLERS[Exception])


class OfrepController(Controller):
    path = PATH
    tags = ["openfeature"]
    guards = [requires_role("admin", "service")]
    exception_handlers = OFREP_EXCEPTION_HANDLERS

    @post("/flags/{key:str}", status_code=200, summary="Evaluate one flag for a context (OFREP)")
    async def evaluate_flag(
        self, key: FromPath[str], request: AuthedRequest, config_store: ConfigStoreDep
    ) -> Response[bytes]:
        ctx = service.parse_context(await request.body(), customer_group=request.user.customer_group)
        answer = service.evaluate_one(config_store.snapshot.flags, key, ctx, utcnow())
        return _json(ENCODER.encode(answer))

    @post("/flags", status_code=200, summary="Evaluate every flag for a context (OFREP bulk, ETag)")
    async def evaluate_flags(self, request: AuthedRequest, config_store: ConfigStoreDep) -> Response[bytes]:
        ctx = service.parse_context(await request.body(), customer_group=request.user.customer_group)
        body = service.evaluate_all(config_store.snapshot.flags, ctx, utcnow())
        tag = service.etag(body)
        if service.matches(request.headers.get("if-none-match"), tag):
            return Response(b"", status_code=304, headers={"ETag": tag})
        return _json(body, headers={"ETag": tag})

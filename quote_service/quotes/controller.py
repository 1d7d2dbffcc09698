"""HTTP: POST /api/v1/quote and GET /api/v1/quotes/{quote_id}."""

from __future__ import annotations

import time
from uuid import UUID

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from quote_service.auth.guards import any_caller
from quote_service.errors import NotFound
from quote_service.pricing.quote import Quote, QuoteRequest
from quote_service.quotes.service import QuoteService
from quote_service.web.deps import AuthedRequest
from quote_service.web.envelope import Envelope, ok


class QuoteEnvelope(msgspec.Struct, kw_only=True):
    """The success envelope plus the Go service's `processing_time_ms`."""

    success: bool = True
    message: str
    data: Quote
    processing_time_ms: float


@post("/api/v1/quote", status_code=200, guards=[any_caller], tags=["quotes"], summary="Price a basket")
async def create_quote(
    data: JSONBody[QuoteRequest], request: AuthedRequest, quotes: NamedDependency[QuoteService]
) -> QuoteEnvelope:
    started = time.perf_counter()
    quote = await quotes.quote(data, request.user)
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return QuoteEnvelope(message="Quote calculated successfully", data=quote, processing_time_ms=elapsed)


@get("/api/v1/quotes/{quote_id:uuid}", guards=[any_caller], tags=["quotes"], summary="A stored quote")
async def get_quote(quote_id: FromPath[UUID], quotes: NamedDependency[QuoteService]) -> Envelope[Quote]:
    quote = await quotes.get(quote_id)
    if quote is None:
        raise NotFound(f"quote {quote_id} not found or expired")
    return ok(quote)

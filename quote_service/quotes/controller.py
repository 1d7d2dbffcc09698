"""HTTP: POST /api/v1/quote, GET /api/v1/quotes/{quote_id} and GET /api/v1/products/{id}/price."""

from __future__ import annotations

import time
from http import HTTPStatus
from uuid import UUID

import msgspec
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.auth.guards import any_caller
from quote_service.auth.middleware import QUOTE_DEADLINE
from quote_service.errors import NotFound
from quote_service.pricing.quote import Quote, QuoteRequest
from quote_service.quotes.display_prices import Prices, PricesRequest
from quote_service.quotes.product_price import ProductPrice, Quantity, Region, TierName, price_product
from quote_service.quotes.service import QuoteService
from quote_service.web.deps import AuthedRequest
from quote_service.web.envelope import Envelope, ok
from quote_service.web.money_format import wants_numbers
from quote_service.web.request import EDGE_ERROR


class QuoteEnvelope(msgspec.Struct, kw_only=True):
    """The success envelope plus the Go service's `processing_time_ms`."""

    success: bool = True
    message: str
    data: Quote
    processing_time_ms: float


class _EncodedQuoteEnvelope(msgspec.Struct, kw_only=True):
    """QuoteEnvelope as sent: the quote is the JSON the store wrote, not encoded a second time
    (~5% of a quote's CPU). Same fields in the same order: tests/unit/test_quotes_edge.py."""

    success: bool = True
    message: str
    data: msgspec.Raw
    processing_time_ms: float


_ENCODER = msgspec.json.Encoder()
# The answer is built by quote_response, so its schema is declared (as Litestar derived it before).
_DOCUMENTED_ANSWER = ResponseSpec(QuoteEnvelope, description=HTTPStatus.OK.description, generate_examples=False)


def quote_response(quote_json: bytes, processing_time_ms: float) -> Response[bytes]:
    """The success answer of POST /api/v1/quote around an already encoded quote."""
    envelope = _EncodedQuoteEnvelope(
        message="Quote calculated successfully", data=msgspec.Raw(quote_json), processing_time_ms=processing_time_ms
    )
    return Response(_ENCODER.encode(envelope), media_type=MediaType.JSON)


# Every role may quote and AuthMiddleware has already refused anonymous callers, so this route
# has no guard: Litestar copies the route handler for each guard call (~6 µs a request).
@post(
    "/api/v1/quote",
    status_code=200,
    tags=["quotes"],
    summary="Price a basket",
    responses={200: _DOCUMENTED_ANSWER},
)
async def create_quote(
    data: JSONBody[QuoteRequest], request: AuthedRequest, quotes: NamedDependency[QuoteService]
) -> Response[bytes]:
    state = request.scope["state"]
    if (failed := state.get(EDGE_ERROR)) is not None:  # the lean edge's quote failed: answer it here
        raise failed
    started = time.perf_counter()
    # The raw body (already read, kept by Litestar) keys the identical-request cache, as on the edge.
    priced = await quotes.quote(
        data, request.user, state.get(QUOTE_DEADLINE), await request.body(), numbers=wants_numbers(request.scope)
    )
    return quote_response(priced.json, round((time.perf_counter() - started) * 1000, 3))


@get(
    "/api/v1/quotes/{quote_id:uuid}",
    guards=[any_caller],
    tags=["quotes"],
    summary="A stored quote (to the caller that made it, or an admin)",
)
async def get_quote(
    quote_id: FromPath[UUID], request: AuthedRequest, quotes: NamedDependency[QuoteService]
) -> Envelope[Quote]:
    quote = await quotes.get(quote_id, request.user)
    if quote is None:
        raise NotFound(f"quote {quote_id} not found or expired")
    return ok(quote)


@get(
    "/api/v1/products/{product_id:uuid}/price",
    guards=[any_caller],
    tags=["catalog"],
    summary="A product's final unit price for a quantity, tier and region, and the rules behind it",
)
async def get_product_price(
    product_id: FromPath[UUID],
    request: AuthedRequest,
    quotes: NamedDependency[QuoteService],
    quantity: FromQuery[Quantity] = 1,
    user_tier: FromQuery[TierName] = None,
    region: FromQuery[Region] = None,
) -> Envelope[ProductPrice]:
    priced = await price_product(
        quotes, product_id, request.user, quantity=quantity, user_tier=user_tier, region=region
    )
    return ok(priced)


@post(
    "/api/v1/prices",
    status_code=200,
    guards=[any_caller],
    tags=["catalog"],
    summary="Display prices: up to 200 products' unit prices as a one-product quote charges them",
)
async def display_prices(
    data: JSONBody[PricesRequest], request: AuthedRequest, quotes: NamedDependency[QuoteService]
) -> Envelope[Prices]:
    return ok(await quotes.display_prices(data, request.user))

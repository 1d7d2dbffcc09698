"""The reference server of the endpoint benchmarks: what Litestar + msgspec cost doing nothing else.

    python loadtests/reference_app.py --port 8766 [--workers 1]    # granian, like `quote-service serve`

A bare Litestar app with no middleware, no authentication and no I/O:
- `POST /api/v1/quote` decodes the body into quote-service's own `QuoteRequest` Struct (the same
  validation work: its decimal and time fields read by the service's own rule) and echoes it in
  the success envelope;
- `POST /api/v1/flash-sales/{sale_id}/purchases` does the same with `PurchaseCreate`;
- `GET /health` answers `{"status": "ok"}`.
`loadtests/bench.py` and `loadtests/bench_flash.py` send it the same requests as the service and
report the service's rps as a fraction of this one's.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from uuid import UUID

import msgspec
from litestar import Litestar, get, post

from quote_service.flash_sales.schemas import PurchaseCreate
from quote_service.pricing.quote import QuoteRequest
from quote_service.validation import DECODED, decode_hook


class Echo(msgspec.Struct, kw_only=True):
    success: bool = True
    message: str
    data: QuoteRequest | PurchaseCreate


@post("/api/v1/quote", status_code=200)
async def quote(data: QuoteRequest) -> Echo:
    return Echo(message="echo", data=data)


@post("/api/v1/flash-sales/{sale_id:uuid}/purchases", status_code=201)
async def purchase(sale_id: UUID, data: PurchaseCreate) -> Echo:
    return Echo(message="echo", data=data)


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def _decoded(target: type, value: object) -> object:
    """The service's rule for its decimal and time fields (validation.decode_hook). The service decodes
    a JSON number into a Decimal from its text (its decoder's `float_hook`); Litestar's decoder has made
    a float of it by now, read back here through its shortest text (the same digits)."""
    return decode_hook(target, Decimal(repr(value)) if value.__class__ is float else value)


def create_app() -> Litestar:
    return Litestar(
        [quote, purchase, health],
        openapi_config=None,
        # Without it Litestar refused the simple body's `"unit_price": 25.50` (400): the echo measured an error.
        type_decoders=[(lambda target: target in DECODED, _decoded)],
    )


def serve(factory: str, port: int, workers: int) -> None:
    """Serve the app `factory` ("module:function") as the benchmarks serve their references: granian,
    ASGI, no access log."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        factory, factory=True, address="127.0.0.1", port=port, workers=workers,
        interface=Interfaces.ASGI, log_access=False, backlog=2048,
    ).serve()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    serve("reference_app:create_app", args.port, args.workers)


if __name__ == "__main__":
    main()

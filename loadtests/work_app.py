"""The second reference server of bench.py --work: a quote's own work, and nothing around it.

    WORK_DATABASE_URL=postgresql://... python loadtests/work_app.py --port 8768 [--workers 1]
    uv run python loadtests/work_app.py --parts [--rounds 9] [--quotes 2000]
    uv run python loadtests/work_app.py --memo 60

A plain ASGI callable in front of a bare Litestar app (which answers `/health` and runs the
startup): `POST /api/v1/quote` is answered as the service's lean edge answers it, without
Litestar's routing (quote_service/edge.py: reading the body, one `send` of the start and one of
the body), and does what every quote must do whatever the code around it:
- decodes the body into `QuoteRequest` (the edge's decoder; the echo decodes into the same Struct);
- prices it with the service's engine (`quote_service.pricing`), on
  the configuration and catalog of the database in WORK_DATABASE_URL, read once at startup: the
  region plan, the flags the customer is served, `price_quote`;
- encodes the quote's JSON (the response's bytes), its quote-log row (`log_row`) and the zstd
  frame the store would write (a dictionary trained at startup on 64 of its own quotes, with the
  store's parameters: quotes/compact.py);
- answers the quote's JSON in the success envelope, as the edge writes it.
What it leaves out is the service around that work: authentication, the rate limit and the
concurrency cap, the deadline, the product cache, coupon uses and flash stock (none asked: every
quote prices as a customer's first, without flash offers), the prior price of a reduced line (a
price-history read before pricing: quotes/prior_prices.py), the identical-request cache, the Redis
write and its wait, the quote log's queue and its writes, metrics, the request id and the security
headers. So quote ÷ this is what that service costs, and this ÷ the echo the most quote ÷ echo
could be if it cost nothing (BENCHMARKS.md, "Headline figures").

`--parts` serves nothing: on a fresh demo database (seed-demo; the servers of the README's test
setup, Redis db 14 flushed as the other benchmarks do) it does that work in this process for
`--quotes` distinct bodies a round (new customers every round, as a server's are) and prints each
part's median time a quote over `--rounds`: decoding the body, the engine (region, flags,
`price_quote`), the quote's JSON, its log row, its zstd frame.

`--memo N` prices N chunks of 1,000 new bodies (new customers) with the engine alone, and prints
each chunk's µs a quote and the size of the engine's memo after it (`Resolution`: the pricing
plan's kept answers, docs/hot-path.md "The pricing plan"): whether a stream of new customers makes
it start over.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
import zstandard
from bench_hot_path import basket, demo_environment
from litestar import Litestar, get
from litestar.types import Receive, Scope, Send
from reference_app import serve

from quote_service.edge import _PREFIX
from quote_service.ids import uuid4
from quote_service.pricing.engine import price_quote, region_for, served_flags
from quote_service.pricing.offers import choose_offers
from quote_service.pricing.quote import CatalogProduct, CustomerContext, EngineDefaults, QuoteRequest
from quote_service.quotes.compact import _DMER, _SEGMENT, DICTIONARY_BYTES, MIN_SAMPLES, compressor
from quote_service.quotes.quote_log import log_row
from quote_service.web.request import strict_decoder

_DECODER = strict_decoder(QuoteRequest)  # as quote_service/edge.py's
_ENCODER = msgspec.json.Encoder()
_CALLER = ("service", "work-reference")
_DEFAULTS = EngineDefaults()


class Work:
    """The configuration, the catalog and the compressor, loaded once per worker."""

    snapshot: Any = None
    products: dict[str, CatalogProduct] = {}
    packer: zstandard.ZstdCompressor | None = None


def priced(request: QuoteRequest) -> Any:
    """The quote for `request`, as the service's engine stage makes it (a first-time customer)."""
    now = datetime.now(UTC)
    snapshot, products = Work.snapshot, Work.products
    customer = CustomerContext(
        customer_id=request.customer_id,
        tier=request.customer_tier,
        segment=request.customer_segment,
        test_group=request.context.ab_test_group if request.context is not None else None,
    )
    region = region_for(request, snapshot=snapshot, defaults=_DEFAULTS, now=now)
    flags = served_flags(request, snapshot=snapshot, region=region, customer=customer, products=products, now=now)
    choices, offered = None, snapshot.offers  # as the service: a basket holding an offered product chooses
    if offered is not None and any(i.offer_id is not None or i.product_id in offered.by_product for i in request.items):
        choices = choose_offers(request, products, offered, region, snapshot.shipping)
    quote = price_quote(
        request, snapshot=snapshot, products=products, flash={}, customer=customer, defaults=_DEFAULTS,
        now=now, quote_id=uuid4(), region=region, flags=flags, offers=choices,
    )  # fmt: skip
    return quote


def answer(body: bytes) -> bytes:
    """The quote's JSON for a request body, with the log row and the zstd frame made as the store makes them."""
    request = _DECODER.decode(body)
    q = priced(request)
    payload = _ENCODER.encode(q)
    address = request.delivery_address
    log_row(q, _CALLER, (address.city, address.country))
    assert Work.packer is not None
    Work.packer.compress(payload)
    return payload


class WorkEdge:
    """`POST /api/v1/quote` answered here; everything else (`/health`, the lifespan) by Litestar."""

    def __init__(self, app: Litestar) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/api/v1/quote" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        quote = answer(b"".join(chunks))
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        payload = b"".join((_PREFIX, quote, b',"processing_time_ms":', _ENCODER.encode(elapsed), b"}"))
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload, "more_body": False})


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def load() -> None:
    """Read the configuration and the catalog, then train the dictionary on 64 quotes of them."""
    from quote_service.db.pool import create_pool
    from quote_service.snapshot.loader import load_snapshot

    pool = await create_pool(os.environ["WORK_DATABASE_URL"], min_size=1, max_size=1, statement_timeout=60)
    try:
        Work.snapshot = await load_snapshot(pool)
        rows = await pool.fetch(
            "SELECT id, currency, current_price, min_price, category_id, seller_id, is_active, prices_include_tax,"
            " weight FROM products"  # the product cache's columns (campaign_reduced_since: no demo campaign reduces)
        )
    finally:
        await pool.close()
    Work.products = {str(r["id"]): CatalogProduct(**dict(r)) for r in rows}
    rng, ids = random.Random(1), sorted(p for p, product in Work.products.items() if product.is_active)
    samples = [_ENCODER.encode(priced(_DECODER.decode(basket(ids, rng)))) for _ in range(MIN_SAMPLES)]
    trained = zstandard.train_dictionary(DICTIONARY_BYTES, samples, k=_SEGMENT, d=_DMER)  # as QuoteCodec.train
    Work.packer = compressor(trained.as_bytes())


def load_demo() -> None:
    """`load()` from a fresh demo database, dropped afterwards."""
    with demo_environment("qs_work"):  # in DATABASE_URL while it lasts
        os.environ["WORK_DATABASE_URL"] = os.environ["DATABASE_URL"]
        asyncio.run(load())


def memo(chunks: int) -> None:
    """Each chunk of 1,000 new bodies: µs a quote (the engine alone) and the memo's size after it."""
    load_demo()
    rng, ids = random.Random(5), sorted(p for p, product in Work.products.items() if product.is_active)
    taken, sizes = [], []
    for _ in range(chunks):
        requests = [_DECODER.decode(basket(ids, rng)) for _ in range(1000)]
        started = time.perf_counter_ns()
        for request in requests:
            priced(request)
        taken.append((time.perf_counter_ns() - started) / 1000 / 1000)
        sizes.append(len(Work.snapshot.resolver.at(datetime.now(UTC))))
    print(f"{chunks} chunks of 1,000 new bodies")
    print("µs a quote:", " ".join(f"{value:.1f}" for value in taken))
    print("memo after:", " ".join(str(size) for size in sizes))
    print(f"median {statistics.median(taken[5:]):.1f}, mean {statistics.mean(taken[5:]):.1f} µs a quote (chunks 6-)")


def parts(rounds: int, quotes: int) -> None:
    """Each part's median µs a quote over `rounds` rounds of `quotes` new bodies (perf_counter)."""
    load_demo()

    names = ("decode the body", "engine (region, flags, price_quote)", "the quote's JSON", "its log row", "zstd frame")
    taken: list[list[float]] = [[] for _ in names]
    rng, ids = random.Random(2), sorted(p for p, product in Work.products.items() if product.is_active)
    packer = Work.packer
    assert packer is not None
    for _ in range(rounds + 1):  # the first warms up
        sums = [0] * len(names)
        for body in [basket(ids, rng) for _ in range(quotes)]:
            t0 = time.perf_counter_ns()
            request = _DECODER.decode(body)
            t1 = time.perf_counter_ns()
            q = priced(request)
            t2 = time.perf_counter_ns()
            payload = _ENCODER.encode(q)
            t3 = time.perf_counter_ns()
            log_row(q, _CALLER, (request.delivery_address.city, request.delivery_address.country))
            t4 = time.perf_counter_ns()
            packer.compress(payload)
            t5 = time.perf_counter_ns()
            for index, (start, end) in enumerate(((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5))):
                sums[index] += end - start
        for index, total in enumerate(sums):
            taken[index].append(total / quotes / 1000)
    print(f"{quotes} new bodies x {rounds} rounds, median µs a quote:")
    medians = [statistics.median(values[1:]) for values in taken]
    for what, value in zip(names, medians, strict=True):
        print(f"  {what:<38} {value:6.1f}")
    print(f"  {'together':<38} {sum(medians):6.1f}")


def create_app() -> WorkEdge:
    return WorkEdge(Litestar([health], on_startup=[load], openapi_config=None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8768)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--parts", action="store_true", help="time the work's parts in this process; no server")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--quotes", type=int, default=2000)
    parser.add_argument("--memo", type=int, metavar="N", help="N chunks of 1,000 new customers, the memo's size")
    args = parser.parse_args()
    if args.parts:
        parts(args.rounds, args.quotes)
        return
    if args.memo:
        memo(args.memo)
        return
    asyncio.run(load())  # fail here, before serving, on a database without the demo
    serve("work_app:create_app", args.port, args.workers)


if __name__ == "__main__":
    main()

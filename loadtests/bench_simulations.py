"""Benchmark of a what-if simulation: 10,000 logged quotes priced twice (today, today + a draft).

    .venv/bin/python loadtests/bench_simulations.py [--quotes 10000]

Makes a scratch database (BENCH_DATABASE_ADMIN_URL, default the local server's `postgres`),
migrates it, adds three commission rates, and logs `--quotes` quotes priced by the engine (three
client-priced items over five categories, express or not, five cities, each row with the request
the simulation prices again, as the quote path logs it). Then it times, in this one process (one
core), a simulation of a category rate change: the drafts' snapshot, the quote log read and both
pricings, until the result is done. It also prints what `log_row` costs per quote with and without
the request (µs, median of 5 rounds) and the bytes the request adds to a row.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
from plumbing import ADMIN_URL, database

from quote_service.clock import utcnow
from quote_service.db.migrate import apply_migrations
from quote_service.db.pool import Pool, create_pool
from quote_service.db.replica import ReadPools
from quote_service.pricing.engine import price_quote
from quote_service.pricing.quote import CustomerContext, EngineDefaults, Quote, QuoteRequest
from quote_service.quotes.quote_log import log_row, logged_request, write_log_rows
from quote_service.simulations.drafts import Change, snapshots
from quote_service.simulations.service import Simulations
from quote_service.validation import decode_hook

NAME = "qs_bench_simulations"
CATEGORIES = ["books", "electronics", "garden", "toys", "food"]
CITIES = ["Istanbul", "Ankara", "Izmir", "Bursa", "Antalya"]


def request_of(rng: random.Random) -> QuoteRequest:
    items = [
        {"product_id": f"item-{rng.randrange(300)}", "quantity": rng.randint(1, 4),
         "unit_price": f"{rng.randint(500, 20000) / 100:.2f}", "category_id": rng.choice(CATEGORIES)}
        for _ in range(3)
    ]  # fmt: skip
    body = {
        "customer_id": f"c-{rng.randrange(1000)}",
        "seller_id": f"seller-{rng.randrange(20)}",
        "items": items,
        "delivery_address": {"city": rng.choice(CITIES), "country": "TR"},
        "is_express_delivery": rng.random() < 0.3,
        "currency": "TRY",
    }
    return msgspec.convert(body, QuoteRequest, dec_hook=decode_hook)


def timed_log_row(
    quote: Quote, asked: tuple[QuoteRequest, CustomerContext] | None, rounds: int = 5, n: int = 20_000
) -> float:
    """µs per `log_row` call, with `logged_request` made for it when `asked` (median of `rounds`)."""
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            logged = None if asked is None else logged_request(*asked)
            log_row(quote, ("user", "u-1"), ("Istanbul", "TR"), request=logged)
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(samples)


async def main(quotes: int) -> None:
    dsn = ADMIN_URL.rsplit("/", 1)[0] + "/" + NAME
    await database(NAME, create=True)
    try:
        await apply_migrations(dsn)
        pool = await create_pool(dsn, statement_timeout=120)
        try:
            await run(pool, quotes)
        finally:
            await pool.close()
    finally:
        await database(NAME, create=False)


async def run(pool: Pool, quotes: int) -> None:
    for category, rate in (("books", 8), ("electronics", 10), ("toys", 12)):
        await pool.execute(
            "INSERT INTO commission_rates (category_id, commission_type, rate, currency, effective_from, created_by,"
            " updated_by) VALUES ($1, 'PERCENTAGE', $2, 'TRY', '2025-01-01', 'bench', 'bench')",
            category,
            Decimal(rate),
        )
    rate_id = await pool.fetchval("SELECT id::text FROM commission_rates WHERE category_id = 'electronics'")
    before, _ = await snapshots(pool, [])
    defaults = EngineDefaults()
    rng = random.Random(7)
    now = utcnow()
    rows = []
    sample: tuple[Quote, tuple[QuoteRequest, CustomerContext]] | None = None
    for _ in range(quotes):
        request = request_of(rng)
        customer = CustomerContext(customer_id=request.customer_id)
        quote = price_quote(
            request, snapshot=before, products={}, flash={}, customer=customer, defaults=defaults,
            now=now - timedelta(minutes=rng.randrange(60 * 24)), quote_id=uuid.uuid4(),
        )  # fmt: skip
        logged = logged_request(request, customer)
        sample = sample or (quote, (request, customer))
        made = log_row(quote, ("user", "u-1"), (request.delivery_address.city, "TR"), request=logged)
        assert made is not None
        rows.append(made[1])
    async with pool.acquire() as conn:
        for offset in range(0, len(rows), 1000):
            await write_log_rows(conn, rows[offset : offset + 1000])
    assert sample is not None
    without = timed_log_row(sample[0], None)
    with_request = timed_log_row(sample[0], sample[1])
    lean = log_row(sample[0], ("user", "u-1"), ("Istanbul", "TR"))
    full = log_row(sample[0], ("user", "u-1"), ("Istanbul", "TR"), request=logged_request(*sample[1]))
    assert lean is not None
    assert full is not None
    print(f"log_row: {without:.2f} µs without the request, {with_request:.2f} µs with it (3-item basket)")
    print(f"row bytes: {len(lean[1])} without, {len(full[1])} with (+{len(full[1]) - len(lean[1])})")

    simulations = Simulations(ReadPools(pool), defaults)
    change = Change(entity_type="commission_rates", action="update", id=rate_id, body={"rate": "12.5"})
    t0 = time.perf_counter()
    first, second = await snapshots(pool, [change])
    simulation = simulations.start(first, second, start=None, end=None, limit=quotes)
    while simulation.status == "running":  # noqa: ASYNC110 (the benchmark polls as a client would)
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t0
    document = simulation.document()
    print(
        f"simulation: {document['quotes']} quotes ({document['changed_quotes']} changed, "
        f"{document['skipped']} skipped, {document['unpriced']} unpriced) in {elapsed:.2f} s "
        f"({elapsed / max(1, document['quotes']) * 1e6:.0f} µs a quote, both pricings); status {simulation.status}"
    )
    print(f"delta TRY category commission: {document['delta']['TRY']['commission']['category']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().quotes))

"""Benchmark: a page of the storefront's product order (`GET /api/v1/products?sort=catalog`) with
and without its index (migrations/0140), against PostgreSQL.

    uv run python loadtests/bench_catalog_order.py [--products 200000] [--rounds 7] [--runs 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a scratch database on that server (dropped at the end), migrates it, writes
`--products` products (half tagged `generated`, 40 categories) and times the repository's own
`list_products` (the statement the endpoint runs) for three pages of 24, in turn:

    first page     no filter, no cursor (the store's first view)
    deep page      the page after a cursor in the middle of the catalog ("Load more")
    one category   category_id filter, no cursor (the store's category select)

each `--rounds` times per run, first with the index, then with it dropped. Prints each page's
median milliseconds per run and the ratio without ÷ with, then the median over runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quote_service.catalog import repository
from quote_service.db.migrate import apply_migrations

PAGE = 24
INDEX = "products_catalog_order_idx"
CREATE_INDEX = f"CREATE INDEX {INDEX} ON products ((tags @> '{{generated}}'::text[]), category_id, name, id)"


async def fill(conn: asyncpg.Connection, products: int) -> None:
    await conn.execute(
        """INSERT INTO products (sku, name, category_id, seller_id, currency, base_price, current_price,
                                 min_price, cost_price, stock, tags)
           SELECT 'B-' || i, 'Product ' || md5(i::text), 'cat-' || (i % 40), 's1', 'TRY', 100, 100, 50, 10, 10,
                  CASE WHEN i % 2 = 0 THEN '{generated}'::text[] ELSE '{demo}'::text[] END
             FROM generate_series(1, $1) AS i""",
        products,
    )
    await conn.execute("ANALYZE products")


def pages(conn: asyncpg.Connection, middle: tuple[Any, ...]) -> dict[str, Callable[[], Awaitable[object]]]:
    def page(after: tuple[Any, ...] | None = None, category_id: str | None = None) -> Callable[[], Awaitable[object]]:
        return lambda: repository.list_products(
            conn,
            category_id=category_id,
            seller_id=None,
            q=None,
            is_active=True,
            sort="catalog",
            after=after,
            limit=PAGE,
        )

    return {"first page": page(), "deep page": page(after=middle), "one category": page(category_id="cat-7")}


async def timed(call: Callable[[], Awaitable[object]], rounds: int) -> float:
    await call()  # the statement prepared and the pages warm in the buffer cache
    took = []
    for _ in range(rounds):
        start = time.perf_counter()
        await call()
        took.append((time.perf_counter() - start) * 1000)
    return statistics.median(took)


async def one_run(conn: asyncpg.Connection, rounds: int) -> dict[str, tuple[float, float]]:
    key = repository.LIST_ORDERS["catalog"].key
    middle = tuple(
        await conn.fetchval(
            f"SELECT ROW({key}) FROM products ORDER BY {key} OFFSET (SELECT count(*) / 2 FROM products) LIMIT 1"
        )
    )
    with_index = {name: await timed(call, rounds) for name, call in pages(conn, middle).items()}
    await conn.execute(f"DROP INDEX {INDEX}")
    await conn.reload_schema_state()
    without = {name: await timed(call, rounds) for name, call in pages(conn, middle).items()}
    await conn.execute(CREATE_INDEX)
    await conn.reload_schema_state()
    return {name: (with_index[name], without[name]) for name in with_index}


async def main(args: argparse.Namespace) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # no migration lines
    name = f"bench_catalog_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = args.database_url.rsplit("/", 1)[0] + "/" + name
    try:
        await apply_migrations(url)
        conn = await asyncpg.connect(url)
        try:
            await fill(conn, args.products)
            results = []
            for run in range(args.runs):
                result = await one_run(conn, args.rounds)
                results.append(result)
                shown = ", ".join(f"{k}: {w:.2f} ms with, {wo:.2f} ms without" for k, (w, wo) in result.items())
                print(f"run {run + 1}: {shown}")
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(f"{args.products} products, pages of {PAGE}, median of {args.runs} runs x {args.rounds} rounds:")
    for page in results[0]:
        with_index = statistics.median(r[page][0] for r in results)
        without = statistics.median(r[page][1] for r in results)
        ratio = statistics.median(r[page][1] / r[page][0] for r in results)
        print(f"  {page:13s} with index {with_index:8.2f} ms   without {without:8.2f} ms   without ÷ with {ratio:7.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    asyncio.run(main(parser.parse_args()))

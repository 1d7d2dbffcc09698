"""The quote log's write into the day-partitioned `quote_log` (migration 0600) against the same
write into a plain table with the same columns, indexes and trigger.

    uv run python loadtests/bench_quote_log_partitioned.py [--rows 1000] [--batches 5] [--rounds 8]

Uses a scratch database `qs_log_part_<pid>` on the local PostgreSQL (migrated, dropped
afterwards). Next to the migrated, partitioned `public.quote_log` it creates `plain.quote_log`:
`LIKE public.quote_log INCLUDING ALL` (so the same primary key `(quote_id, created_at)` and the
same two indexes) without `PARTITION BY`, and the same statement trigger
(`rollup_mark_quotes`). The rows are the service's own (`log_values` of bench_quote_store.py's
3-line quotes, made now, so all in today's partition, encoded by `encode_row`); the write is the
service's own, `write_log_rows` (one `INSERT ... SELECT ... FROM jsonb_array_elements(...) ON
CONFLICT DO NOTHING` a batch), its `quote_log` resolved by `search_path` to one table or the
other. Each round empties both tables and writes --batches batches of --rows new rows into each,
the order alternating between rounds, on one connection.

Per round and table: the PostgreSQL backend's CPU µs per row (/proc/<backend pid>/stat: needs
PostgreSQL on this machine; 10 ms ticks, so use 1,000 rows a batch or more) and the wall µs per
row; then the medians and partitioned ÷ plain (the median of the rounds' ratios).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from bench_quote_store import priced
from cpu import process_cpu
from plumbing import on_migrated_database

from quote_service.db.pool import create_pool
from quote_service.quotes.quote_log import encode_row, log_values, write_log_rows

PLAIN = """
CREATE SCHEMA plain;
CREATE TABLE plain.quote_log (LIKE public.quote_log INCLUDING ALL);
CREATE TRIGGER quote_log_rollup_mark AFTER INSERT ON plain.quote_log
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.rollup_mark_quotes();
"""
TABLES = {"partitioned": "public", "plain": "plain, public"}


async def measure(args: argparse.Namespace, url: str) -> None:
    quotes = priced(args.rows, seed=3)
    pool = await create_pool(url, min_size=1, max_size=1)
    results: dict[str, list[tuple[float, float]]] = {table: [] for table in TABLES}
    try:
        async with pool.acquire() as conn:
            await conn.execute(PLAIN)
            indexes = await conn.fetch(
                "SELECT schemaname, string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes"
                " WHERE tablename = 'quote_log' GROUP BY schemaname ORDER BY schemaname"
            )
            for schema, definitions in indexes:
                print(f"{schema}.quote_log: {definitions}")
            backend = await conn.fetchval("SELECT pg_backend_pid()")
            for number in range(args.rounds):
                await conn.execute("TRUNCATE public.quote_log, plain.quote_log")
                order = list(TABLES.items()) if number % 2 == 0 else list(reversed(TABLES.items()))
                for table, path in order:
                    await conn.execute(f"SET search_path TO {path}")
                    batches = []
                    for _ in range(args.batches):  # each row its own quote id
                        values = [log_values(q, ("api_key", "k-1"), ("Istanbul", "TR")) for q in quotes]
                        rows = [encode_row((str(uuid.uuid4()), *row[1:])) for row in values]
                        batches.append([row[1] for row in rows if row is not None])
                    pg, wall = process_cpu(backend), time.perf_counter()
                    for batch in batches:
                        await write_log_rows(conn, batch)
                    n = args.rows * args.batches
                    result = ((process_cpu(backend) - pg) / n * 1e6, (time.perf_counter() - wall) / n * 1e6)
                    results[table].append(result)
                    print(f"round {number + 1} {table:<11}: PostgreSQL {result[0]:5.1f} µs/row, "
                          f"wall {result[1]:5.1f} µs/row", flush=True)  # fmt: skip
                await conn.execute("SET search_path TO public")
            stored = await conn.fetch(
                "SELECT tableoid::regclass::text, count(*) FROM public.quote_log GROUP BY 1"
                " UNION ALL SELECT 'plain.quote_log', count(*) FROM plain.quote_log"
            )
            print("rows of the last round, by table:", ", ".join(f"{table} {n}" for table, n in stored))
    finally:
        await pool.close()
    for table, values in results.items():
        pg, wall = (statistics.median(v[i] for v in values) for i in range(2))
        print(f"median {table:<11}: PostgreSQL {pg:5.1f} µs/row, wall {wall:5.1f} µs/row")
    ratios = [
        (p[0] / max(q[0], 1e-9), p[1] / q[1]) for p, q in zip(results["partitioned"], results["plain"], strict=True)
    ]
    pg, wall = (statistics.median(r[i] for r in ratios) for i in range(2))
    print(f"partitioned ÷ plain (median of the rounds' ratios): PostgreSQL CPU {pg:.3f}, wall {wall:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows per batch (the writer's LOG_BATCH)")
    parser.add_argument("--batches", type=int, default=5, help="batches per round and table")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    on_migrated_database(f"qs_log_part_{os.getpid()}", lambda url: measure(args, url))


if __name__ == "__main__":
    main()

"""The quote log's write on its own: the worker's CPU per row, PostgreSQL's, and the wall time.

    uv run python loadtests/bench_quote_log.py [--rows 1000] [--batches 3] [--rounds 4]

Uses a scratch database `qs_log_bench_<pid>` on the local PostgreSQL (migrated, dropped
afterwards). The rows are `log_values` of bench_quote_store.py's quotes (bench_engine.py's typical
configuration, different 3-line baskets). Each round writes --batches batches of --rows rows two
ways, alternating on one connection into an emptied `quote_log`:

- `copy`: what the writer did until 2026-11-23 — asyncpg's `copy_records_to_table` into a
  session-private staging table (each value of each row through asyncpg's codecs; the jsonb
  columns' encoder is a Python function), then `INSERT ... SELECT ... ON CONFLICT DO NOTHING`;
- `json`: what it does now (`quotes/quote_log.encode_row`, then `write_log_rows`) — each row encoded
  by msgspec as a JSON array (the service does it when the quote is made; counted here), the batch
  their concatenation, taken apart by PostgreSQL in one `INSERT ... SELECT ... FROM
  jsonb_array_elements(...) ON CONFLICT DO NOTHING`.

Per round and way: this process's CPU µs per row (time.process_time), the PostgreSQL backend's CPU
µs per row (/proc/<backend pid>/stat: needs PostgreSQL on this machine; 10 ms ticks, so use
batches of 1,000 rows or more) and the wall µs per row; then the medians. It also checks once that
both ways store the same values in every column.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from bench_quote_store import priced
from cpu import process_cpu
from plumbing import on_migrated_database

from quote_service.db.pool import Connection, create_pool
from quote_service.quotes.quote_log import _JSONB, _LOG_COLUMNS, LogValues, encode_row, log_values, write_log_rows

_STAGING = "quote_log_incoming"


_JSONB_AT = [i for i, name in enumerate(_LOG_COLUMNS) if name in _JSONB]


def for_copy(values: LogValues) -> LogValues:
    """A row's values as the COPY writer took them: its jsonb columns already JSON text (made
    with the row then, so not counted in the write), its arrays tuples."""
    row = list(values)
    for i in _JSONB_AT:
        row[i] = msgspec.Raw(msgspec.json.encode(row[i]))
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


async def write_by_copy(conn: Connection, rows: list[LogValues]) -> None:
    """The writer as it was: COPY into a staging table, then move the rows (`for_copy`'s)."""
    columns = ", ".join(_LOG_COLUMNS)
    async with conn.transaction():
        await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (LIKE quote_log) ON COMMIT DELETE ROWS")
        await conn.copy_records_to_table(_STAGING, records=rows, columns=_LOG_COLUMNS)
        await conn.execute(
            f"INSERT INTO quote_log ({columns}) SELECT {columns} FROM {_STAGING}"
            " ON CONFLICT (quote_id, created_at) DO NOTHING"  # the partitioned table's key (migration 0600)
        )


async def write_by_json(conn: Connection, rows: list[LogValues]) -> None:
    """The writer now: each row encoded (in the service, when its quote is made), the batch joined."""
    await write_log_rows(conn, [row[1] for row in map(encode_row, rows) if row is not None])


WAYS = {"copy": write_by_copy, "json": write_by_json}


async def measure(args: argparse.Namespace, url: str) -> None:
    quotes = priced(args.rows, seed=3)
    pool = await create_pool(url, min_size=1, max_size=1)
    results: dict[str, list[tuple[float, float, float]]] = {way: [] for way in WAYS}
    try:
        async with pool.acquire() as conn:
            backend = await conn.fetchval("SELECT pg_backend_pid()")

            def backend_cpu() -> float:
                return process_cpu(backend)

            for number in range(args.rounds):
                for way, write in WAYS.items() if number % 2 == 0 else reversed(WAYS.items()):
                    await conn.execute("TRUNCATE quote_log")
                    batches = [
                        [log_values(q, ("api_key", "k-1"), ("Istanbul", "TR")) for q in quotes]
                        for _ in range(args.batches)
                    ]
                    for batch in batches:  # each row its own quote id
                        batch[:] = [(str(uuid.uuid4()), *row[1:]) for row in batch]
                        if way == "copy":
                            batch[:] = [for_copy(row) for row in batch]
                    cpu, pg, wall = time.process_time(), backend_cpu(), time.perf_counter()
                    for batch in batches:
                        await write(conn, batch)
                    n = args.rows * args.batches
                    result = (
                        (time.process_time() - cpu) / n * 1e6,
                        (backend_cpu() - pg) / n * 1e6,
                        (time.perf_counter() - wall) / n * 1e6,
                    )
                    results[way].append(result)
                    print(f"round {number + 1} {way}: this process {result[0]:5.1f} µs/row, "
                          f"PostgreSQL {result[1]:5.1f} µs/row, wall {result[2]:5.1f} µs/row", flush=True)  # fmt: skip
            rows = [log_values(q) for q in quotes[:100]]
            stored = []
            for way, write in WAYS.items():
                await conn.execute("TRUNCATE quote_log")
                await write(conn, [for_copy(row) for row in rows] if way == "copy" else rows)
                stored.append([dict(r) for r in await conn.fetch("SELECT * FROM quote_log ORDER BY quote_id")])
            print(f"both ways store the same values in every column: {stored[0] == stored[1]}")
    finally:
        await pool.close()
    for way, values in results.items():
        cpu, pg, wall = (statistics.median(v[i] for v in values) for i in range(3))
        print(f"median {way}: this process {cpu:5.1f} µs/row, PostgreSQL {pg:5.1f} µs/row, wall {wall:5.1f} µs/row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows per batch")
    parser.add_argument("--batches", type=int, default=3, help="batches per round and way")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    on_migrated_database(f"qs_log_bench_{os.getpid()}", lambda url: measure(args, url))


if __name__ == "__main__":
    main()

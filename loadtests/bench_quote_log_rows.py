"""Where a quote-log row's PostgreSQL time goes: reading the batch's JSON, or storing the row.

    uv run python loadtests/bench_quote_log_rows.py [--rows 1000] [--rounds 9]

On a scratch database (migrated, dropped afterwards) it writes batches of `--rows` demo-like rows
(bench_spool.py's, as the service encodes them) into the partitioned `quote_log` three ways, in
turn each round, and prints the median µs a row of each (wall time of the statement, so compare the
three inside one run; docs/hot-path.md#counting-instructions):

- `json`: the service's statement (`quote_log._INSERT`): the batch as one JSON document, each
  column read from it (`jsonb`);
- `typed`: the same rows already typed, from a temporary table (made before the clock starts):
  what storing them costs, the three indexes and the statement trigger included;
- `objects`: the rows as JSON objects, read by `json_populate_recordset` with the table's row type.

`json` minus `typed` is what reading the JSON costs a row, which a derivation job off the quote path
would pay as well (docs/hot-path.md, "Not done yet"). Needs the local PostgreSQL of the README's
test setup.
"""

from __future__ import annotations

import argparse
import statistics
import time

import asyncpg
import msgspec
from bench_spool import row
from plumbing import on_migrated_database

from quote_service.quotes.quote_log import _INSERT, _LOG_COLUMNS, _column

_COLUMNS = ", ".join(_LOG_COLUMNS)
_TYPED = ", ".join(f"{_column(i, name)} AS {name}" for i, name in enumerate(_LOG_COLUMNS))
"""The service's statement's column expressions (each read from a row `r` of the document), named."""


def batch(rows: int) -> list[bytes]:
    """`rows` rows as the service encodes them (fresh quote ids: nothing is skipped as written)."""
    # bench_spool's rows end before the logged request (the last column): a README basket's compact one.
    return [row(n).rstrip(b"\n")[:-1] + b",[null,[[null,null,null]],null]]" for n in range(rows)]


async def measure(url: str, rows: int, rounds: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        costs: dict[str, list[float]] = {"json": [], "typed": [], "objects": []}
        for round_ in range(rounds + 1):  # round 0 warms the plans and the partitions' caches
            for way in costs:
                encoded = batch(rows)
                document = b"[" + b",".join(encoded) + b"]"
                if way == "json":
                    statement, argument = _INSERT, document
                elif way == "typed":
                    await conn.execute("DROP TABLE IF EXISTS typed_rows")
                    await conn.execute(
                        f"CREATE TEMP TABLE typed_rows AS SELECT {_TYPED} "
                        "FROM jsonb_array_elements(convert_from($1::bytea, 'UTF8')::jsonb) AS r",
                        document,
                    )
                    statement = (
                        f"INSERT INTO quote_log ({_COLUMNS}) SELECT {_COLUMNS} FROM typed_rows ON CONFLICT DO NOTHING"
                    )
                    argument = None
                else:
                    objects = [dict(zip(_LOG_COLUMNS, msgspec.json.decode(one), strict=False)) for one in encoded]
                    statement = (
                        f"INSERT INTO quote_log ({_COLUMNS}) SELECT {_COLUMNS} FROM json_populate_recordset("
                        "NULL::quote_log, convert_from($1::bytea, 'UTF8')::json) ON CONFLICT DO NOTHING"
                    )
                    argument = msgspec.json.encode(objects)
                started = time.perf_counter()
                if argument is None:
                    await conn.execute(statement)
                else:
                    await conn.execute(statement, argument)
                elapsed = (time.perf_counter() - started) / rows * 1e6
                if round_:
                    costs[way].append(elapsed)
            if round_:
                print(f"round {round_}: " + ", ".join(f"{way} {values[-1]:.1f}" for way, values in costs.items()))
        stored = await conn.fetchval("SELECT count(*) FROM quote_log")
        medians = {way: statistics.median(values) for way, values in costs.items()}
        print(
            f"µs a row, medians of {rounds} rounds of {rows} rows ({stored:,} stored): "
            + ", ".join(f"{way} {value:.1f}" for way, value in medians.items())
            + f"; reading the JSON (json minus typed) {medians['json'] - medians['typed']:.1f}"
        )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    on_migrated_database("qs_log_rows", lambda url: measure(url, args.rows, args.rounds))


if __name__ == "__main__":
    main()

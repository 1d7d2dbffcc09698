"""What a quote-log row costs to write, in CPU: PostgreSQL's backend and the writer's process.

    uv run python loadtests/bench_quote_log_rows.py [--rows 1000] [--rounds 9]

On a scratch database (migrated, dropped afterwards) it writes batches of `--rows` demo-like rows
(bench_spool.py's, as the service encodes them) into the partitioned `quote_log`, each way in turn
every round, and prints the median µs a row of each: the PostgreSQL backend's CPU (its
`/proc/PID/schedstat`, nanoseconds: the statement's own work, whatever else the box runs) and this
process's CPU (what a quote-log writer would pay), and their sum:

- `json`: the service's statement (`quote_log._INSERT`): the batch as one JSON document of the
  rows the requests encoded (their concatenation), each column read from it (`jsonb`);
- `rows`: the same rows as an array of texts (`$1::text[]`), each parsed into `jsonb` on its own:
  no document of the whole batch built and taken apart again;
- `typed`: the same rows already typed, from a temporary table (made before the clock starts):
  what storing them costs, the three indexes and the statement trigger included (PostgreSQL only:
  a floor, no way of sending rows reaches it);
- `copy`: the rows sent typed (issue 73's "typed COPY"): binary `COPY` of the values (the jsonb
  columns as their JSON text, each encoded by msgspec) into a temporary staging table, then
  `INSERT … SELECT … ON CONFLICT DO NOTHING` from it (`COPY` alone cannot skip a row written twice,
  which a replay of the spool needs), in one transaction. The writer's CPU includes making the
  records from the row values and asyncpg encoding them; a service would still encode each row
  for the spool as today (`json`'s rows), so this is on top of it;
- `objects`: the rows as JSON objects, read by `json_populate_recordset` with the table's row type;
- `json_v4`: `json` with random (version 4) quote ids, as before quote ids were made time-ordered
  (version 7, `ids.RandomPool.uuid7`): `json` minus `json_v4` is what the ids' order buys in the
  primary key. It shows with a full partition (`--prefill 600000`: rows written before the first
  round) and most with `--checkpoint` (a CHECKPOINT before each batch: every page a batch touches
  first goes whole into the WAL).

`json` minus `typed` is what reading the JSON costs a row, which a derivation job off the quote path
would pay as well (docs/hot-path.md, "Measured, and not done"). Needs the local PostgreSQL of the README's
test setup, on this machine (it reads the backend's /proc entry).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from bench_spool import row, values
from plumbing import on_migrated_database

from quote_service.ids import uuid7
from quote_service.quotes.quote_log import _INSERT, _JSONB, _LOG_COLUMNS, _column

_COLUMNS = ", ".join(_LOG_COLUMNS)
_TYPED = ", ".join(f"{_column(i, name)} AS {name}" for i, name in enumerate(_LOG_COLUMNS))
"""The service's statement's column expressions (each read from a row `r` of the document), named."""
_REQUEST = b"[null,[[null,null,null]],null]"
"""The logged request each row carries: a README basket's compact one."""
_JSON_POSITIONS = tuple(i for i, name in enumerate(_LOG_COLUMNS) if name in _JSONB)
_ROWS_INSERT = (
    f"INSERT INTO quote_log ({_COLUMNS}) "
    f"SELECT {', '.join(_column(i, name) for i, name in enumerate(_LOG_COLUMNS))} "
    "FROM unnest($1::text[]) AS e CROSS JOIN LATERAL (SELECT e::jsonb AS r OFFSET 0) AS one "
    "ON CONFLICT (quote_id, created_at) DO NOTHING"
)
"""`rows`: the batch as an array of the rows' texts, each parsed into jsonb on its own (`OFFSET 0`:
once a row, not once a column)."""
WAYS = ("json", "rows", "typed", "copy", "objects", "json_v4")


def batch(rows: int, *, ids: Callable[[], uuid.UUID] = uuid7) -> list[bytes]:
    """`rows` rows as the service encodes them, each with a fresh quote id of `ids` (time-ordered, as
    the service makes them, unless told otherwise): nothing is skipped as written."""
    # bench_spool's rows end before the logged request (the last column), and start with the quote id.
    made = []
    for n in range(rows):
        encoded = row(n).rstrip(b"\n")[:-1] + b"," + _REQUEST + b"]"
        made.append(b'["' + str(ids()).encode() + encoded[encoded.index(b'"', 2) :])
    return made


def records(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows' values (`values`, made before the clock starts) as typed records for COPY, made as a
    writer would (timed with it): each jsonb column's value encoded to its JSON text."""
    made = []
    encode = msgspec.json.encode
    for row_values in rows:
        one: list[Any] = list(row_values)
        for i in _JSON_POSITIONS:
            one[i] = encode(one[i]).decode()
        made.append(tuple(one))
    return made


def cpu_ns(pid: int) -> int:
    """The CPU time process `pid` has run (ns; schedstat's first field)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


async def one_way(
    conn: asyncpg.Connection, way: str, rows: int, backend: int, *, checkpoint: bool = False
) -> tuple[float, float]:
    """(PostgreSQL's, this process's) CPU µs a row of one batch written `way`."""
    encoded = batch(rows, ids=uuid.uuid4 if way == "json_v4" else uuid7)
    if checkpoint:
        await conn.execute("CHECKPOINT")
    if way == "typed":  # made before the clock starts: storing typed rows alone
        await conn.execute("DROP TABLE IF EXISTS typed_rows")
        await conn.execute(
            f"CREATE TEMP TABLE typed_rows AS SELECT {_TYPED} "
            "FROM jsonb_array_elements(convert_from($1::bytea, 'UTF8')::jsonb) AS r",
            b"[" + b",".join(encoded) + b"]",
        )
    elif way == "objects":  # the objects are made before the clock starts too (the service has none)
        objects = [dict(zip(_LOG_COLUMNS, msgspec.json.decode(one), strict=False)) for one in encoded]
        document = msgspec.json.encode(objects)
    elif way == "copy":
        typed = [(str(uuid7()), *values(n)[1:], msgspec.Raw(_REQUEST)) for n in range(rows)]
    wal = await conn.fetchval("SELECT pg_current_wal_insert_lsn()")
    pg, me = cpu_ns(backend), time.process_time_ns()
    if way in ("json", "json_v4"):
        await conn.execute(_INSERT, b"[" + b",".join(encoded) + b"]")
    elif way == "rows":
        await conn.execute(_ROWS_INSERT, [one.decode() for one in encoded])
    elif way == "typed":
        await conn.execute(
            f"INSERT INTO quote_log ({_COLUMNS}) SELECT {_COLUMNS} FROM typed_rows ON CONFLICT DO NOTHING"
        )
    elif way == "copy":
        async with conn.transaction():
            await conn.copy_records_to_table("quote_log_stage", records=records(typed), columns=_LOG_COLUMNS)
            await conn.execute(
                f"INSERT INTO quote_log ({_COLUMNS}) SELECT {_COLUMNS} FROM quote_log_stage ON CONFLICT DO NOTHING"
            )
    else:
        await conn.execute(
            f"INSERT INTO quote_log ({_COLUMNS}) SELECT {_COLUMNS} FROM json_populate_recordset("
            "NULL::quote_log, convert_from($1::bytea, 'UTF8')::json) ON CONFLICT DO NOTHING",
            document,
        )
    pg, me = cpu_ns(backend) - pg, time.process_time_ns() - me
    WAL.setdefault(way, []).append(
        await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1)", wal) / rows
    )
    return pg / rows / 1e3, me / rows / 1e3


WAL: dict[str, list[float]] = {}
"""WAL bytes a row of each batch, by way."""


async def measure(url: str, rows: int, rounds: int, prefill: int = 0, checkpoint: bool = False) -> None:
    conn = await asyncpg.connect(url)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        for start in range(0, prefill, 10_000):  # a day's partition already full, of random ids
            size = min(10_000, prefill - start)
            await conn.execute(_INSERT, b"[" + b",".join(batch(size, ids=uuid.uuid4)) + b"]")
        if prefill:
            print(f"prefilled {prefill:,} rows")
        await conn.execute(
            "CREATE TEMP TABLE quote_log_stage (LIKE quote_log INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        costs: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
        for round_ in range(rounds + 1):  # round 0 warms the plans and the partitions' caches
            for way in WAYS:
                cost = await one_way(conn, way, rows, backend, checkpoint=checkpoint)
                if round_:
                    costs[way].append(cost)
            if round_:
                print(
                    f"round {round_}: "
                    + ", ".join(f"{way} {pg:.1f} + {me:.1f}" for way, ((pg, me), *_) in _last(costs).items())
                )
        stored = await conn.fetchval("SELECT count(*) FROM quote_log")
        print(
            "CPU µs a row (PostgreSQL + this process = sum), "
            f"medians of {rounds} rounds of {rows} rows ({stored:,} stored):"
        )
        medians = {}
        for way, pairs in costs.items():
            pg = statistics.median(p for p, _ in pairs)
            me = statistics.median(m for _, m in pairs)
            total = statistics.median(p + m for p, m in pairs)
            medians[way] = (pg, me, total)
            print(f"  {way:8} {pg:6.1f} + {me:5.1f} = {total:6.1f}")
        print(
            f"reading the JSON (json minus typed, PostgreSQL) {medians['json'][0] - medians['typed'][0]:.1f}; "
            f"copy ÷ json, the sum: {medians['copy'][2] / medians['json'][2]:.2f}; "
            "time-ordered ÷ random quote ids (json ÷ json_v4, PostgreSQL): "
            f"{medians['json'][0] / medians['json_v4'][0]:.2f}"
        )
        print("WAL bytes a row (medians): " + ", ".join(f"{way} {statistics.median(b):,.0f}" for way, b in WAL.items()))
    finally:
        await conn.close()


def _last(costs: dict[str, list[tuple[float, float]]]) -> dict[str, list[tuple[float, float]]]:
    return {way: pairs[-1:] for way, pairs in costs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--prefill", type=int, default=0, help="rows written (random ids) before the first round")
    parser.add_argument("--checkpoint", action="store_true", help="a CHECKPOINT before each batch")
    args = parser.parse_args()
    on_migrated_database("qs_log_rows", lambda url: measure(url, args.rows, args.rounds, args.prefill, args.checkpoint))


if __name__ == "__main__":
    main()

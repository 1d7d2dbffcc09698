"""What the quote-log spool costs a quote: the request's `write()` of its row to local disk before
the answer leaves, and the writer's reading it back (docs/operations.md#the-quote-log-spool).

    uv run python loadtests/bench_spool.py [--rows 20000] [--rounds 9] [--dir /path/on/the/disk]

Rows are quote-log rows of a 3-line demo-like quote (the same encoder as the service, ~600 bytes
each), appended one write per row as requests do, into a spool in `--dir` (default: a temporary
directory; put it on the disk the service's QUOTE_LOG_SPOOL_DIR would use). Per round it prints
µs per row to append, to seal the segment, and to read the rows back in the writer's batches of
1,000; then the medians. Needs nothing else (no PostgreSQL, no Redis).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import msgspec

from quote_service.quotes.quote_log import LOG_BATCH, encode_row
from quote_service.quotes.spool import Spool


def values(n: int) -> tuple[object, ...]:
    """A 3-line quote's row values as `quote_log.log_values` makes them (as a demo quote has them), without
    the logged request (the last column, which `row` leaves out as well)."""
    now = datetime.now(UTC)
    money = Decimal("449.00")
    lines = [
        (str(uuid.uuid4()), "electronics", "seller-anatolia", 1 + n % 3, money, money, Decimal("44.90"), "catalog")
        for _ in range(3)
    ]
    return (
        str(uuid.uuid4()), f"c-{n}", "TRY", money * 3, Decimal("134.70"), Decimal("218.27"), Decimal("27.85"),
        Decimal("0.00"), Decimal("1458.42"), Decimal("163.30"), Decimal("4.50"), Decimal("157.41"), Decimal("1.39"),
        3, 41, lines, [(str(uuid.uuid4()), "USER_TIER", 1, Decimal("-13.47"))], ["WELCOME10"],
        msgspec.Raw(b'{"checkout_banner":"treatment"}'), "api_key", str(uuid.uuid4()), now,
        now + timedelta(minutes=15), "Istanbul", "TR", ["dynamic_pricing", "checkout_banner"], {},
    )  # fmt: skip


def row(n: int) -> bytes:
    """A 3-line quote's row as the service encodes it (`values`), one line of the spool."""
    made = encode_row(values(n))
    assert made is not None
    return made[1] + b"\n"


def one_round(directory: Path, rows: list[bytes]) -> tuple[float, float, float]:
    spool = Spool(directory)
    spool.open()
    started = time.perf_counter()
    for data in rows:
        spool.append(data)
    appended = time.perf_counter()
    segment = spool.seal()
    sealed = time.perf_counter()
    assert segment is not None
    read = 0
    while segment.offset < segment.size:
        batch, segment.offset = spool.read(segment, LOG_BATCH)
        read += len(batch)
    finished = time.perf_counter()
    assert read == len(rows)
    spool.discard(segment)
    spool.close()
    per_row = 1e6 / len(rows)
    return (appended - started) * per_row, (sealed - appended) * per_row, (finished - sealed) * per_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows per round (default 20,000)")
    parser.add_argument("--rounds", type=int, default=9, help="rounds (default 9)")
    parser.add_argument("--dir", type=Path, default=None, help="where the spool goes (default: a temporary directory)")
    args = parser.parse_args()
    rows = [row(n) for n in range(args.rows)]
    print(f"{args.rows:,} rows of {statistics.median(len(r) for r in rows):.0f} bytes (median, newline included)")
    with tempfile.TemporaryDirectory(prefix="qs-bench-spool-", dir=args.dir) as directory:
        results = []
        for n in range(args.rounds):
            append, seal, read = one_round(Path(directory), rows)
            results.append((append, seal, read))
            print(f"round {n + 1}: append {append:.2f} µs/row, seal {seal:.3f}, read back {read:.2f}")
    append, seal, read = (statistics.median(part) for part in zip(*results, strict=True))
    print(f"median of {args.rounds}: append {append:.2f} µs a quote (the request), read back {read:.2f} µs a row")


if __name__ == "__main__":
    main()

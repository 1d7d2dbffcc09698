"""`quote-service ingest FILE`: competitor observations from a CSV or JSON-lines file onto the
same stream POST /competitor-prices feeds (the running service's consumers persist them).

CSV: a header row naming the fields (product_id, competitor, price, currency, observed_at,
in_stock, url; the last two optional, `true`/`false`/empty for in_stock). JSON lines: one
observation object per line. Each line is validated like an API observation; bad lines are
reported by line number and skipped. A progress bar on stderr for files over 1 MiB.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.intelligence import stream
from quote_service.intelligence.schemas import ObservationRecord, Rejection

CHUNK = 1000
PROGRESS_FROM_BYTES = 1024 * 1024
MAX_REPORTED = 20


class _Counted:
    """The lines of a file, counting the bytes read (tell() is unavailable while iterating)."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.bytes = 0

    def __iter__(self) -> Iterator[str]:
        for line in self.handle:
            self.bytes += len(line.encode())
            yield line


def _csv_rows(handle: _Counted) -> Iterator[tuple[int, object]]:
    for number, row in enumerate(csv.DictReader(handle), start=2):
        cleaned: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
        if "in_stock" in cleaned:
            flag = str(cleaned["in_stock"]).strip().lower()
            cleaned["in_stock"] = {"true": True, "1": True, "false": False, "0": False}.get(flag, flag)
        yield number, cleaned


def _json_rows(handle: _Counted) -> Iterator[tuple[int, object]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError:
            yield number, None


class _Progress:
    def __init__(self, total: int, out: IO[str]) -> None:
        self.total = total
        self.out = out
        self.shown = -1

    def update(self, done: int) -> None:
        percent = min(100, done * 100 // max(self.total, 1))
        if percent != self.shown:
            self.shown = percent
            bar = "#" * (percent // 4)
            self.out.write(f"\r[{bar:<25}] {percent:3d}%")
            self.out.flush()

    def close(self) -> None:
        self.out.write("\n")


async def ingest_file(redis: RedisClient, path: Path, *, out: IO[str] = sys.stdout, err: IO[str] = sys.stderr) -> int:
    """Publish the file's valid observations; returns how many lines were rejected."""
    size = path.stat().st_size  # noqa: ASYNC240 - a CLI command, nothing else runs on this loop
    progress = _Progress(size, err) if size > PROGRESS_FROM_BYTES else None
    accepted = rejected = 0
    chunk: list[ObservationRecord] = []
    with path.open(encoding="utf-8", newline="") as handle:
        is_csv = path.suffix.lower() == ".csv"
        counted = _Counted(handle)
        rows = _csv_rows(counted) if is_csv else _json_rows(counted)
        for number, raw in rows:
            checked = stream.validate(raw, number, utcnow())
            if isinstance(checked, Rejection):
                rejected += 1
                if rejected <= MAX_REPORTED:
                    err.write(f"line {number}: {checked.field or 'line'}: {checked.message}\n")
                continue
            chunk.append(checked)
            if len(chunk) >= CHUNK:
                accepted += await stream.publish(redis, chunk)
                chunk = []
                if progress is not None:
                    progress.update(counted.bytes)
        accepted += await stream.publish(redis, chunk)
    if progress is not None:
        progress.update(size)
        progress.close()
    out.write(f"{accepted} observations queued, {rejected} lines rejected\n")
    return rejected

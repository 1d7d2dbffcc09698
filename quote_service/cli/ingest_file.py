"""`quote-service ingest FILE`: competitor observations from a CSV or JSON-lines file onto the
same stream POST /competitor-prices feeds (the running service's consumers persist them).

CSV: a header row naming the fields (product_id, competitor, price, currency, observed_at,
in_stock, url; the last two optional, `true`/`false`/empty for in_stock). JSON lines: one
observation object per line. Each line is validated like an API observation; bad lines are
reported by line number and skipped, and so are lines that cannot be read at all (not UTF-8,
JSON nested too deeply, a CSV field over the csv module's limit, more CSV fields than the
header): docs/market-intelligence.md. A progress bar on stderr for files over 1 MiB.
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.intelligence import stream
from quote_service.intelligence.schemas import ObservationRecord, Rejection

CHUNK = 1000
PROGRESS_FROM_BYTES = 1024 * 1024
MAX_REPORTED = 20


class _Lines:
    """The text lines of a file read as bytes, counting the bytes read (tell() is unavailable
    while iterating). A line that is not UTF-8 is set aside in `bad` (its number) and read as
    blank, so the lines around it still count; a UTF-8 BOM (spreadsheets write one) is dropped."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.bytes = 0
        self.number = 0
        self.bad: list[int] = []

    def __iter__(self) -> Iterator[str]:
        for raw in self.handle:
            self.bytes += len(raw)
            self.number += 1
            if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self.bad.append(self.number)
                yield "\n"


class _Unreadable(NamedTuple):
    """A line that could not be read as an observation at all, and why."""

    why: str


def _csv_rows(lines: _Lines) -> Iterator[tuple[int, object]]:
    reader = csv.DictReader(lines)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's limit: that line only
            yield lines.number, _Unreadable(f"not a CSV row: {exc}")
            continue
        extra = row.pop(None, None)
        if extra:
            yield reader.line_num, _Unreadable(f"{len(extra)} more field(s) than the header's {len(row)} columns")
            continue
        cleaned: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
        if "in_stock" in cleaned:
            flag = str(cleaned["in_stock"]).strip().lower()
            cleaned["in_stock"] = {"true": True, "1": True, "false": False, "0": False}.get(flag, flag)
        yield reader.line_num, cleaned


def _json_rows(lines: _Lines) -> Iterator[tuple[int, object]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except RecursionError:
            yield number, _Unreadable("JSON nested too deeply")
        except ValueError:  # not JSON (json.JSONDecodeError), or a number of too many digits
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

    def reject(number: int, field: str, message: str) -> None:
        nonlocal rejected
        rejected += 1
        if rejected <= MAX_REPORTED:
            err.write(f"line {number}: {field or 'line'}: {message}\n")

    with path.open("rb") as handle:
        is_csv = path.suffix.lower() == ".csv"
        lines = _Lines(handle)
        for number, raw in _csv_rows(lines) if is_csv else _json_rows(lines):
            for bad in lines.bad:
                reject(bad, "", "not UTF-8 text")
            lines.bad.clear()
            checked = (
                Rejection(index=number, field="", message=raw.why)
                if isinstance(raw, _Unreadable)
                else stream.validate(raw, number, utcnow())
            )
            if isinstance(checked, Rejection):
                reject(number, checked.field, checked.message)
                continue
            chunk.append(checked)
            if len(chunk) >= CHUNK:
                accepted += await stream.publish(redis, chunk)
                chunk = []
                if progress is not None:
                    progress.update(lines.bytes)
        accepted += await stream.publish(redis, chunk)
        for bad in lines.bad:  # after the last row
            reject(bad, "", "not UTF-8 text")
    if progress is not None:
        progress.update(size)
        progress.close()
    out.write(f"{accepted} observations queued, {rejected} lines rejected\n")
    return rejected

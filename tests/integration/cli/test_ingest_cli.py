"""`quote-service ingest FILE`: CSV and JSON lines onto the stream, bad lines reported and skipped."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

from redis.asyncio import Redis

from quote_service.cli.ingest_file import ingest_file
from quote_service.config import Settings
from quote_service.intelligence import stream


async def test_csv_and_json_lines(settings: Settings, tmp_path: Path) -> None:
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    product = str(uuid.uuid4())
    csv_file = tmp_path / "prices.csv"
    csv_file.write_text(
        "product_id,competitor,price,currency,observed_at,in_stock,url\n"
        f"{product},acme,10.50,USD,2026-01-01T00:00:00Z,true,\n"
        f"{product},acme,-1,USD,2026-01-01T00:00:00Z,,\n"
    )
    jsonl = tmp_path / "prices.jsonl"
    good = {
        "product_id": product,
        "competitor": "b",
        "price": 11,
        "currency": "USD",
        "observed_at": "2026-01-01T00:00:00Z",
    }
    jsonl.write_text(json.dumps(good) + "\nnot json\n\n" + json.dumps({**good, "competitor": "c"}) + "\n")
    out, err = io.StringIO(), io.StringIO()
    try:
        assert await ingest_file(redis, csv_file, out=out, err=err) == 1
        assert await ingest_file(redis, jsonl, out=out, err=err) == 1
        entries = await redis.xrange(stream.STREAM)
    finally:
        await redis.aclose()
    records = [stream.decode(fields[stream.FIELD]) for _, fields in entries]
    assert [(r.competitor, str(r.price), r.in_stock) for r in records] == [
        ("acme", "10.50", True),
        ("b", "11", None),
        ("c", "11", None),
    ]
    assert "line 3: price" in err.getvalue()
    assert "line 2: line: must be an object" in err.getvalue()
    assert out.getvalue() == "1 observations queued, 1 lines rejected\n2 observations queued, 1 lines rejected\n"


async def _ingest(settings: Settings, path: Path) -> tuple[int, list[tuple[str, str]], str, str]:
    """(lines rejected, (competitor, price) of each queued entry, stdout, stderr) of one file."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    out, err = io.StringIO(), io.StringIO()
    try:
        rejected = await ingest_file(redis, path, out=out, err=err)
        entries = await redis.xrange(stream.STREAM)
    finally:
        await redis.aclose()
    records = [stream.decode(fields[stream.FIELD]) for _, fields in entries]
    return rejected, [(r.competitor, str(r.price)) for r in records], out.getvalue(), err.getvalue()


HEADER = b"product_id,competitor,price,currency,observed_at,in_stock,url\r\n"


def _csv_line(competitor: str, price: str = "10.50") -> bytes:
    return f"{uuid.UUID(int=7)},{competitor},{price},USD,2026-01-01T00:00:00Z,true,\r\n".encode()


async def test_csv_with_a_bom_as_spreadsheets_write_it(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER + _csv_line("a") + _csv_line("b"))

    rejected, queued, out, err = await _ingest(settings, path)

    assert (rejected, queued, err) == (0, [("a", "10.50"), ("b", "10.50")], "")
    assert out == "2 observations queued, 0 lines rejected\n"


async def test_json_lines_with_a_bom(settings: Settings, tmp_path: Path) -> None:
    line = {"product_id": str(uuid.UUID(int=7)), "competitor": "a", "price": "3", "currency": "USD",
            "observed_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    path = tmp_path / "prices.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(line).encode() + b"\n")

    assert (await _ingest(settings, path))[:2] == (0, [("a", "3")])


async def test_lines_that_are_not_utf8_are_reported_and_the_rest_queued(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER + _csv_line("a") + _csv_line("caf\xe9").replace(b"\xc3\xa9", b"\xe9") + _csv_line("b"))
    jsonl = tmp_path / "latin1.jsonl"
    good = json.dumps({"product_id": str(uuid.UUID(int=7)), "competitor": "c", "price": "3", "currency": "USD",
                       "observed_at": "2026-01-01T00:00:00Z"}).encode()  # fmt: skip
    jsonl.write_bytes(good + b"\n" + b'{"competitor": "caf\xe9"}\n' + good + b"\n" + b"\xff\xfe\n")

    rejected, queued, out, err = await _ingest(settings, path)
    assert (rejected, queued) == (1, [("a", "10.50"), ("b", "10.50")])
    assert err == "line 3: line: not UTF-8 text\n"
    assert out == "2 observations queued, 1 lines rejected\n"

    rejected, queued, out, err = await _ingest(settings, jsonl)
    assert rejected == 2
    assert err == "line 2: line: not UTF-8 text\nline 4: line: not UTF-8 text\n"
    assert out == "2 observations queued, 2 lines rejected\n"


async def test_a_deeply_nested_json_line_is_one_bad_line(settings: Settings, tmp_path: Path) -> None:
    good = {"product_id": str(uuid.UUID(int=7)), "competitor": "a", "price": "3", "currency": "USD",
            "observed_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    path = tmp_path / "nested.jsonl"
    nested = "[" * 100_000 + "]" * 100_000
    huge_number = json.dumps({**good, "price": int("9" * 4000)}).replace("9" * 4000, "9" * 5000)
    path.write_text("\n".join([nested, json.dumps(good), huge_number, json.dumps({**good, "competitor": "b"})]) + "\n")

    rejected, queued, out, err = await _ingest(settings, path)

    assert (rejected, queued) == (2, [("a", "3"), ("b", "3")])
    assert out == "2 observations queued, 2 lines rejected\n"
    assert err.splitlines() == ["line 1: line: JSON nested too deeply", "line 3: line: must be an object"]


async def test_a_csv_field_over_the_csv_limit_and_extra_columns(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(
        HEADER
        + _csv_line("a")
        + _csv_line("b").replace(b",\r\n", b"," + b"x" * 200_000 + b"\r\n")  # a url of 200,000 characters
        + _csv_line("c").replace(b"\r\n", b",surplus,more\r\n")  # two fields the header does not name
        + _csv_line("d")
    )

    rejected, queued, out, err = await _ingest(settings, path)

    assert (rejected, queued) == (2, [("a", "10.50"), ("d", "10.50")])
    assert err.splitlines() == [
        "line 3: line: not a CSV row: field larger than field limit (131072)",
        "line 4: line: 2 more field(s) than the header's 7 columns",
    ]
    assert out == "2 observations queued, 2 lines rejected\n"

"""`quote-service ingest FILE`: CSV and JSON lines onto the stream, bad lines reported and skipped."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

from redis.asyncio import Redis

from quote_service.config import Settings
from quote_service.intelligence import stream
from quote_service.intelligence.ingest_file import ingest_file


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

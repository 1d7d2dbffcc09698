"""`quote-service ingest FILE`: competitor observations from a file onto the stream (cli/ingest_file.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from quote_service.config import Settings


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """Competitor observations from a CSV or JSON-lines file onto the ingestion stream."""
    from quote_service.cache.redis import create_redis
    from quote_service.cli.ingest_file import ingest_file

    path = Path(args.file)
    if not path.is_file():
        print(f"quote-service: no such file: {args.file}", file=sys.stderr)
        return 2
    assert settings.redis_url is not None, "stores() sets both URLs"

    async def run() -> int:
        redis = create_redis(settings.redis_url or "", cluster=settings.redis_cluster)
        try:
            return await ingest_file(redis, path)
        finally:
            await redis.aclose()

    return 1 if asyncio.run(run()) else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = sub.add_parser("ingest", help="queue competitor observations from a CSV or JSON-lines file")
    ingest.add_argument("file", help="a .csv file with a header row, or JSON lines (one observation per line)")
    ingest.set_defaults(handler=cmd_ingest)

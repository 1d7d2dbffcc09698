"""`quote-service generate-data`: a reproducible history written with COPY (cli/generate.py)."""

from __future__ import annotations

import argparse
import sys

from quote_service.cli.common import with_pool
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.pool import Pool


def cmd_generate_data(settings: Settings, args: argparse.Namespace) -> int:
    """Write a reproducible history (COPY), recomputing the analytics rollups of its hours."""
    from quote_service.cli.generate import generate

    for name in ("products", "days", "quotes_per_day"):
        if getattr(args, name) < 1:
            print(f"quote-service: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2

    async def work(pool: Pool) -> object:
        return await generate(
            pool, products=args.products, days=args.days, quotes_per_day=args.quotes_per_day, seed=args.seed,
            now=utcnow(), progress=not args.quiet,
            on_rollups=lambda: print("finishing the analytics rollups ...", file=sys.stderr, flush=True),
        )  # fmt: skip

    try:
        summary = with_pool(settings, work)
    except ValueError as exc:
        print(f"quote-service: {exc}", file=sys.stderr)
        return 1
    print(f"generated: {summary}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gen = sub.add_parser("generate-data", help="write a reproducible history of quotes, orders and sales")
    gen.add_argument("--products", type=int, default=1000, help="generated products (default 1000)")
    gen.add_argument("--days", type=int, default=30, help="days of history, up to now (default 30)")
    gen.add_argument("--quotes-per-day", type=int, default=10_000, help="quotes a day (default 10000)")
    gen.add_argument("--seed", type=int, default=1, help="random seed: the same seed writes the same data (default 1)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(handler=cmd_generate_data)

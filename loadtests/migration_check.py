"""Check a migration that moves data forward on a copy of the demo database: what the tree before it wrote,
the tree after it reads back the same.

    uv run python loadtests/migration_check.py --before /tmp/before-tree --after .

It serves the tree `--before` (a checkout of the commit before the migration, with its own `.venv`, as
`loadtests/corpus.py record` serves a tree) with `serve --demo` on a new database: its migrations, the demo's
seed, then the corpus's journeys (orders, refunds, cancels, edits, the flash sale, payout runs: every kind of
row the money after the quote writes). It reads back, as the admin, every order and its refunds, and each demo
seller's statement, ledger (JSON and CSV), balance and payouts, and stops. Then it serves the tree `--after` on
the same database: `serve` applies the pending migrations (the data moves), and it reads the same again. Every
answer must be the same, byte for byte (instants and `processing_time_ms` normalized as the corpus normalizes
them: a balance is as of now). It also counts what moved: the rows of each kind in the sellers' ledger and the
refund lines whose parts left `refund_lines.taxes` (docs/development.md#checking-a-migration-on-the-demo).
Exit 0 when every answer is the same.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus


def reads(base: str, admin: dict[str, str], orders: list[str]) -> dict[str, str]:
    """Every answer the money after the quote gives about what was written, by what was asked."""
    found: dict[str, str] = {}
    with httpx.Client(base_url=base, timeout=120, headers=admin) as http:

        def get(name: str, path: str, **params: Any) -> None:
            answer = http.get(path, params=params or None)
            found[name] = f"{answer.status_code} {answer.text}"

        for order_id in orders:
            get(f"order {order_id}", f"/api/v1/orders/{order_id}")
            get(f"refunds {order_id}", f"/api/v1/orders/{order_id}/refunds")
        for seller in corpus.SELLERS:
            base_path = f"/api/v1/sellers/{seller}"
            for currency in ("TRY", "EUR"):
                get(f"{seller} statement {currency}", f"{base_path}/statement", currency=currency)
                get(f"{seller} statement-csv {currency}", f"{base_path}/statement", currency=currency, format="csv")
                get(f"{seller} ledger {currency}", f"{base_path}/statement/entries", currency=currency, limit=500)
                entries = f"{base_path}/statement/entries"
                get(f"{seller} ledger-csv {currency}", entries, currency=currency, format="csv")
            get(f"{seller} balance", f"{base_path}/balance")
            get(f"{seller} payouts", "/api/v1/payouts", seller_id=seller, limit=500)
    return found


async def database_facts(url: str) -> tuple[list[str], dict[str, int]]:
    """The orders written, and counts of what the migrations moved (0: not there yet)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        orders = [str(r["id"]) for r in await conn.fetch("SELECT id FROM orders ORDER BY created_at, id")]
        columns = {
            (r["table_name"], r["column_name"])
            for r in await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            )
        }
        counts: dict[str, int] = {
            "orders": len(orders),
            "refund lines": await conn.fetchval("SELECT count(*) FROM refund_lines"),
        }
        if ("refund_lines", "taxes") in columns:
            counts["refund lines with taxes (before)"] = await conn.fetchval(
                "SELECT count(*) FROM refund_lines WHERE taxes IS NOT NULL"
            )
        if ("refund_lines", "tax_components") in columns:
            for column in ("tax_components", "tax_exempted", "installment_commission", "commission_fees"):
                counts[f"refund lines with {column}"] = await conn.fetchval(
                    f"SELECT count(*) FROM refund_lines WHERE {column} IS NOT NULL"
                )
        if ("seller_ledger", "kind") in columns:
            for row in await conn.fetch("SELECT kind, count(*) AS n FROM seller_ledger GROUP BY kind ORDER BY kind"):
                counts[f"ledger entries: {row['kind']}"] = row["n"]
            counts["ledger tax rows"] = await conn.fetchval("SELECT count(*) FROM seller_ledger_taxes")
        if ("order_edit_sellers", "edit_id") in columns:
            counts["order_edit_sellers (before)"] = await conn.fetchval("SELECT count(*) FROM order_edit_sellers")
        return orders, counts
    finally:
        await conn.close()


def environment(database_url: str, redis_url: str, here: Path, tree: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(here)),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONPATH": str(tree),
        "QUOTE_SERVICE_HOME": str(here / "home"),
        "QUOTE_LOG_SPOOL_DIR": str(here / "spool"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        **corpus.SERVER_ENV,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="migration_check.py", description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the checkout before the migration (its own .venv)")
    parser.add_argument("--after", required=True, help="the checkout with the migration")
    parser.add_argument("--seed", type=int, default=1, help="the corpus journeys' seed")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    args = parser.parse_args(argv)
    before_tree, after_tree = Path(args.before).resolve(), Path(args.after).resolve()
    normalizer = corpus.Normalizer(datetime.now(UTC))
    with (
        tempfile.TemporaryDirectory(prefix="qs-migration-") as scratch,
        corpus.claimed_redis(args.redis_url) as redis_url,
        corpus.scratch_database(args.database_url, f"qs_migration_{os.getpid()}") as database_url,
    ):
        corpus.flush(redis_url)
        here = Path(scratch) / "before"
        here.mkdir()
        print(f"before: serving {before_tree} (serve --demo), then the corpus journeys...", flush=True)
        with corpus.serving(before_tree, environment(database_url, redis_url, here, before_tree), here) as (base, _):
            with (Path(scratch) / "journeys.jsonl").open("w", encoding="utf-8") as sink:
                rec = corpus.Recorder(sink, normalizer)
                rec.open(base, "before")
                journeys = corpus.Journeys(rec, random.Random(args.seed))
                journeys.setup()
                journeys.run()
                rec.close()
            admin = journeys.auth["admin"]
            orders, counts = asyncio.run(database_facts(database_url))
            first = reads(base, admin, orders)
        print(f"before: {len(first)} answers read; {counts}", flush=True)
        here = Path(scratch) / "after"
        here.mkdir()
        print(f"after: serving {after_tree} on the same database (serve: the pending migrations)...", flush=True)
        serving = corpus.serving(after_tree, environment(database_url, redis_url, here, after_tree), here, demo=False)
        with serving as (base, _):
            second = reads(base, admin, orders)
        _, counts = asyncio.run(database_facts(database_url))
        print(f"after: {len(second)} answers read; {counts}", flush=True)
    differing = [name for name in first if normalizer(first[name]) != normalizer(second[name])]
    for name in differing[:10]:
        print(f"differs: {name}\n  before: {first[name][:600]}\n  after:  {second[name][:600]}")
    print(f"{len(differing)} of {len(first)} answers differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())

"""`quote-service retention [--dry-run]`: the lifecycle job's pass, now (docs/data-lifecycle.md)."""

from __future__ import annotations

import argparse

from quote_service.cli.common import with_pool
from quote_service.clock import utcnow
from quote_service.config import Settings


def _size(octets: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if octets < 1024 or unit == "GB":
            return f"{octets:.0f} {unit}" if unit == "B" else f"{octets:.1f} {unit}"
        octets /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def _bound(moment: object) -> str:
    return "-infinity" if moment is None else f"{moment:%Y-%m-%d %H:%M}Z"


def cmd_retention(settings: Settings, args: argparse.Namespace) -> int:
    """Create the partitions ahead and drop those past retention (--dry-run: print what it would drop)."""
    from quote_service.db.pool import Pool
    from quote_service.lifecycle import partitions

    verb = "would drop" if args.dry_run else "dropped"

    async def run(pool: Pool) -> partitions.Pass:
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = 0")
            done = await partitions.apply(
                conn,
                settings,
                utcnow(),
                dry_run=args.dry_run,
                progress=lambda p: print(
                    f"{verb} {p.name}: {p.table} [{_bound(p.lo)}, {_bound(p.hi)}), ~{p.rows:,} rows, {_size(p.bytes)}",
                    flush=True,
                ),
            )
        assert done is not None  # waited for the lock
        return done

    done = with_pool(settings, run)
    for table, count in done.created.items():
        print(f"created {count} partition(s) of {table}")
    for table, rows in done.strays.items():
        print(
            f"{table}_default holds {rows:,} more row(s) outside every partition: a real run moves them into"
            " partitions of their own"
        )
    for table, why in done.busy.items():
        print(f"partitions ahead of {table} not made now (the next pass retries): {why}")
    for item in done.held:
        print(f"kept {item.partition.name} past retention: {item.held}")
    for part, error in done.failed:
        print(f"not dropped {part.name} (the next pass retries): {error}")
    total = sum(p.bytes for p in done.dropped)
    policy = ", ".join(f"{t.name} {_kept(t.kept_days(settings))}" for t in partitions.TABLES)
    print(f"{verb} {len(done.dropped)} partition(s), {_size(total)}; retention: {policy}")
    return 1 if done.failed or done.busy else 0


def _kept(days: float) -> str:
    return "forever" if not days else f"{days:g} days"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("retention", help="drop the time partitions past retention now (and create those ahead)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be dropped; change nothing")
    parser.set_defaults(handler=cmd_retention)

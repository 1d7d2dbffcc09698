"""Data lifecycle (docs/data-lifecycle.md): time-partitioned append-only tables, partitions made
ahead, retention that drops whole partitions, and reports that read the same after a drop."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from quote_service.analytics.rollups import RollupJob, hour_of
from quote_service.cli.generate import generate
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.migrate import apply_migrations, migrations_dir
from quote_service.lifecycle import partitions
from quote_service.lifecycle.job import LifecycleJob
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.servers import CLI, cli_env
from tests.waiting import until

MakeDatabase = Callable[[], Awaitable[str]]

TABLES = {
    "quote_log": "created_at",
    "idempotency_answers": "created_at",
    "idempotency_refusals": "created_at",
    "stock_movements": "created_at",
    "competitor_prices": "observed_at",
    "webhook_events": "created_at",
    "webhook_deliveries": "created_at",
    "audit_log": "at",
}


async def _partition_of(pool: asyncpg.Pool, table: str, moment: datetime) -> str | None:
    """The name of `table`'s partition (not the default one) that holds `moment`."""
    async with pool.acquire() as conn:
        for part in await partitions.partitions(conn, table):
            if (part.lo is None or part.lo <= moment) and (part.hi is None or moment < part.hi):
                return part.name
    return None


async def test_every_append_only_table_is_partitioned_by_its_time_with_partitions_ahead(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    keys = {
        r["table"]: r["key"]
        for r in await pool.fetch(
            "SELECT p.partrelid::regclass::text AS table, a.attname AS key FROM pg_partitioned_table p"
            " JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
        )
    }
    assert keys == TABLES
    now = utcnow()
    async with pool.acquire() as conn:
        await partitions.apply(conn, settings, now)
    for table in TABLES:
        assert await pool.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{table}_default"), table
        for days in range(settings.partition_days_ahead + 1):
            assert await _partition_of(pool, table, now + timedelta(days=days)) is not None, (table, days)


def audit(dropped: list[partitions.Partition]) -> list[partitions.Partition]:
    return [p for p in dropped if p.table == "audit_log"]


async def test_a_row_outside_every_partition_is_moved_into_one_of_its_own_and_the_audit_log_is_kept(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    long_ago = datetime(2019, 6, 15, 12, tzinfo=UTC)
    await pool.execute(
        "INSERT INTO audit_log (at, actor, action, entity_type) VALUES ($1, '{}', 'create', 'coupon')", long_ago
    )
    assert await pool.fetchval("SELECT count(*) FROM audit_log_default") == 1
    shorter = msgspec.structs.replace(settings, audit_log_retention_days=365)
    async with pool.acquire() as conn:
        kept = await partitions.apply(conn, settings, utcnow(), dry_run=True)
        gone = await partitions.apply(conn, shorter, utcnow(), dry_run=True)
    assert kept is not None
    assert gone is not None
    # The audit log's partitions only: an earlier test on this worker may have left old days of
    # other tables' partitions (emptied, not dropped), which retention rightly drops.
    assert (kept.strays, audit(kept.dropped)) == ({"audit_log": 1}, [])
    assert ([p.name for p in audit(gone.dropped)], gone.strays) == (["audit_log_p201906"], {})
    assert await pool.fetchval("SELECT count(*) FROM audit_log_default") == 1  # a dry run changes nothing
    async with pool.acquire() as conn:
        done = await partitions.apply(conn, settings, utcnow())
    assert done is not None
    assert audit(done.dropped) == []
    assert await pool.fetchval("SELECT count(*) FROM audit_log_default") == 0
    assert await pool.fetchval("SELECT tableoid::regclass::text FROM audit_log WHERE at = $1", long_ago) == (
        "audit_log_p201906"
    )
    assert REGISTRY.get_sample_value("qs_partition_default_rows", {"table": "audit_log"}) == 0
    # Kept forever by default; a retention, once set, drops it whole.
    async with pool.acquire() as conn:
        done = await partitions.apply(conn, shorter, utcnow())
    assert done is not None
    assert [p.name for p in audit(done.dropped)] == ["audit_log_p201906"]
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 0


async def _reports(client: AsyncTestClient[Litestar], admin: Caller, start: str, end: str) -> dict[str, Any]:
    reports: dict[str, Any] = {}
    for kind, groups in (
        ("pricing", ("day", "product", "category", "rule", "variant", "region")),
        ("commission", ("day", "seller", "category", "logistics_provider")),
    ):
        for group in groups:
            for tz in ("UTC", "Europe/Istanbul"):
                path = f"/api/v1/analytics/{kind}?group_by={group}&from={start}&to={end}&tz={tz}"
                reports[path] = expect_ok(await client.get(path, headers=admin.headers))
    path = f"/api/v1/analytics/flags?from={start}&to={end}"
    reports[path] = expect_ok(await client.get(path, headers=admin.headers))
    return reports


async def test_reports_of_closed_days_read_the_same_after_retention_drops_their_raw_rows(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool, settings: Settings
) -> None:
    now = utcnow()
    await generate(pool, products=15, days=8, quotes_per_day=240, seed=53, now=now, progress=False)
    start, end = (now - timedelta(days=7)).date().isoformat(), (now - timedelta(days=1)).date().isoformat()
    before = await _reports(client, admin, start, end)
    assert before[f"/api/v1/analytics/pricing?group_by=day&from={start}&to={end}&tz=UTC"]["rows"]
    logged = await pool.fetchval("SELECT count(*) FROM quote_log")

    dropped = REGISTRY.get_sample_value("qs_partitions_dropped_total", {"table": "quote_log"}) or 0
    three_days = msgspec.structs.replace(settings, quote_log_retention_days=3)
    async with pool.acquire() as conn:
        done = await partitions.apply(conn, three_days, now)
    assert done is not None
    gone = [p for p in done.dropped if p.table == "quote_log"]
    assert len(gone) >= 5
    horizon = await pool.fetchval("SELECT dropped_before FROM partition_horizons WHERE table_name = 'quote_log'")
    assert horizon == max(p.hi for p in gone)
    assert horizon <= now - timedelta(days=3)
    assert await pool.fetchval("SELECT count(*) FROM quote_log WHERE created_at < $1", horizon) == 0
    assert await pool.fetchval("SELECT count(*) FROM quote_log") < logged
    assert REGISTRY.get_sample_value("qs_partitions_dropped_total", {"table": "quote_log"}) == dropped + len(gone)

    assert await _reports(client, admin, start, end) == before

    # A late write that marks an hour whose raw rows are gone (a refund of an old order) is cleared
    # without a recompute: that hour's rollups are its only record.
    old_hour = hour_of(horizon - timedelta(hours=30))
    await pool.execute("SELECT rollup_mark('pricing', ARRAY[$1::timestamptz])", old_hour)
    assert await _reports(client, admin, start, end) == before
    await RollupJob(pool).tick()
    assert await pool.fetchval("SELECT count(*) FROM rollup_dirty WHERE hour = $1", old_hour) == 0
    assert await _reports(client, admin, start, end) == before


async def _webhook_rows(pool: asyncpg.Pool, at: datetime, *, pending: bool) -> None:
    hook = await pool.fetchval(
        "INSERT INTO webhooks (url, events, secret, created_by, updated_by)"
        " VALUES ('https://example.com/hook', '{order.created}', 'whsec_x', 't', 't') RETURNING id"
    )
    event = await pool.fetchval(
        "INSERT INTO webhook_events (type, body, created_at) VALUES ('order.created', '{}', $1) RETURNING id", at
    )
    await pool.execute(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, type, status, next_attempt_at, created_at)"
        " VALUES ($1, $2, 'order.created', $3, $4, $5)",
        hook,
        event,
        "pending" if pending else "delivered",
        at if pending else None,
        at,
    )


async def test_a_webhook_partition_waits_for_its_pending_deliveries_and_events_outlive_deliveries(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    now = utcnow()
    await _webhook_rows(pool, now - timedelta(days=40), pending=True)
    await _webhook_rows(pool, now - timedelta(days=45), pending=False)
    async with pool.acquire() as conn:
        done = await partitions.apply(conn, settings, now)
    assert done is not None
    held = {d.partition.table: d.held for d in done.held}
    assert held["webhook_deliveries"] == "1 deliveries still pending"
    assert held["webhook_events"] == "1 events a kept delivery points to"
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 1
    assert await pool.fetchval("SELECT count(*) FROM webhook_events") == 1
    assert {p.table for p in done.dropped} >= {"webhook_deliveries", "webhook_events"}


async def test_a_table_a_reader_holds_is_waited_for_once_per_pass_and_the_others_are_dropped(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    wait = 3.0  # long enough that a second wait on the busy table would show in the pass's time
    patient = msgspec.structs.replace(settings, retention_lock_timeout=wait, audit_log_retention_days=365)
    now = utcnow()
    async with pool.acquire() as conn:
        for months_ago in (30, 26):
            old = now - timedelta(days=months_ago * 30)
            await partitions.cover(
                conn, old, old, (partitions.BY_NAME["stock_movements"], partitions.BY_NAME["audit_log"])
            )
    async with pool.acquire() as reader, reader.transaction():
        await reader.fetchval("SELECT count(*) FROM stock_movements")
        async with pool.acquire() as conn:
            started = time.monotonic()
            done = await partitions.apply(conn, patient, now)
            seconds = time.monotonic() - started
    assert done is not None
    assert [p.table for p, _ in done.failed] == ["stock_movements", "stock_movements"]
    assert all(why.startswith(f"{wait:g} s passed without its table's lock") for _, why in done.failed)
    # Only the tables this test gave old partitions: an earlier test on this database may have left
    # other tables' old (empty) partitions, which the pass drops too.
    mine = [p.table for p in done.dropped if p.table in {"stock_movements", "audit_log"}]
    assert mine == ["audit_log", "audit_log"], "other tables are not held up"
    assert wait <= seconds < 2 * wait, f"the busy table was waited for once, not per partition ({seconds:.2f} s)"


@pytest.mark.slow
def test_the_command_prints_what_it_would_drop_then_drops_it(settings: Settings) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    import asyncio

    async def old_rows() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(
                "INSERT INTO audit_log (at, actor, action, entity_type) VALUES ($1, '{}', 'create', 'coupon')",
                datetime(2020, 2, 10, tzinfo=UTC),
            )
        finally:
            await conn.close()

    asyncio.run(old_rows())
    env = cli_env(
        DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING",
        AUDIT_LOG_RETENTION_DAYS="400",
    )  # fmt: skip
    dry = subprocess.run([*CLI, "retention", "--dry-run"], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    assert dry.returncode == 0, dry.stderr
    assert "would drop audit_log_p202002: audit_log [2020-02-01 00:00Z, 2020-03-01 00:00Z), ~1 rows, 0 B" in dry.stdout
    assert "audit_log 400 days" in dry.stdout
    assert "webhook_deliveries 30 days, webhook_events 31 days" in dry.stdout  # as docs/data-lifecycle.md says

    async def count() -> int:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM audit_log"))
        finally:
            await conn.close()

    assert asyncio.run(count()) == 1
    real = subprocess.run([*CLI, "retention"], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    assert real.returncode == 0, real.stderr
    assert "dropped audit_log_p202002: audit_log [2020-02-01 00:00Z, 2020-03-01 00:00Z), ~" in real.stdout
    assert asyncio.run(count()) == 0


async def test_the_conversion_keeps_every_row_and_the_ids_go_on(make_database: MakeDatabase, tmp_path: Path) -> None:
    """Migration 0600 on tables that hold rows: none lost, each in the legacy partition, identities
    and sequences continue, and later rows go to the new partitions."""
    before = tmp_path / "before"
    before.mkdir()
    for path in migrations_dir().glob("*.sql"):
        if path.name < "0600":
            shutil.copy(path, before / path.name)
    dsn = await make_database()
    await apply_migrations(dsn, before)
    conn = await asyncpg.connect(dsn)
    try:
        product = uuid.uuid4()
        await conn.execute(
            "INSERT INTO products (id, sku, name, category_id, seller_id, currency, base_price, current_price,"
            " min_price, cost_price, stock) VALUES ($1, 'SKU-1', 'P', 'c', 's', 'TRY', 10, 10, 5, 1, 5)",
            product,
        )
        old = utcnow() - timedelta(days=3)
        for n in range(3):
            await conn.execute(
                "INSERT INTO stock_movements (product_id, delta, stock_after, reason, actor, created_at)"
                " VALUES ($1, 1, 1, 'restock', 'test', $2)",
                product,
                old + timedelta(minutes=n),
            )
            await conn.execute(
                "INSERT INTO audit_log (at, actor, action, entity_type) VALUES ($1, '{}', 'create', 'coupon')", old
            )
        await conn.execute(
            "INSERT INTO competitor_prices (product_id, competitor, price, currency, observed_at)"
            " VALUES ($1, 'rival', 9, 'TRY', $2)",
            product,
            old,
        )
        await apply_migrations(dsn)
        assert await conn.fetchval("SELECT count(*) FROM stock_movements_legacy") == 3
        assert await conn.fetchval("SELECT count(*) FROM audit_log_legacy") == 3
        assert await conn.fetchval("SELECT count(*) FROM competitor_prices") == 1
        assert await conn.fetchval("SELECT to_regclass('quote_log_legacy')") is None  # empty: not kept
        later = await conn.fetchrow(
            "INSERT INTO stock_movements (product_id, delta, stock_after, reason, actor)"
            " VALUES ($1, 1, 1, 'restock', 'test') RETURNING id, tableoid::regclass::text AS part",
            product,
        )
        assert later["id"] == 4
        assert later["part"] == "stock_movements_legacy"  # a month a partition: the legacy one holds this month
        observed = await conn.fetchrow(
            "INSERT INTO competitor_prices (product_id, competitor, price, currency, observed_at)"
            " VALUES ($1, 'rival', 9, 'TRY', now()) RETURNING id, tableoid::regclass::text AS part",
            product,
        )
        assert observed["id"] == 2
        assert observed["part"] == f"competitor_prices_p{utcnow():%Y%m%d}"
        audit = await conn.fetchval(
            "INSERT INTO audit_log (actor, action, entity_type) VALUES ('{}', 'create', 'coupon') RETURNING id"
        )
        assert audit == 4
        # The audit log stays append-only on every partition.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_log WHERE id = 1")
    finally:
        await conn.close()


async def test_the_service_runs_the_pass_by_itself(pool: asyncpg.Pool, settings: Settings) -> None:
    await pool.execute(
        "INSERT INTO audit_log (at, actor, action, entity_type) VALUES ($1, '{}', 'create', 'coupon')",
        datetime(2018, 1, 5, tzinfo=UTC),
    )
    job = LifecycleJob(pool, msgspec.structs.replace(settings, audit_log_retention_days=365, retention_interval=0.2))
    job.start()
    try:

        async def gone() -> bool:  # and the pass has finished (the gauge is set after its last drop)
            passed = (REGISTRY.get_sample_value("qs_lifecycle_last_pass_timestamp_seconds") or 0) > 0
            return passed and await pool.fetchval("SELECT count(*) FROM audit_log") == 0

        await until(gone, "the lifecycle job drops the old audit month")
    finally:
        await job.stop()
    assert (REGISTRY.get_sample_value("qs_lifecycle_last_pass_timestamp_seconds") or 0) > 0

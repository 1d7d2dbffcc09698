"""The time-partitioned tables and what retention does with them (docs/data-lifecycle.md).

Each append-only table that grows with traffic is range-partitioned by one time column
(migration 0600): a partition per UTC day or month, named `<table>_p<YYYYMMDD|YYYYMM>`, one
`<table>_legacy` partition for the rows of before the conversion, and a `<table>_default`
partition for a write no other partition covers. `ensure` creates partitions ahead and moves rows
the default partition caught into partitions of their own; `plan` lists the partitions whose
every row is past the table's retention; `apply` drops them whole (`DROP TABLE`: no row-by-row
DELETE, no vacuum debt), the quote log's only after its hours' rollups are settled, so that
analytics for those hours reads the same before and after.

Making or dropping a partition takes an ACCESS EXCLUSIVE lock on its table, and while that lock is
waited for (a long reader holds the table) every insert into the table queues behind the wait:
an order writing its stock movements, an event its deliveries. So every such lock is waited for
RETENTION_LOCK_TIMEOUT (0.2 s) at most; a table still busy then is left alone for the rest of the
pass (and reported), and the next pass, an hour later, tries again. Partitions are made ahead by
`cover` alone, PARTITION_DAYS_AHEAD days ahead, so a pass (or a day of them) left undone never
fails or slows a write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from quote_service.analytics import rollups
from quote_service.config import Settings
from quote_service.db.pool import Connection
from quote_service.observability.metrics import (
    PARTITION_BYTES_DROPPED,
    PARTITION_DEFAULT_ROWS,
    PARTITIONS_CREATED,
    PARTITIONS_DROPPED,
)

log = structlog.get_logger("quote_service.lifecycle")

LOCK_KEY = 0x51_0A_7E_C0_11_0B_00_06
"""The advisory lock of a lifecycle pass: one pass at a time across processes."""


@dataclass(frozen=True)
class Table:
    """A partitioned table: its time column, its partitions' length, its retention setting."""

    name: str
    column: str
    unit: str  # "day" | "month"
    setting: str  # the Settings attribute holding its retention in days (0: forever)
    env: str
    keep_extra: timedelta = timedelta(0)
    """Kept this much longer than its setting says (webhook events outlive their deliveries by a day)."""

    def retention_days(self, settings: Settings) -> int:
        days: int = getattr(settings, self.setting)
        return days

    def kept_days(self, settings: Settings) -> float:
        """Days its rows are kept at least: its setting plus `keep_extra` (0: forever)."""
        days = self.retention_days(settings)
        return days + self.keep_extra / timedelta(days=1) if days else 0


TABLES = (
    Table("quote_log", "created_at", "day", "quote_log_retention_days", "QUOTE_LOG_RETENTION_DAYS"),
    Table(
        "competitor_prices", "observed_at", "day", "competitor_price_retention_days", "COMPETITOR_PRICE_RETENTION_DAYS"
    ),
    Table("webhook_deliveries", "created_at", "day", "webhook_retention_days", "WEBHOOK_RETENTION_DAYS"),
    Table("webhook_events", "created_at", "day", "webhook_retention_days", "WEBHOOK_RETENTION_DAYS", timedelta(days=1)),
    Table("idempotency_answers", "created_at", "day", "idempotency_retention_days", "IDEMPOTENCY_RETENTION_DAYS"),
    Table("idempotency_refusals", "created_at", "month", "idempotency_retention_days", "IDEMPOTENCY_RETENTION_DAYS"),
    Table("stock_movements", "created_at", "month", "stock_movement_retention_days", "STOCK_MOVEMENT_RETENTION_DAYS"),
    Table("audit_log", "at", "month", "audit_log_retention_days", "AUDIT_LOG_RETENTION_DAYS"),
)
BY_NAME = {table.name: table for table in TABLES}


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    lo: datetime | None  # None: MINVALUE (the legacy partition)
    hi: datetime | None  # None: MAXVALUE
    rows: int  # the planner's estimate (exact after ANALYZE), never a count(*) of a big table
    bytes: int  # table + indexes + TOAST


@dataclass(frozen=True)
class Drop:
    """A partition past its table's retention, and whether it may go now (`held`: why not)."""

    partition: Partition
    held: str | None = None


_PARTITIONS = """
SELECT c.relname AS name, lower(qs_partition_range(c.oid)) AS lo, upper(qs_partition_range(c.oid)) AS hi,
       greatest(c.reltuples, 0)::bigint AS rows, pg_total_relation_size(c.oid) AS bytes
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = $1::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
ORDER BY upper(qs_partition_range(c.oid)) NULLS LAST
"""


async def partitions(conn: Connection, table: str) -> list[Partition]:
    """`table`'s partitions other than the default one, oldest first."""
    rows = await conn.fetch(_PARTITIONS, table)
    return [Partition(table, r["name"], r["lo"], r["hi"], r["rows"], r["bytes"]) for r in rows]


async def ensure(conn: Connection, settings: Settings, now: datetime) -> tuple[dict[str, int], dict[str, str]]:
    """Partitions from yesterday to PARTITION_DAYS_AHEAD ahead, and one for each day or month the
    default partition holds rows of (the rows move into it), each table in its own transactions;
    sets `qs_partition_default_rows`. Returns the partitions made per table, and the tables left
    busy (their lock not granted within RETENTION_LOCK_TIMEOUT) with why."""
    made: dict[str, int] = {}
    busy: dict[str, str] = {}
    wait = settings.retention_lock_timeout
    for table in TABLES:
        count = 0
        try:
            count += await cover(conn, now - timedelta(days=1), now + timedelta(days=settings.partition_days_ahead),
                                 (table,), lock_timeout=wait)  # fmt: skip
            count += await _move_strays(conn, table, lock_timeout=wait)
        except asyncpg.LockNotAvailableError:
            busy[table.name] = _busy(wait)
            log.warning("partition_table_busy", table=table.name, step="create", lock_timeout=wait)
        left = await conn.fetchval(f"SELECT count(*) FROM {table.name}_default")
        PARTITION_DEFAULT_ROWS.labels(table.name).set(left)
        if left:
            log.warning("partition_default_rows", table=table.name, rows=left)
        if count:
            PARTITIONS_CREATED.labels(table.name).inc(count)
            made[table.name] = count
    return made, busy


async def _move_strays(conn: Connection, table: Table, *, lock_timeout: float) -> int:
    """A partition for each day or month the default partition holds rows of, the rows moved into it."""
    made = 0
    for stray in await conn.fetch(
        f"SELECT DISTINCT date_trunc($1, {table.column}, 'UTC') AS lo FROM {table.name}_default", table.unit
    ):
        async with conn.transaction():
            await _wait_for_locks(conn, lock_timeout)
            made += await conn.fetchval(
                "SELECT qs_partition_create($1, $2, $3, $4, qs_partition_name($1, $3, $5))::int",
                table.name,
                table.column,
                stray["lo"],
                _next(stray["lo"], table.unit),
                table.unit,
            )
    return made


async def cover(
    conn: Connection,
    lo: datetime,
    hi: datetime,
    tables: tuple[Table, ...] = TABLES,
    *,
    lock_timeout: float | None = None,
) -> int:
    """Partitions of `tables` for every day or month of [lo, hi], each table in its own transaction:
    the one place partitions are made ahead (the lifecycle pass; a bulk load of history, so that it
    writes into partitions of its own, not into the default one). How many it made. `lock_timeout`:
    seconds a table's lock is waited for (then asyncpg.LockNotAvailableError); None: the connection's."""
    made = 0
    for table in tables:
        async with conn.transaction():
            if lock_timeout is not None:
                await _wait_for_locks(conn, lock_timeout)
            made += await conn.fetchval(
                "SELECT qs_partition_ensure($1, $2, $3, $4, $5)", table.name, table.column, table.unit, lo, hi
            )
    return made


async def _wait_for_locks(conn: Connection, seconds: float) -> None:
    """In the current transaction, wait `seconds` at most for each lock (a table's writers queue
    behind a waiting ACCESS EXCLUSIVE request: the wait is theirs too)."""
    await conn.execute("SELECT set_config('lock_timeout', $1, true)", f"{max(1, round(seconds * 1000))}ms")


def _busy(wait: float) -> str:
    return f"{wait:g} s passed without its table's lock (another session is using the table)"


def _next(moment: datetime, unit: str) -> datetime:
    moment = moment.astimezone(UTC)
    if unit == "month":
        return moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)
    return moment + timedelta(days=1)


def horizon(table: Table, settings: Settings, now: datetime) -> datetime | None:
    """The time before which `table`'s rows are past retention (None: kept forever)."""
    days = table.retention_days(settings)
    if days <= 0:
        return None
    return now - timedelta(days=days) - table.keep_extra


async def plan(conn: Connection, settings: Settings, now: datetime) -> list[Drop]:
    """Every partition whose rows are all past their table's retention, oldest first per table,
    with the reason one must wait (a webhook delivery still pending; an event a kept delivery points to)."""
    drops: list[Drop] = []
    for table in TABLES:
        before = horizon(table, settings, now)
        if before is None:
            continue
        for part in await partitions(conn, table.name):
            if part.hi is None or part.hi > before:
                continue
            drops.append(Drop(part, await _held(conn, part)))
    return drops


async def _held(conn: Connection, part: Partition) -> str | None:
    if part.table == "webhook_deliveries":
        pending = await conn.fetchval(f"SELECT count(*) FROM {part.name} WHERE status = 'pending'")
        return f"{pending} deliveries still pending" if pending else None
    if part.table == "webhook_events":
        pointed = await conn.fetchval(
            f"SELECT count(DISTINCT e.id) FROM {part.name} e JOIN webhook_deliveries d ON d.event_id = e.id"
        )
        return f"{pointed} events a kept delivery points to" if pointed else None
    return None


async def _strays(conn: Connection, settings: Settings, now: datetime, kept: dict[str, int]) -> list[Drop]:
    """The partitions a real pass would make for the rows the default partitions hold and then drop
    at once (past retention); the other stray rows are counted in `kept`, per table."""
    drops: list[Drop] = []
    for table in TABLES:
        before = horizon(table, settings, now)
        for row in await conn.fetch(
            f"SELECT date_trunc($1, {table.column}, 'UTC') AS lo, count(*) AS n FROM {table.name}_default"
            " GROUP BY 1 ORDER BY 1",
            table.unit,
        ):
            hi = _next(row["lo"], table.unit)
            if before is not None and hi <= before:
                name = await conn.fetchval("SELECT qs_partition_name($1, $2, $3)", table.name, row["lo"], table.unit)
                drops.append(Drop(Partition(table.name, name, row["lo"], hi, row["n"], 0)))
            else:
                kept[table.name] = kept.get(table.name, 0) + row["n"]
    return drops


async def drop(conn: Connection, part: Partition, *, lock_timeout: float) -> None:
    """Drop `part` and move its table's horizon past it, waiting `lock_timeout` seconds at most for
    the table's lock (then asyncpg.LockNotAvailableError). The quote log's hours are settled into the
    rollups first (under the rollup job's lock, held until the drop commits), so no recompute ever
    reads them again: analytics reads those hours from the rollups alone (partition_horizons)."""
    if part.table == "quote_log":
        async with rollups.lock(conn):
            hours: list[datetime] = [
                r["hour"]
                for r in await conn.fetch(
                    "SELECT DISTINCT hour FROM rollup_dirty WHERE kind = 'pricing' AND hour < $1 ORDER BY hour", part.hi
                )
            ]
            if hours:
                await rollups.settle(conn, hours)
            await _drop(conn, part, lock_timeout)
    else:
        await _drop(conn, part, lock_timeout)
    PARTITIONS_DROPPED.labels(part.table).inc()
    PARTITION_BYTES_DROPPED.labels(part.table).inc(part.bytes)
    log.info("partition_dropped", table=part.table, partition=part.name, rows=part.rows, bytes=part.bytes)


async def _drop(conn: Connection, part: Partition, lock_timeout: float) -> None:
    async with conn.transaction():
        await _wait_for_locks(conn, lock_timeout)
        await conn.execute(f'DROP TABLE "{part.name}"')
        await conn.execute(
            "INSERT INTO partition_horizons (table_name, dropped_before) VALUES ($1, $2)"
            " ON CONFLICT (table_name) DO UPDATE SET dropped_before = greatest(partition_horizons.dropped_before,"
            " excluded.dropped_before)",
            part.table,
            part.hi,
        )


@dataclass
class Pass:
    """What one lifecycle pass did (or, dry, would do)."""

    created: dict[str, int]
    dropped: list[Partition]
    held: list[Drop]
    failed: list[tuple[Partition, str]]
    """Partitions past retention not dropped, and why (their table busy: the next pass tries again)."""
    busy: dict[str, str] = field(default_factory=dict)
    """Tables whose partitions ahead were not made now, and why (the next pass tries again)."""
    strays: dict[str, int] = field(default_factory=dict)
    """Dry: rows the default partitions hold that a real pass would move into partitions of their own
    and keep (those it would drop at once are listed in `dropped`)."""


async def apply(
    conn: Connection,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Callable[[Partition], None] | None = None,
    wait: bool = True,
) -> Pass | None:
    """One pass under the lifecycle lock: partitions ahead, then retention. Dry: changes nothing and
    reports what would be dropped. A table whose lock is not granted within RETENTION_LOCK_TIMEOUT
    is left alone for the rest of the pass (its writers wait no longer than that) and reported; the
    next pass tries again. `wait=False`: None at once when another process's pass holds the lock."""
    if wait:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    elif not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
        return None
    try:
        created, busy = ({}, {}) if dry_run else await ensure(conn, settings, now)
        result = Pass(created, [], [], [], busy)
        drops = await plan(conn, settings, now)
        if dry_run:  # what a real pass would first move out of the default partitions, then drop
            drops += await _strays(conn, settings, now, result.strays)
        busy = dict(busy)  # tables not to make writers wait on again in this pass
        for item in drops:
            if not dry_run:  # judged again now: a drop before it may have freed it (deliveries before events)
                item = Drop(item.partition, await _held(conn, item.partition))
            if item.held:
                result.held.append(item)
                continue
            if not dry_run:
                table = item.partition.table
                if table in busy:
                    result.failed.append((item.partition, busy[table]))
                    continue
                try:
                    await drop(conn, item.partition, lock_timeout=settings.retention_lock_timeout)
                except asyncpg.LockNotAvailableError:
                    busy[table] = _busy(settings.retention_lock_timeout)
                    result.failed.append((item.partition, busy[table]))
                    log.warning("partition_table_busy", table=table, step="drop", partition=item.partition.name)
                    continue
                except asyncpg.PostgresError as exc:  # the next pass tries again
                    result.failed.append((item.partition, repr(exc)))
                    log.warning("partition_drop_failed", partition=item.partition.name, error=repr(exc))
                    continue
            result.dropped.append(item.partition)
            if progress is not None:
                progress(item.partition)
        return result
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)

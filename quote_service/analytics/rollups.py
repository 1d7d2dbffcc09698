"""Hourly rollups of the quote log and of orders, kept current in the background.

Triggers (migration 0016) mark every hour a write touches in `rollup_dirty`. The job
(`RollupJob.tick`, every few seconds in every process, one process at a time thanks to an
advisory lock) recomputes each marked hour that has closed, from the raw rows, and then removes
exactly the marks it had read before the recompute — by id, never "every id up to the newest":
ids come from a sequence, and sequence order is not commit order (a writer that drew a lower id
may commit after the recompute read the hour; its mark must survive for the next pass). A mark
commits with the rows that made it, so every mark the job read belongs to rows its later
recompute saw; a mark it did not read stays. Readers
(`analytics.service`) read rollup rows for clean closed hours and compute the others (marked
hours, the current hour) live with the very same SQL, so an answer is exact whether or not the
job has caught up.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

import structlog

from quote_service.background import BackgroundLoop
from quote_service.clock import utcnow
from quote_service.db.pool import Connection, Pool

log = structlog.get_logger("quote_service.analytics")

HOUR = timedelta(hours=1)
ROWS_SETTINGS = "SET LOCAL jit = off; SET LOCAL plan_cache_mode = force_custom_plan"
"""Set in the transaction of every run of the rows SQL. The planner guesses a ninth of the table for each
span of a range join, so a report's many spans price the statement high enough for PostgreSQL's JIT to
compile it (about a second, for a read of milliseconds); and a generic plan, which sees `$3`/`$4` as a
narrow range, is priced below such custom plans and chosen after five runs, but scans the whole period
once per span."""
RAW_HORIZON = (
    "COALESCE((SELECT dropped_before FROM partition_horizons WHERE table_name = 'quote_log'"
    " AND $1 = 'pricing'), '-infinity'::timestamptz)"
)
"""SQL of the time before which retention dropped the quote log's raw rows (docs/data-lifecycle.md), for
the kind in `$1`: its rollups were settled before the drop and are the only record of those hours, so a
mark there (a late refund of an old order) is cleared without a recompute, and reports read them from the
rollups. Orders are never dropped: the commission kind has no horizon."""
# Any 64-bit constant of our own: the one job that may recompute at a time.
_LOCK_KEY = 0x51_0A_7E_C0_11_0B_00_01
_LONG = 3600.0  # client-side timeout of a recompute (the server's statement_timeout is lifted too)

# $1/$2: the spans' starts and ends (timestamptz[], disjoint; `span_args`): whole hours for the rollups,
# and for a report also the parts of an hour that a day's bound cuts; $3/$4: the first start and the last
# end. Each span is its own range scan of the created_at index (a range join is a nested loop), and `hour`
# is the span's start. $3/$4 say nothing the spans do not; they give the planner the rows to expect (it
# guesses a ninth of the table for a range join's every span, and would plan one hour as a scan of all
# order lines).
# quote_log's lines are [product_id, category_id, seller_id, quantity, unit_price, line_subtotal,
# discount, price_source] and, for a tax-inclusive line, the tax it contains (docs/markets.md: revenue
# is goods after discounts without tax), its applied_rules [rule_id, type, version, amount] (migration 0015);
# delivery_city/country and flags (the keys of the flags on) are from migration 0045.
PRICING_ROWS = """
WITH q AS (
    SELECT ql.quote_id, ql.customer_id, ql.currency, ql.lines, ql.applied_rules, ql.experiments, ql.flags,
           COALESCE(initcap(btrim(ql.delivery_city)) || ', ' || upper(btrim(ql.delivery_country)), '') AS region,
           span.lo AS hour,
           o.id IS NOT NULL AS ordered, o.id AS order_id,
           COALESCE(o.subtotal - o.discount_amount - o.tax_included, 0) - COALESCE(rf.refunds, 0) AS revenue,
           COALESCE(o.discount_amount, 0) AS discount,
           COALESCE(rf.refunds, 0) AS refunds
    FROM unnest($1::timestamptz[], $2::timestamptz[]) AS span(lo, hi)
    JOIN quote_log ql ON ql.created_at >= span.lo AND ql.created_at < span.hi
                     AND ql.created_at >= $3 AND ql.created_at < $4
    LEFT JOIN orders o ON o.quote_id = ql.quote_id
    -- The goods given back by the order's refunds (after their share of the discount). An edited order's
    -- totals are its current revision's: the refund that paid an edit's difference back is in them already.
    LEFT JOIN LATERAL (SELECT sum(r.amount - r.discount - r.tax_included) AS refunds
                       FROM refunds r WHERE r.order_id = o.id AND r.kind <> 'edit') rf ON true
), quote_lines AS (
    SELECT q.hour, q.currency, q.quote_id, q.ordered, q.order_id,
           l->>0 AS product_id, COALESCE(l->>1, '') AS category_id,
           (l->>5)::numeric AS sub, (l->>6)::numeric AS disc, COALESCE((l->>8)::numeric, 0) AS included,
           row_number() OVER (PARTITION BY q.quote_id, l->>0 ORDER BY n) AS nth
    FROM q, jsonb_array_elements(q.lines) WITH ORDINALITY AS x(l, n)
), lines AS (  -- a product's refunds counted once per order, on its first line
    SELECT ql.*, CASE WHEN ql.ordered AND ql.nth = 1 THEN COALESCE(
               (SELECT sum(rl.amount - rl.discount - CASE WHEN rl.prices_include_tax THEN rl.tax ELSE 0 END)
                FROM refund_lines rl
                WHERE rl.order_id = ql.order_id AND rl.product_id = ql.product_id), 0) ELSE 0 END AS refunds
    FROM quote_lines ql
), rules AS (
    SELECT q.hour, q.currency, q.quote_id, q.ordered, q.revenue, q.discount, q.refunds,
           COALESCE(r->>0, r->>1) AS key, sum((r->>3)::numeric) AS amount
    FROM q, jsonb_array_elements(q.applied_rules) r
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
), variants AS (
    SELECT q.hour, q.currency, q.ordered, q.revenue, q.discount, q.refunds, e.key || ':' || e.value AS key
    FROM q, jsonb_each_text(q.experiments) e
), flags AS (
    SELECT q.hour, q.currency, q.ordered, q.revenue, q.discount, q.refunds, f AS key FROM q, unnest(q.flags) f
)
SELECT hour, 'all' AS dim, '' AS key, currency, count(*) AS quotes,
       count(*) FILTER (WHERE ordered) AS orders, sum(revenue) AS revenue, sum(discount) AS discount,
       0::numeric AS rule_amount, sum(refunds) AS refunds
FROM q GROUP BY hour, currency
UNION ALL
SELECT hour, 'product', product_id, currency, count(DISTINCT quote_id),
       count(DISTINCT quote_id) FILTER (WHERE ordered),
       COALESCE(sum(sub - disc - included) FILTER (WHERE ordered), 0) - sum(refunds),
       COALESCE(sum(disc) FILTER (WHERE ordered), 0), 0, sum(refunds)
FROM lines GROUP BY hour, product_id, currency
UNION ALL
SELECT hour, 'category', category_id, currency, count(DISTINCT quote_id),
       count(DISTINCT quote_id) FILTER (WHERE ordered),
       COALESCE(sum(sub - disc - included) FILTER (WHERE ordered), 0) - sum(refunds),
       COALESCE(sum(disc) FILTER (WHERE ordered), 0), 0, sum(refunds)
FROM lines GROUP BY hour, category_id, currency
UNION ALL
SELECT hour, 'rule', key, currency, count(*), count(*) FILTER (WHERE ordered),
       COALESCE(sum(revenue) FILTER (WHERE ordered), 0), COALESCE(sum(discount) FILTER (WHERE ordered), 0),
       sum(amount), COALESCE(sum(refunds) FILTER (WHERE ordered), 0)
FROM rules GROUP BY hour, key, currency
UNION ALL
SELECT hour, 'variant', key, currency, count(*), count(*) FILTER (WHERE ordered),
       COALESCE(sum(revenue) FILTER (WHERE ordered), 0), COALESCE(sum(discount) FILTER (WHERE ordered), 0), 0,
       COALESCE(sum(refunds) FILTER (WHERE ordered), 0)
FROM variants GROUP BY hour, key, currency
UNION ALL
SELECT hour, 'region', region, currency, count(*), count(*) FILTER (WHERE ordered),
       COALESCE(sum(revenue) FILTER (WHERE ordered), 0), COALESCE(sum(discount) FILTER (WHERE ordered), 0), 0,
       COALESCE(sum(refunds) FILTER (WHERE ordered), 0)
FROM q GROUP BY hour, region, currency
UNION ALL
SELECT hour, 'flag', key, currency, count(*), count(*) FILTER (WHERE ordered),
       COALESCE(sum(revenue) FILTER (WHERE ordered), 0), COALESCE(sum(discount) FILTER (WHERE ordered), 0), 0,
       COALESCE(sum(refunds) FILTER (WHERE ordered), 0)
FROM flags GROUP BY hour, key, currency
"""

VARIANT_CUSTOMERS = """
INSERT INTO rollup_variant_customers (flag_key, variant, customer_id)
SELECT DISTINCT e.key, e.value, ql.customer_id
FROM unnest($1::timestamptz[], $2::timestamptz[]) AS span(lo, hi)
JOIN quote_log ql ON ql.created_at >= span.lo AND ql.created_at < span.hi
                 AND ql.created_at >= $3 AND ql.created_at < $4, jsonb_each_text(ql.experiments) e
ON CONFLICT DO NOTHING
"""

COMMISSION_ROWS = """
WITH o AS (
    SELECT orders.id, currency, span.lo AS hour, seller_commission,
           category_commission, logistics_commission, total_commission,
           subtotal - discount_amount - tax_included AS goods,
           COALESCE(rv.seller, 0) AS seller_reversed, COALESCE(rv.category, 0) AS category_reversed,
           COALESCE(rv.logistics, 0) AS logistics_reversed,
           COALESCE(fc.fees, 0) AS fees_commission, COALESCE(fr.fees, 0) + COALESCE(fo.fees, 0) AS fees_reversed
    FROM unnest($1::timestamptz[], $2::timestamptz[]) AS span(lo, hi)
    JOIN orders ON orders.created_at >= span.lo AND orders.created_at < span.hi
               AND orders.created_at >= $3 AND orders.created_at < $4
    -- The commission the order's refunds reversed, per part.
    LEFT JOIN LATERAL (SELECT sum(r.seller_commission) AS seller, sum(r.category_commission) AS category,
                              sum(r.logistics_commission) AS logistics
                       FROM refunds r WHERE r.order_id = orders.id AND r.kind <> 'edit') rv ON true
    -- Its named commission fees (docs/commission.md): charged, on its lines and once per shipment or order,
    -- and what its refunds reversed of them (a refund line's `commission_fees`, the fees charged once it reversed).
    LEFT JOIN LATERAL (SELECT sum(c.amount) AS fees FROM order_commissions c
                       WHERE c.order_id = orders.id AND c.retired_by IS NULL
                         AND c.dimension NOT IN ('seller', 'category', 'logistics')) fc ON true
    LEFT JOIN LATERAL (SELECT sum(f.value::numeric) AS fees
                       FROM refund_lines rl, jsonb_each_text(rl.commission_fees) f
                       WHERE rl.order_id = orders.id AND rl.commission_fees IS NOT NULL) fr ON true
    LEFT JOIN LATERAL (SELECT sum(c.amount) AS fees FROM order_commissions c JOIN refunds r ON r.id = c.refund_id
                       WHERE c.order_id = orders.id AND r.kind <> 'edit') fo ON true
), parts AS (
    SELECT o.hour, o.currency, c.order_id, c.dimension, c.amount, c.line_position, c.rate_id, c.seller_id
    FROM o JOIN order_commissions c ON c.order_id = o.id AND c.retired_by IS NULL  -- an edited order's revision
), attributed AS (  -- each part to the seller and category of the line it is on (never found by product id)
    -- (a fee charged once per shipment or order: to the seller it is charged to, no category)
    SELECT p.hour, p.currency, p.order_id, p.dimension, p.amount, 0::numeric AS goods,
           COALESCE(l.seller_id, p.seller_id, '') AS seller_id, COALESCE(l.category_id, '') AS category_id,
           0::numeric AS rs, 0::numeric AS rc, 0::numeric AS rl, 0::numeric AS rf
    FROM parts p LEFT JOIN order_lines l ON l.order_id = p.order_id AND l.position = p.line_position
    UNION ALL  -- each line's goods (after its coupon discount), with no commission part
    SELECT o.hour, o.currency, l.order_id, NULL, 0,
           l.line_subtotal - l.discount - CASE WHEN l.prices_include_tax THEN l.tax ELSE 0 END,
           COALESCE(l.seller_id, ''), COALESCE(l.category_id, ''), 0, 0, 0, 0
    FROM o JOIN order_lines l ON l.order_id = o.id AND l.retired_by IS NULL
    UNION ALL  -- the line commission its refunds reversed, named fees included
    SELECT o.hour, o.currency, l.order_id, NULL, 0, 0, COALESCE(l.seller_id, ''), COALESCE(l.category_id, ''),
           rf.seller_commission, rf.category_commission, 0,
           COALESCE((SELECT sum(f.value::numeric) FROM jsonb_each_text(rf.commission_fees) f), 0)
    FROM o JOIN refund_lines rf ON rf.order_id = o.id
    JOIN order_lines l ON l.order_id = rf.order_id AND l.position = rf.position
    UNION ALL  -- the logistics commission a refund reversed (per order, like its charge: key '')
    SELECT o.hour, o.currency, o.id, NULL, 0, 0, '', '', 0, 0, o.logistics_reversed, 0
    FROM o WHERE o.logistics_reversed <> 0
    UNION ALL  -- a fee charged once per shipment or order that a refund reversed: its seller's
    SELECT o.hour, o.currency, o.id, NULL, 0, 0, COALESCE(c.seller_id, ''), '', 0, 0, 0, c.amount
    FROM o JOIN order_commissions c ON c.order_id = o.id JOIN refunds r ON r.id = c.refund_id AND r.kind <> 'edit'
), provider AS (
    SELECT p.order_id, max(cr.logistics_provider) AS provider
    FROM parts p JOIN commission_rates cr ON cr.id = p.rate_id
    WHERE p.dimension = 'logistics' GROUP BY p.order_id
)
SELECT hour, 'all' AS dim, '' AS key, currency, count(*) AS orders, sum(seller_commission) AS seller_commission,
       sum(category_commission) AS category_commission, sum(logistics_commission) AS logistics_commission,
       sum(total_commission) AS total_commission, sum(goods) AS goods, sum(seller_reversed) AS seller_reversed,
       sum(category_reversed) AS category_reversed, sum(logistics_reversed) AS logistics_reversed,
       sum(seller_reversed + category_reversed + logistics_reversed + fees_reversed) AS total_reversed,
       sum(fees_commission) AS fees_commission, sum(fees_reversed) AS fees_reversed
FROM o GROUP BY hour, currency
UNION ALL
SELECT hour, 'seller', seller_id, currency, count(DISTINCT order_id),
       COALESCE(sum(amount) FILTER (WHERE dimension = 'seller'), 0),
       COALESCE(sum(amount) FILTER (WHERE dimension = 'category'), 0),
       COALESCE(sum(amount) FILTER (WHERE dimension = 'logistics'), 0), sum(amount), sum(goods),
       sum(rs), sum(rc), sum(rl), sum(rs + rc + rl + rf),
       COALESCE(sum(amount) FILTER (WHERE dimension NOT IN ('seller', 'category', 'logistics')), 0), sum(rf)
FROM attributed GROUP BY hour, seller_id, currency
UNION ALL
SELECT hour, 'category', category_id, currency, count(DISTINCT order_id),
       COALESCE(sum(amount) FILTER (WHERE dimension = 'seller'), 0),
       COALESCE(sum(amount) FILTER (WHERE dimension = 'category'), 0),
       COALESCE(sum(amount) FILTER (WHERE dimension = 'logistics'), 0), sum(amount), sum(goods),
       sum(rs), sum(rc), sum(rl), sum(rs + rc + rl + rf),
       COALESCE(sum(amount) FILTER (WHERE dimension NOT IN ('seller', 'category', 'logistics')), 0), sum(rf)
FROM attributed GROUP BY hour, category_id, currency
UNION ALL
SELECT o.hour, 'logistics_provider', COALESCE(pv.provider, ''), o.currency, count(*), sum(seller_commission),
       sum(category_commission), sum(logistics_commission), sum(total_commission), sum(goods),
       sum(seller_reversed), sum(category_reversed), sum(logistics_reversed),
       sum(seller_reversed + category_reversed + logistics_reversed + fees_reversed), sum(fees_commission),
       sum(fees_reversed)
FROM o LEFT JOIN provider pv ON pv.order_id = o.id GROUP BY o.hour, COALESCE(pv.provider, ''), o.currency
"""

PRICING_FIGURES = ("quotes", "orders", "revenue", "discount", "rule_amount", "refunds")
COMMISSION_FIGURES = (
    "orders",
    "seller_commission",
    "category_commission",
    "logistics_commission",
    "total_commission",
    "goods",
    "seller_reversed",
    "category_reversed",
    "logistics_reversed",
    "total_reversed",
    "fees_commission",
    "fees_reversed",
)


class Kind:
    """One family of rollups: its hourly and daily tables, its figures, the SQL of its rows."""

    def __init__(self, name: str, figures: tuple[str, ...], rows_sql: str) -> None:
        self.name = name
        self.hourly = f"rollup_{name}_hourly"
        self.daily = f"rollup_{name}_daily"
        self.figures = figures
        self.rows_sql = rows_sql
        self.sums = ", ".join(f"sum({f})" for f in figures)


KINDS = {
    "pricing": Kind("pricing", PRICING_FIGURES, PRICING_ROWS),
    "commission": Kind("commission", COMMISSION_FIGURES, COMMISSION_ROWS),
}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def span_args(
    spans: list[tuple[datetime, datetime]],
) -> tuple[list[datetime], list[datetime], datetime, datetime]:
    """The rows SQL's $1..$4 for disjoint spans [from, to)."""
    starts, ends = [a for a, _ in spans], [b for _, b in spans]
    return starts, ends, min(starts), max(ends)


def hour_args(hours: list[datetime]) -> tuple[list[datetime], list[datetime], datetime, datetime]:
    """The rows SQL's $1..$4 for a set of whole hours."""
    return span_args([(hour, hour + HOUR) for hour in hours])


async def recompute(conn: Connection, kind: str, hours: list[datetime]) -> None:
    """Replace the rollup rows of `hours`, and of their days, by what the raw rows say now (one
    transaction)."""
    k = KINDS[kind]
    days = sorted({h.astimezone(UTC).date() for h in hours})
    figures = ", ".join(k.figures)
    async with conn.transaction():
        await conn.execute("SET LOCAL statement_timeout = 0")
        # A day's lines sort in memory, not in temporary files (one recompute at a time).
        await conn.execute("SET LOCAL work_mem = '64MB'")
        await conn.execute(ROWS_SETTINGS)
        await conn.execute(f"DELETE FROM {k.hourly} WHERE hour = ANY($1::timestamptz[])", hours, timeout=_LONG)
        await conn.execute(
            f"INSERT INTO {k.hourly} (hour, dim, key, currency, {figures}) {k.rows_sql}",
            *hour_args(hours),
            timeout=_LONG,
        )
        await conn.execute(f"DELETE FROM {k.daily} WHERE day = ANY($1::date[])", days, timeout=_LONG)
        await conn.execute(
            f"INSERT INTO {k.daily} (day, dim, key, currency, {figures})"
            f" SELECT (hour AT TIME ZONE 'UTC')::date, dim, key, currency, {k.sums} FROM {k.hourly}"
            " WHERE hour >= $2 AND hour < $3 AND (hour AT TIME ZONE 'UTC')::date = ANY($1::date[])"
            " GROUP BY 1, 2, 3, 4",
            days,
            _midnight(days[0]),
            _midnight(days[-1]) + timedelta(days=1),
            timeout=_LONG,
        )
        if kind == "pricing":
            await conn.execute(VARIANT_CUSTOMERS, *hour_args(hours), timeout=_LONG)
    # After the commit: a reader that sees the new generation reads the new rows. setval writes the
    # exact value to the WAL: a streaming replica (where reports may be read, docs/deployment.md)
    # sees nextval's value only as logged up to 32 ahead, unchanged by most rewrites. Rewrites run
    # under the rollup lock, so no other nextval comes in between.
    await conn.execute("SELECT setval('rollup_generation', nextval('rollup_generation'))")


class RollupJob(BackgroundLoop):
    """Recomputes closed dirty hours; `tick` is one pass (tests call it with their own clock)."""

    task_name = "analytics-rollups"
    failure_event = "rollup_tick_failed"

    def __init__(
        self, pool: Pool, *, interval: float = 5.0, batch: int = 24, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.pool = pool
        self.interval = interval
        self.batch = batch
        self.clock = clock

    async def tick(self) -> int:
        """One pass: how many (kind, hour) marks it cleared; 0 when another process holds the lock."""
        current = hour_of(self.clock())
        cleared = 0
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
                return 0
            try:
                for kind in KINDS:
                    await conn.execute(f"DELETE FROM rollup_dirty WHERE kind = $1 AND hour < {RAW_HORIZON}", kind)
                marks = await conn.fetch(
                    "SELECT kind, hour, array_agg(id) AS ids FROM rollup_dirty WHERE hour < $1"
                    " GROUP BY kind, hour ORDER BY hour LIMIT $2",
                    current,
                    self.batch,
                )
                for mark in marks:
                    await recompute(conn, mark["kind"], [mark["hour"]])
                    cleared += await clear_marks(conn, mark["ids"]) > 0
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        return cleared

    async def run_pass(self) -> None:
        while await self.tick() >= self.batch:  # catching up: no pause between batches
            pass


async def clear_marks(conn: Connection, ids: list[int]) -> int:
    """Delete the marks a recompute had read before it started (never a mark it did not read:
    see the module docstring); how many were still there."""
    status = await conn.execute("DELETE FROM rollup_dirty WHERE id = ANY($1::bigint[])", ids, timeout=_LONG)
    return int(status.rpartition(" ")[2])


async def settle(conn: Connection, hours: list[datetime]) -> None:
    """Recompute both kinds of rollups for `hours` from the raw rows and clear the marks read
    before (a write meanwhile leaves its mark for the job). The caller holds the job's advisory
    lock (`lock`), so the job does not recompute the same hours meanwhile."""
    for kind in KINDS:
        ids: list[int] = await conn.fetchval(
            "SELECT array_agg(id) FROM rollup_dirty WHERE kind = $1 AND hour = ANY($2::timestamptz[])", kind, hours
        )
        await recompute(conn, kind, hours)
        if ids:
            await clear_marks(conn, ids)


@contextlib.asynccontextmanager
async def lock(conn: Connection) -> AsyncIterator[None]:
    """Hold the rollup job's advisory lock on `conn` (waits for a running pass to finish)."""
    await conn.execute("SET lock_timeout = 0")
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY, timeout=_LONG)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        await conn.execute("RESET lock_timeout")


async def rebuild(pool: Pool, *, now: datetime) -> int:
    """Recompute every rollup from the raw tables (`quote-service rebuild-rollups`); hours rebuilt."""
    current = hour_of(now)
    total = 0
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL statement_timeout = 0")
                raw_since = await conn.fetchval(
                    "SELECT dropped_before FROM partition_horizons WHERE table_name = 'quote_log'"
                )
                if raw_since is None:
                    await conn.execute(
                        "TRUNCATE rollup_pricing_hourly, rollup_commission_hourly, rollup_pricing_daily,"
                        " rollup_commission_daily, rollup_variant_customers",
                        timeout=_LONG,
                    )
                else:  # the pricing rollups of hours whose raw rows are gone are their only record: kept
                    await conn.execute("TRUNCATE rollup_commission_hourly, rollup_commission_daily", timeout=_LONG)
                    await conn.execute("DELETE FROM rollup_pricing_hourly WHERE hour >= $1", raw_since, timeout=_LONG)
                    await conn.execute(
                        "DELETE FROM rollup_pricing_daily WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date",
                        raw_since,
                        timeout=_LONG,
                    )
                for kind, source in (("pricing", "quote_log"), ("commission", "orders")):
                    await conn.execute(
                        f"SELECT rollup_mark($1, ARRAY(SELECT DISTINCT date_trunc('hour', created_at, 'UTC')"
                        f" FROM {source}))",
                        kind,
                        timeout=_LONG,
                    )
            for kind in KINDS:
                marks = await conn.fetch(
                    "SELECT hour, array_agg(id) AS ids FROM rollup_dirty WHERE kind = $1 AND hour < $2"
                    " GROUP BY hour ORDER BY hour",
                    kind,
                    current,
                )
                for start in range(0, len(marks), 168):  # a week per statement
                    chunk = marks[start : start + 168]
                    await recompute(conn, kind, [m["hour"] for m in chunk])
                    # A mark added meanwhile (or committed late) stays, for the job.
                    await clear_marks(conn, [i for m in chunk for i in m["ids"]])
                total += len(marks)
            await conn.execute(
                "ANALYZE rollup_pricing_hourly, rollup_commission_hourly,"
                " rollup_pricing_daily, rollup_commission_daily",
                timeout=_LONG,
            )
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return total

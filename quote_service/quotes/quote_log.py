"""The quote log: one lean row per answered quote in PostgreSQL's `quote_log`, written behind the
requests in batches (analytics reads it; the quote path never does).

A row is made and encoded with its quote, and queued by the request once Redis acknowledged the
quote (a quote that was not answered is not logged). `QuoteLogWriter`, a background loop, writes a
batch every LOG_INTERVAL seconds as one statement, INSERT ... SELECT from the batch as one JSON
array (its rows' JSON, each encoded by msgspec in C) ... ON CONFLICT DO NOTHING, so a batch whose
acknowledgement was lost is written again without duplicates. While PostgreSQL is away a failed
write is the loop's counted failure: the batch stays queued and the pause doubles (up to
MAX_BACKOFF_SECONDS), one log line per doubling. Lossy only on a crash: a
killed process loses the rows not yet written (docs/hot-path.md#what-a-crash-can-lose). Beyond
the backlog's bound rows are dropped and counted (`qs_quote_log_rows_dropped_total`, one warning
line per BACKLOG_WARNING_SECONDS). A row PostgreSQL refuses (a value out of a column's range) is
isolated, logged and counted (`qs_quote_log_rows_rejected_total`), and the rest of its batch
written: one bad row never stops the log (a row that cannot even be encoded as JSON is left out,
logged and counted when it is made). `stop()` drains the backlog.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import asyncpg
import msgspec
import structlog

from quote_service.background import BackgroundLoop
from quote_service.db.pool import Connection, Pool
from quote_service.ids import uuid_text
from quote_service.observability.metrics import QUOTE_LOG_ROWS_DROPPED, QUOTE_LOG_ROWS_REJECTED
from quote_service.pricing.quote import Quote

log = structlog.get_logger("quote_service.quotes.quote_log")

_ENCODER = msgspec.json.Encoder()
_LOG_COLUMNS = (
    "quote_id", "customer_id", "currency", "subtotal", "discount_amount", "tax_amount", "delivery_fee",
    "small_basket_fee", "total_amount", "total_commission", "seller_commission", "category_commission",
    "logistics_commission", "item_count", "config_version", "lines", "applied_rules", "coupon_codes",
    "experiments", "caller_kind", "caller_id", "created_at", "valid_until", "delivery_city", "delivery_country",
    "flags", "forced_experiments",
)  # fmt: skip
LOG_INTERVAL = 0.2
LOG_BATCH = 1000
MAX_BACKOFF_SECONDS = 5.0
"""The longest pause between two writes while PostgreSQL keeps failing them."""
MAX_LOG_BACKLOG = 100_000
BACKLOG_WARNING_SECONDS = 10.0
"""At most one `quote_log_backlog_full` line per this many seconds, however many rows are dropped."""


UNSTORABLE = (
    asyncpg.DataError,  # 22xxx: numeric overflow, invalid text, a NUL byte, ...
    asyncpg.IntegrityConstraintViolationError,  # 23xxx: a NOT NULL or CHECK the row breaks
)
"""A batch that fails with one of these holds a row PostgreSQL will never take: writing it again
cannot help, so the batch is split to find it. Anything else (connection lost, server restarting)
is retried as it is."""
_JSONB = frozenset({"lines", "applied_rules", "experiments", "forced_experiments"})
_TEXT_ARRAYS = frozenset({"coupon_codes", "flags"})
_CASTS = {
    "quote_id": "uuid", "item_count": "integer", "config_version": "bigint",
    "created_at": "timestamptz", "valid_until": "timestamptz",
    **{name: "numeric" for name in _LOG_COLUMNS if name.endswith(("_amount", "subtotal", "_fee", "_commission"))},
}  # fmt: skip


def _column(position: int, name: str) -> str:
    """The SQL reading column `name` from a row (`r`, a JSON array in the order of _LOG_COLUMNS)."""
    if name in _JSONB:
        return f"r->{position}"
    if name in _TEXT_ARRAYS:
        return f"ARRAY(SELECT jsonb_array_elements_text(r->{position}))"
    cast = _CASTS.get(name)
    return f"(r->>{position})::{cast}" if cast else f"r->>{position}"


# One statement per batch: the rows arrive as one JSON array of arrays, each row encoded by msgspec
# (in C) when its quote is made, the batch their concatenation (asyncpg's COPY encoded each value of
# each row through its codecs, jsonb's in Python: ~18 µs a row of the worker's CPU; PostgreSQL
# parses the JSON instead, docs/hot-path.md). jsonb, not json: `->` on a json value parses its text
# again for every column taken from it.
_INSERT = (
    f"INSERT INTO quote_log ({', '.join(_LOG_COLUMNS)}) "
    f"SELECT {', '.join(_column(i, name) for i, name in enumerate(_LOG_COLUMNS))} "
    "FROM jsonb_array_elements(convert_from($1::bytea, 'UTF8')::jsonb) AS r "
    "ON CONFLICT (quote_id) DO NOTHING"
)


LogValues = tuple[object, ...]
"""A row's column values in the order of _LOG_COLUMNS (the jsonb ones as lists, dicts or `msgspec.Raw`)."""
LogRow = tuple[str, bytes]
"""A row as the backlog holds it: its quote id as text (for the log line of a row PostgreSQL
refuses) and its values encoded as one JSON array. Bytes and a string: the garbage collector
does not track it, and writing a batch is a concatenation."""


class QuoteLogWriter(BackgroundLoop):
    """The backlog of rows to write and the loop that writes them; one per process (the store's)."""

    task_name = "quote-log"
    failure_event = "quote_log_write_failed"
    interval = LOG_INTERVAL
    jitter = 0.0
    max_backoff = MAX_BACKOFF_SECONDS
    finish_pass_on_stop = True
    """Cancelling a write mid-statement left it unknown whether the batch had committed."""

    def __init__(
        self,
        pool: Pool,
        *,
        interval: float = LOG_INTERVAL,
        batch: int = LOG_BATCH,
        backlog: int = MAX_LOG_BACKLOG,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self.interval = interval
        self._batch = batch
        self._limit = backlog
        self._monotonic = monotonic
        """The clock of the backlog-full warning's interval (tests move it)."""
        self._dropped = 0
        """Rows dropped since the last backlog-full warning line."""
        self._next_warning = float("-inf")
        self.backlog: list[LogRow] = []

    def queue(self, rows: list[LogRow]) -> None:
        """Queue the rows of quotes now stored in Redis; past the bound, drop and count the rest."""
        room = max(0, self._limit - len(self.backlog))
        if len(rows) <= room:
            self.backlog += rows
            return
        self.backlog += rows[:room]
        dropped = len(rows) - room
        QUOTE_LOG_ROWS_DROPPED.inc(dropped)
        self._dropped += dropped
        now = self._monotonic()
        if now >= self._next_warning:  # one line per interval, not one per quote
            log.warning("quote_log_backlog_full", dropped=self._dropped, backlog=len(self.backlog))
            self._dropped = 0
            self._next_warning = now + BACKLOG_WARNING_SECONDS

    async def run_pass(self) -> None:
        await self.write_batch()

    async def drain(self) -> None:
        """Write what is left (a graceful stop loses nothing while PostgreSQL answers)."""
        while self.backlog:
            try:
                await self.write_batch()
            except Exception as exc:  # PostgreSQL away at shutdown: what is left is lost, and said so
                log.warning("quote_log_not_drained", rows=len(self.backlog), error=repr(exc))
                return

    async def write_batch(self) -> None:
        """Write one batch (it stays queued when PostgreSQL fails, and the error is raised)."""
        batch = self.backlog[: self._batch]
        if not batch:
            return
        rejected: list[LogRow] = []
        try:
            async with self._pool.acquire() as conn:
                await write_isolating(conn, batch, rejected)
        except Exception:
            if rejected:  # an outage cut the search short: what was rejected stays out of the retry
                gone = {id(row) for row in rejected}
                self.backlog[: len(batch)] = [row for row in batch if id(row) not in gone]
            raise
        del self.backlog[: len(batch)]


async def write_isolating(conn: Connection, rows: list[LogRow], rejected: list[LogRow]) -> None:
    """`write_log_rows`, leaving out each row PostgreSQL cannot store: logged, counted, added to `rejected`.

    A batch refused for its data is halved until the refused rows stand alone: one bad row among
    1,000 costs about 20 more writes, once. Rows written before an outage interrupts the search
    are written again harmlessly with the retried batch (the write is idempotent)."""
    try:
        await write_log_rows(conn, rows)
    except UNSTORABLE as exc:
        if len(rows) > 1:
            half = len(rows) // 2
            await write_isolating(conn, rows[:half], rejected)
            await write_isolating(conn, rows[half:], rejected)
            return
        rejected.append(rows[0])
        QUOTE_LOG_ROWS_REJECTED.inc()
        log.error("quote_log_row_rejected", quote_id=rows[0][0], error=f"{type(exc).__name__}: {exc}")


async def write_log_rows(conn: Connection, rows: list[LogRow]) -> None:
    """Insert quote-log rows idempotently: rows already present are skipped, the others written.

    A batch is retried until PostgreSQL acknowledges it, and an acknowledgement can be lost after
    the commit (connection dropped, server restarted): the retry then meets rows already stored,
    which ON CONFLICT DO NOTHING skips. One statement, so the batch is written whole or not at all.
    """
    await conn.execute(_INSERT, b"[%s]" % b",".join([encoded for _, encoded in rows]))


def encode_row(values: LogValues) -> LogRow | None:
    """The row of `values` (its first the quote id as text) as the backlog holds it; None, logged
    and counted as rejected, when a value cannot be written as JSON (a type msgspec does not know,
    a lone surrogate: a bug in the row, never an outage; the quote itself is still answered)."""
    quote_id = str(values[0])
    try:
        return quote_id, _ENCODER.encode(values)
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        QUOTE_LOG_ROWS_REJECTED.inc()
        log.error("quote_log_row_rejected", quote_id=quote_id, error=f"{type(exc).__name__}: {exc}")
        return None


def log_row(
    q: Quote,
    caller: tuple[str, str] | None = None,
    delivery: tuple[str, str] | None = None,
    *,
    quote_id: str | None = None,
) -> LogRow | None:
    """The quote's lean quote-log row, encoded (`encode_row`; `quote_id`: its id as text, when the
    caller has it already). Made in the request, right after the quote, while the quote's values
    are still in the CPU's caches: encoded there once it costs less than its values did as a tuple
    encoded later with the batch (docs/hot-path.md#the-quote-log-one-json-document-per-batch)."""
    return encode_row(log_values(q, caller, delivery, quote_id=quote_id))


def log_values(
    q: Quote,
    caller: tuple[str, str] | None = None,
    delivery: tuple[str, str] | None = None,
    *,
    quote_id: str | None = None,
) -> LogValues:
    """The lean quote-log row's values: totals as columns, lines, rules and variants as small JSON
    arrays (positions in migrations/0015_lean_quote_log.sql), the delivery city and country and the
    keys of the flags on (migration 0045), never the whole response."""
    breakdown = q.commission_breakdown
    # Forced variants (context.ab_test_group) are kept apart: the experiment statistics read `experiments`.
    exposures, forced = q.experiments, {}
    if q.forced_experiments:
        forced = {key: q.experiments[key] for key in q.forced_experiments}
        exposures = {key: variant for key, variant in q.experiments.items() if key not in forced}
    lines = [
        (
            i.product_id,
            i.category_id,
            i.seller_id,
            i.quantity,
            i.unit_price,
            i.line_subtotal,
            i.discount,
            i.price_source,
        )
        for i in q.items
    ]
    return (
        quote_id or uuid_text(q.quote_id),
        q.customer_id,
        q.currency,
        q.subtotal,
        q.discount_amount,
        q.tax_amount,
        q.delivery_fee,
        q.small_basket_fee,
        q.total_amount,
        breakdown.total_commission,
        breakdown.seller_commission,
        breakdown.category_commission,
        breakdown.logistics_commission,
        len(q.items),
        q.config_version,
        lines,
        [(r.rule_id, r.type, r.version, r.amount) for r in q.applied_rules],
        [c.code for c in q.applied_coupons],
        exposures,
        caller[0] if caller else None,
        caller[1] if caller else None,
        q.created_at,
        q.valid_until,
        delivery[0] if delivery else None,
        delivery[1] if delivery else None,
        list(q.feature_flags),  # the keys of the flags on
        forced,
    )

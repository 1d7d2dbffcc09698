"""The quote log: one lean row per answered quote in PostgreSQL's `quote_log`, written behind the
requests in batches (analytics and experiments read it; the quote path never does).

A row is made and encoded with its quote, and appended by the request to the process's spool
on local disk (quotes/spool.py) once Redis acknowledged the quote and before the answer leaves
(a quote that was not answered is not logged; one that was is on disk). `QuoteLogWriter`, a
background loop, reads the spool back every LOG_INTERVAL seconds and writes it in batches of
LOG_BATCH rows, each one statement, INSERT ... SELECT from the batch as one JSON array (its
rows' JSON, each encoded by msgspec in C) ... ON CONFLICT DO NOTHING, so a batch written twice
(its acknowledgement lost, a segment replayed) stores each row once. A segment is deleted once
every row of it is written. While PostgreSQL is away a failed write is the loop's counted
failure: the rows wait on disk and the pause doubles (up to MAX_BACKOFF_SECONDS), one log line
per doubling. What a process leaves in its spool — killed, or stopped while PostgreSQL was
down — is replayed by any process of the same database (at its start and every
ORPHAN_SCAN_SECONDS). Beyond MAX_SPOOL_BYTES of unwritten rows per process, rows are dropped
and counted (`qs_quote_log_rows_dropped_total`, one warning line per BACKLOG_WARNING_SECONDS).
A row PostgreSQL refuses (a value out of a column's range) is isolated, logged and counted
(`qs_quote_log_rows_rejected_total`), and the rest of its batch written: one bad row never
stops the log (a row that cannot even be encoded as JSON is left out, logged and counted when
it is made). `stop()` drains the spool into PostgreSQL when it can, and leaves it on disk when
it cannot.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, cast, get_args

import asyncpg
import msgspec
import structlog

from quote_service.background import BackgroundLoop
from quote_service.db.pool import Connection, Pool
from quote_service.event_loop import running_loop
from quote_service.ids import uuid_text
from quote_service.observability.metrics import (
    QUOTE_LOG_ROWS_DROPPED,
    QUOTE_LOG_ROWS_REJECTED,
    QUOTE_LOG_ROWS_REPLAYED,
    QUOTE_LOG_SPOOL_BYTES,
)
from quote_service.pricing.quote import Address, CustomerContext, Quote, QuoteItemIn, QuoteRequest, RequestContext
from quote_service.pricing.taxes import TaxExemption
from quote_service.quotes.spool import Segment, Spool

log = structlog.get_logger("quote_service.quotes.quote_log")

_ENCODER = msgspec.json.Encoder()
_LOG_COLUMNS = (
    "quote_id", "customer_id", "currency", "subtotal", "discount_amount", "tax_amount", "delivery_fee",
    "small_basket_fee", "total_amount", "total_commission", "seller_commission", "category_commission",
    "logistics_commission", "item_count", "config_version", "lines", "applied_rules", "coupon_codes",
    "experiments", "caller_kind", "caller_id", "created_at", "valid_until", "delivery_city", "delivery_country",
    "flags", "forced_experiments", "request",
)  # fmt: skip
LOG_INTERVAL = 0.2
LOG_BATCH = 1000
MAX_BACKOFF_SECONDS = 5.0
"""The longest pause between two writes while PostgreSQL keeps failing them."""
MAX_SPOOL_BYTES = 1 << 30
"""Unwritten rows a process keeps in its spool (1 GiB, ~1.4 million rows of ~750 bytes) before it drops new ones."""
ORPHAN_SCAN_SECONDS = 5.0
"""How often a process looks for segments left by processes that are gone."""
BACKLOG_WARNING_SECONDS = 10.0
"""At most one `quote_log_backlog_full` line per this many seconds, however many rows are dropped."""


UNSTORABLE = (
    asyncpg.DataError,  # 22xxx: numeric overflow, invalid text, a NUL byte, ...
    asyncpg.IntegrityConstraintViolationError,  # 23xxx: a NOT NULL or CHECK the row breaks
)
"""A batch that fails with one of these holds a row PostgreSQL will never take: writing it again
cannot help, so the batch is split to find it. Anything else (connection lost, server restarting)
is retried as it is."""
_JSONB = frozenset({"lines", "applied_rules", "experiments", "forced_experiments", "request"})
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
        # A JSON array of strings reads as an array literal once its outer brackets are braces (its
        # elements start and end with a quote); a subquery per row (jsonb_array_elements_text) cost
        # ~1 µs of PostgreSQL's CPU a column. A backslash (a JSON escape, which an array literal
        # reads differently) takes the subquery.
        value = f"(r->{position})::text"
        return (
            f"CASE WHEN strpos({value}, '\\') = 0 THEN ('{{' || btrim({value}, '[]') || '}}')::text[]"
            f" ELSE ARRAY(SELECT jsonb_array_elements_text(r->{position})) END"
        )
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
    # ON CONFLICT, not NOT EXISTS (SELECT ... FROM quote_log ...): PostgreSQL plans that as an anti-join
    # over every partition, a scan that grew with the table (PostgreSQL's CPU a quote 73 -> 153 µs
    # over five 8-second rounds, 2026-11-27).
    "ON CONFLICT (quote_id, created_at) DO NOTHING"  # the key of the partitioned table (migration 0600)
)


LogValues = tuple[object, ...]
"""A row's column values in the order of _LOG_COLUMNS (the jsonb ones as lists, dicts or `msgspec.Raw`)."""
LogRow = tuple[str, bytes]
"""A row as a request makes it: its quote id as text and its values encoded as one JSON array
(what the spool holds, one per line). Bytes and a string: the garbage collector does not track
it, and writing a batch is a concatenation."""


class QuoteLogWriter(BackgroundLoop):
    """The spool of rows to write and the loop that writes them; one per process (the store's)."""

    task_name = "quote-log"
    failure_event = "quote_log_write_failed"
    interval = LOG_INTERVAL
    jitter = 0.0
    max_backoff = MAX_BACKOFF_SECONDS
    start_at_once = True
    """The first pass replays what a previous process left (it also writes nothing twice)."""
    finish_pass_on_stop = True
    """Cancelling a write mid-statement left it unknown whether the batch had committed."""

    def __init__(
        self,
        pool: Pool,
        spool: Path,
        *,
        interval: float = LOG_INTERVAL,
        batch: int = LOG_BATCH,
        spool_limit: int = MAX_SPOOL_BYTES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._root = spool
        self.interval = interval
        self._batch = batch
        self._limit = spool_limit
        self._monotonic = monotonic
        """The clock of the backlog-full warning's interval and of the orphan scans (tests move it)."""
        self._dropped = 0
        """Rows dropped since the last backlog-full warning line."""
        self._next_warning = float("-inf")
        self._next_scan = float("-inf")
        self.spool: Spool | None = None
        self._sealed: list[Segment] = []
        self._waiting: list[LogRow] = []
        """Rows given to `spool_row` in this turn of the event loop."""
        self._batches = 0
        """`spool_row` batches written so far (the number of the one collecting rows now)."""
        self._refused: dict[int, OSError] = {}
        """The batches the disk refused lately, and how."""
        self._sealed_bytes = 0
        """The unwritten bytes of `_sealed` (this process's own) at the writer's last count."""
        self._writing = asyncio.Lock()
        """One writer of the segments at a time: the loop's pass, a drain, a store's `settle`."""
        """Segments closed to appends, this process's and adopted orphans, oldest first: written
        before the current segment is sealed again."""

    async def open(self) -> None:
        """Open this process's spool, in the directory of the database it writes to (once)."""
        if self.spool is not None:
            return
        async with self._pool.acquire() as conn:
            database = await database_id(conn)
        spool = Spool(self._root / database)
        spool.open()
        self.spool = spool  # only once open: a start that failed here can be tried again

    @property
    def pending_bytes(self) -> int:
        """Bytes of rows this process spooled that PostgreSQL does not hold yet."""
        if self.spool is None or self.spool.current is None:
            return 0
        return self.spool.current.size + self._sealed_unwritten()

    def _sealed_unwritten(self) -> int:
        """Bytes of this process's sealed segments not written yet (kept in `_sealed_bytes` for `queue`)."""
        self._sealed_bytes = sum(s.unwritten for s in self._sealed if s.rows)
        return self._sealed_bytes

    def queue(self, rows: list[LogRow]) -> None:
        """Append the rows of quotes now stored in Redis to the spool, before they are answered;
        past the spool's bound, drop and count them. Raises OSError when the disk refuses them."""
        spool = self.spool
        assert spool is not None, "the quote log is not open"
        assert spool.current is not None, "the quote log is not open"
        if len(rows) == 1:
            kept = [rows[0][1]]
            data = kept[0] + b"\n"
        else:
            kept = [encoded for _, encoded in rows]
            data = b"\n".join(kept) + b"\n"
        # The sealed segments' part is the writer's last count (it only shrinks between its passes).
        if spool.current.size + self._sealed_bytes + len(data) > self._limit:
            self._drop(len(rows))
            return
        spool.append(data, kept)

    async def spool_row(self, row: LogRow) -> None:
        """Append `row` to the spool with the other rows given in this turn of the event loop: one
        `write()` for the group commit's whole batch, not one per request. The requests its
        acknowledgement resumes are all queued to run already: each gives its row, the first schedules
        the write behind them, and each yields once, so that it runs again after the write (the event
        loop runs what is ready first in, first out). Raises the disk's OSError; a cancellation can only
        arrive in that yield, after the write, and is then absorbed (the row is on disk: answered)."""
        batch = self._batches
        if not self._waiting:
            running_loop().call_soon(self.flush_rows)
        self._waiting.append(row)
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            if batch in self._refused:
                raise
            # Cancelled in its one yield, after the write: the row is on disk, so its quote is answered
            # (a logged quote is an answered one), an instant past its deadline.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        refused = self._refused.get(batch)
        if refused is not None:
            raise refused

    def flush_rows(self) -> None:
        """Write the rows `spool_row` collected, with one `write()` (now: a stop, a settle)."""
        waiting, self._waiting = self._waiting, []
        batch = self._batches
        self._batches += 1
        if not waiting:
            return
        try:
            if self.spool is None:  # drained and closed: a request still running after the store stopped
                raise OSError(errno.ESHUTDOWN, "the quote log is closed: this process is stopping")
            self.queue(waiting)
        except OSError as exc:
            self._refuse(batch, exc)
        except Exception as exc:  # a bug: its rows are not on disk, so its quotes must not be answered
            log.error("quote_log_spool_failed", rows=len(waiting), exc_info=exc)
            refused = OSError(errno.EIO, f"the quote log could not keep the rows: {exc!r}")
            refused.__cause__ = exc
            self._refuse(batch, refused)

    def _refuse(self, batch: int, exc: OSError) -> None:
        """The batch's requests raise `exc` as they resume (`spool_row`): the store answers 503."""
        self._refused[batch] = exc
        while len(self._refused) > 64:  # its requests read it in their next turn: a few are enough
            del self._refused[next(iter(self._refused))]

    def _drop(self, count: int) -> None:
        QUOTE_LOG_ROWS_DROPPED.inc(count)
        self._dropped += count
        now = self._monotonic()
        if now >= self._next_warning:  # one line per interval, not one per quote
            log.warning("quote_log_backlog_full", dropped=self._dropped, spooled_bytes=self.pending_bytes)
            self._dropped = 0
            self._next_warning = now + BACKLOG_WARNING_SECONDS

    async def run_pass(self) -> None:
        if self._monotonic() >= self._next_scan:
            self._adopt_orphans()
            self._next_scan = self._monotonic() + ORPHAN_SCAN_SECONDS
        try:
            await self.write_pending()
        finally:
            QUOTE_LOG_SPOOL_BYTES.set(self.pending_bytes)

    def _adopt_orphans(self) -> None:
        if self.spool is None:
            return
        owned = {segment.path for segment in self._sealed}
        if self.spool.current is not None:
            owned.add(self.spool.current.path)
        found = self.spool.orphans(owned)
        if found:
            log.info("quote_log_spool_adopted", segments=len(found), bytes=sum(s.size for s in found))
        self._sealed += found

    async def drain(self) -> None:
        """Write what is spooled (a graceful stop leaves nothing behind while PostgreSQL answers);
        what PostgreSQL cannot take now stays on disk for the next process to replay."""
        if self.spool is None:
            return
        try:
            self._adopt_orphans()
            await self.write_pending()
        except Exception as exc:
            log.warning(
                "quote_log_spooled",
                bytes=self.pending_bytes,
                directory=str(self.spool.directory),
                error=repr(exc),
                detail="kept on disk; any process of this database writes it when it starts",
            )
        for segment in self._sealed:
            self.spool.release(segment)
        self._sealed = []
        self.spool.close()
        self.spool = None
        QUOTE_LOG_SPOOL_BYTES.set(0)

    async def write_pending(self) -> None:
        """Write every sealed segment, then seal the current one and write it (raises, with the
        rows left where they are, when PostgreSQL fails)."""
        self.flush_rows()
        async with self._writing:
            try:
                await self._write_pending()
            finally:
                self._sealed_unwritten()

    async def _write_pending(self) -> None:
        if self.spool is None:
            return
        for attempt in range(2):
            while self._sealed:
                segment = self._sealed[0]
                await self._write_segment(segment)
                self.spool.discard(segment)
                del self._sealed[0]
            if attempt == 0:
                sealed = self.spool.seal()
                if sealed is None:
                    return
                self._sealed.append(sealed)
                self._sealed_bytes += sealed.unwritten

    async def _write_segment(self, segment: Segment) -> None:
        assert self.spool is not None
        while True:
            rows, end = self.spool.read(segment, self._batch)
            if end == segment.offset:
                return
            if rows:
                rejected: list[bytes] = []
                try:
                    async with self._pool.acquire() as conn:
                        await write_isolating(conn, rows, rejected)
                except Exception:
                    segment.skip.update(rejected)  # an outage cut the search short: not again
                    raise
                if not segment.rows:
                    QUOTE_LOG_ROWS_REPLAYED.inc(len(rows))
            segment.offset = end


async def database_id(conn: Connection) -> str:
    """The id of the database (migration 0160), made when missing: each database's spool has
    a directory of its own."""
    while True:
        found = await conn.fetchval(
            "WITH made AS (INSERT INTO database_identity DEFAULT VALUES ON CONFLICT DO NOTHING RETURNING id) "
            "SELECT id FROM made UNION ALL SELECT id FROM database_identity LIMIT 1"
        )
        if found is not None:  # None: another process made it after this statement's snapshot
            return str(found)


async def write_isolating(conn: Connection, rows: list[bytes], rejected: list[bytes]) -> None:
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
        log.error("quote_log_row_rejected", quote_id=_quote_id(rows[0]), error=f"{type(exc).__name__}: {exc}")


def _quote_id(row: bytes) -> str:
    """The quote id a row starts with (for the log line of a row PostgreSQL refused)."""
    try:
        return str(msgspec.json.decode(row)[0])
    except (msgspec.DecodeError, IndexError, KeyError, TypeError):
        return "unreadable"


async def write_log_rows(conn: Connection, rows: list[bytes]) -> None:
    """Insert quote-log rows idempotently: rows already present are skipped, the others written.

    A batch is retried until PostgreSQL acknowledges it, and an acknowledgement can be lost after
    the commit (connection dropped, server restarted): the retry then meets rows already stored,
    which ON CONFLICT DO NOTHING skips. One statement, so the batch is written whole or not at all.
    """
    await conn.execute(_INSERT, b"[%s]" % b",".join(rows))


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
    request: object = None,
) -> LogRow | None:
    """The quote's lean quote-log row, encoded (`encode_row`; `quote_id`: its id as text, when the
    caller has it already). Made in the request, right after the quote, while the quote's values
    are still in the CPU's caches: encoded there once it costs less than its values did as a tuple
    encoded later with the batch (docs/hot-path.md#the-quote-log-one-json-document-per-batch)."""
    return encode_row(log_values(q, caller, delivery, quote_id=quote_id, request=request))


def log_values(
    q: Quote,
    caller: tuple[str, str] | None = None,
    delivery: tuple[str, str] | None = None,
    *,
    quote_id: str | None = None,
    request: object = None,
) -> LogValues:
    """The lean quote-log row's values: totals as columns, lines, rules and variants as small JSON
    arrays (positions in migrations/0015_lean_quote_log.sql), the delivery city and country and the
    keys of the flags on (migration 0045), never the whole response. `request`: what a what-if
    simulation prices the basket again from (migration 0520: the request and the customer it was
    priced for, `LoggedRequest`), encoded with the row in C."""
    breakdown = q.commission_breakdown
    # Forced variants (context.ab_test_group) are kept apart: the experiment statistics read `experiments`.
    exposures, forced = q.experiments, {}
    if q.forced_experiments:
        forced = {key: q.experiments[key] for key in q.forced_experiments}
        exposures = {key: variant for key, variant in q.experiments.items() if key not in forced}
    lines: list[tuple[object, ...]] = [
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
    if q.tax_included is not msgspec.UNSET:  # a tax-inclusive line adds the tax it contains (docs/markets.md)
        lines = [
            (*line, i.tax) if i.prices_include_tax is True else line for line, i in zip(lines, q.items, strict=True)
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
        request,
    )


_Place = tuple[str, str, float | None, float | None]
_LoggedRequest = tuple[
    str, str, list[tuple[str, int, Decimal | None, str | None, str | None]], _Place, _Place | None, bool, list[str],
    str | None, str | None, str | None, RequestContext | None, str | None, str | None, str | None, str | None,
]  # fmt: skip
_REQUEST = msgspec.json.Decoder(_LoggedRequest)
_Kept = tuple[Decimal | None, str | None, str | None] | None
_CompactRequest = tuple[
    int, str, list[_Kept], tuple[float | None, float | None], _Place | None, bool, list[str], str | None, str | None,
    str | None, RequestContext | None, str | None, str | None, str | None, str | None,
]  # fmt: skip
_COMPACT_REQUEST = msgspec.json.Decoder(_CompactRequest)


def _with_exemption(kind: Any) -> Any:
    """`kind` with the two elements a stated exemption adds (docs/taxes.md): the exemption, the tax id."""
    elements: tuple[Any, ...] = (*get_args(kind), TaxExemption, str | None)
    return tuple.__class_getitem__(elements)


_EXEMPT_REQUEST: msgspec.json.Decoder[tuple[Any, ...]] = msgspec.json.Decoder(_with_exemption(_LoggedRequest))
_EXEMPT_COMPACT_REQUEST: msgspec.json.Decoder[tuple[Any, ...]] = msgspec.json.Decoder(_with_exemption(_CompactRequest))
_LOGGED_FIELDS = 15
"""The fields every logged request has; an exemption adds two (`logged_request`)."""
COMPACT = 2
"""The first element of a compact logged request (`compact_request`); a full one starts with the customer id."""


def _place(address: Address) -> _Place:
    return (address.city, address.country, address.latitude, address.longitude)


def _address(place: _Place) -> Address:
    return Address(city=place[0], country=place[1], latitude=place[2], longitude=place[3])


def logged_request(request: QuoteRequest, customer: CustomerContext) -> tuple[object, ...]:
    """What the quote log keeps to price the basket again (column `request`, migration 0520; a
    what-if simulation reads it with `request_of_log`): the request's fields the engine reads (items'
    id, quantity, unit price, category and seller; the addresses' city, country and coordinates)
    and the customer it was priced for, in a flat array (no field names: ~200 bytes for three items);
    an exemption a service key stated (docs/taxes.md) is appended, so a what-if prices the quote exempt too."""
    logged = (
        request.customer_id,
        request.currency,
        [(i.product_id, i.quantity, i.unit_price, i.category_id, i.seller_id) for i in request.items],
        _place(request.delivery_address),
        *_tail(request, customer),
    )
    return logged


def _tail(request: QuoteRequest, customer: CustomerContext) -> tuple[object, ...]:
    """The last 11 elements of a logged request, full or compact: the pickup place, the express flag,
    coupons, sellers, logistics, channel, context and the customer's tier, segment, group and test group;
    then, only when a service key stated an exemption (docs/taxes.md), the exemption and the customer's
    tax id (a quote that states none pays one `is None` test, no call: the cost budget)."""
    tail = (
        None if request.pickup_address is None else _place(request.pickup_address),
        request.is_express_delivery,
        request.coupon_codes,
        request.seller_id,
        request.logistics_provider,
        request.channel,
        request.context,
        customer.tier,
        customer.segment,
        customer.customer_group,
        customer.test_group,
    )
    if request.tax_exemption is None:
        return tail
    return (*tail, request.tax_exemption, request.customer_tax_id)


def compact_request(quote: Quote, request: QuoteRequest, customer: CustomerContext) -> tuple[object, ...]:
    """`logged_request` without what the quote's row holds already (docs/hot-path.md, the quote log): the
    customer id (column `customer_id`), the delivery city and country (`delivery_city`,
    `delivery_country`), each item's product id and quantity (`lines`, one per item in the request's
    order); an item that states no unit price, category or seller is a `null`. A quote whose lines do
    not answer its items one to one keeps the full request. `request_of_log(raw, row)` reads either."""
    items, lines = request.items, quote.items
    count = len(items)
    if len(lines) != count or quote.customer_id != request.customer_id:
        return logged_request(request, customer)
    for i in range(count):
        item, line = items[i], lines[i]
        if item.product_id != line.product_id or item.quantity != line.quantity:
            return logged_request(request, customer)
    delivery = request.delivery_address
    return (
        COMPACT,
        request.currency,
        [
            None
            if i.unit_price is None and i.category_id is None and i.seller_id is None
            else (i.unit_price, i.category_id, i.seller_id)
            for i in items
        ],
        (delivery.latitude, delivery.longitude),
        *_tail(request, customer),
    )


class LogRowFields(Protocol):
    """What `request_of_log` reads of a compact request's row (an asyncpg Record, a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


def request_of_log(raw: bytes | str, row: LogRowFields | None = None) -> tuple[QuoteRequest, CustomerContext]:
    """The request and customer `logged_request` or `compact_request` kept (coupon uses are not kept:
    none are counted). A compact one needs its row's `customer_id`, `delivery_city`,
    `delivery_country` and `lines`."""
    if raw[1:2] in (b"2", "2"):  # [2, ...]: compact (a full one starts with the customer id, a string)
        if row is None:
            raise ValueError("a compact logged request is read with its row")
        return _compact_of_log(raw, row)
    try:
        return _built(_REQUEST.decode(raw))
    except msgspec.ValidationError:  # an exempt quote's: two more elements
        logged = _EXEMPT_REQUEST.decode(raw)
        return _built(cast(_LoggedRequest, logged[:_LOGGED_FIELDS]), *logged[_LOGGED_FIELDS:])


def _built(
    logged: _LoggedRequest, exemption: TaxExemption | None = None, tax_id: str | None = None
) -> tuple[QuoteRequest, CustomerContext]:
    (customer_id, currency, items, delivery, pickup, express, coupons, seller, logistics, channel, context,
     tier, segment, group, test_group) = logged  # fmt: skip
    lines = [
        QuoteItemIn(product_id=p, quantity=q, unit_price=price, category_id=category, seller_id=item_seller)
        for p, q, price, category, item_seller in items
    ]
    request = QuoteRequest(
        customer_id=customer_id, currency=currency, items=lines, delivery_address=_address(delivery),
        pickup_address=None if pickup is None else _address(pickup), is_express_delivery=express,
        coupon_codes=coupons, seller_id=seller, logistics_provider=logistics, channel=channel, context=context,
        tax_exemption=exemption, customer_tax_id=tax_id,
    )  # fmt: skip
    customer = CustomerContext(
        customer_id=customer_id, tier=tier, segment=segment, customer_group=group, test_group=test_group
    )
    return request, customer


def _compact_of_log(raw: bytes | str, row: LogRowFields) -> tuple[QuoteRequest, CustomerContext]:
    """A compact request made full again with what its row holds, then read as a full one."""
    try:
        compact: tuple[Any, ...] = _COMPACT_REQUEST.decode(raw)
        exempt: tuple[Any, ...] = ()
    except msgspec.ValidationError:  # an exempt quote's: two more elements
        decoded = _EXEMPT_COMPACT_REQUEST.decode(raw)
        compact, exempt = decoded[:_LOGGED_FIELDS], decoded[_LOGGED_FIELDS:]
    _, currency, kept, (latitude, longitude), *tail = compact
    items = [
        (line[0], line[3], *((None, None, None) if stated is None else stated))
        for line, stated in zip(row["lines"], kept, strict=True)
    ]
    delivery = (row["delivery_city"], row["delivery_country"], latitude, longitude)
    return _built(cast(_LoggedRequest, (row["customer_id"], currency, items, delivery, *tail)), *exempt)

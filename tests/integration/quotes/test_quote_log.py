"""The quote-log writer is idempotent: a batch whose acknowledgement was lost can be written again.

A flush is retried until PostgreSQL acknowledges it. When the COPY committed but the answer
never arrived (connection dropped after the commit), the retry meets rows already stored: it
must skip them and write the rest, not fail on the primary key forever. A row PostgreSQL will
never take (an amount beyond its column) is left out, logged and counted, and the rest written;
when the backlog is full, rows are dropped, counted, and said so once per interval
(docs/hot-path.md#what-a-crash-can-lose).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, MutableMapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import msgspec
import pytest
import structlog
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from structlog.testing import capture_logs

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.quotes import quote_log as log_module
from quote_service.quotes import spool as spool_module
from quote_service.quotes.quote_log import (
    _LOG_COLUMNS,
    BACKLOG_WARNING_SECONDS,
    LogRow,
    LogValues,
    encode_row,
    log_row,
    write_isolating,
    write_log_rows,
)
from quote_service.quotes.store import QuoteStore
from tests.conftest import free_port
from tests.integration.analytics.test_analytics import encoded, lines
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.quotes.test_quote_api import QUOTE, Client, quote_body
from tests.unit.pricing.test_engine_support import item, request
from tests.unit.pricing.test_engine_support import quote as price
from tests.waiting import until


def values(quote_id: uuid.UUID, amount: Decimal = Decimal("10.00")) -> LogValues:
    now = utcnow()
    return (
        str(quote_id), "c-1", "TRY", amount, Decimal(0), Decimal(0), Decimal(0), Decimal(0), amount, Decimal(0),
        Decimal(0), Decimal(0), Decimal(0), 1, 1,
        msgspec.Raw(b'[["p-1", "c", "s", 1, "10.00", "10.00", "0", "catalog"]]'), msgspec.Raw(b"[]"), (),
        msgspec.Raw(b"{}"), "api_key", "k-1", now, now + timedelta(minutes=15), "Istanbul", "TR", (),
        msgspec.Raw(b"{}"), msgspec.Raw(b'[{"customer_id": "c-1"}, "gold", null, null, null]'),
    )  # fmt: skip


def row(quote_id: uuid.UUID, amount: Decimal = Decimal("10.00")) -> LogRow:
    """A row as the store queues it."""
    return encoded(values(quote_id, amount))[0]


def spooled(root: Path) -> list[Path]:
    """Spool segments left under `root` (any database's)."""
    return sorted(root.glob("*/*.rows"))


async def logged(pool: asyncpg.Pool) -> list[uuid.UUID]:
    return [r["quote_id"] for r in await pool.fetch("SELECT quote_id FROM quote_log ORDER BY quote_id")]


async def test_writing_a_batch_again_stores_each_row_once(pool: asyncpg.Pool) -> None:
    ids = sorted(uuid.uuid4() for _ in range(3))
    batch = [row(i)[1] for i in ids]
    async with pool.acquire() as conn:
        await write_log_rows(conn, batch)
    async with pool.acquire() as conn:
        await write_log_rows(conn, batch)  # the acknowledgement of the first write was "lost"
    assert await logged(pool) == ids


async def test_a_row_already_present_does_not_block_the_others(pool: asyncpg.Pool) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    again = row(first)[1]  # a batch sent twice carries the same bytes (the key includes created_at)
    async with pool.acquire() as conn:
        await write_log_rows(conn, [again])
        await write_log_rows(conn, [again, row(second)[1]])
    assert await logged(pool) == sorted([first, second])


async def test_two_writers_of_one_row_at_once_store_it_once(pool: asyncpg.Pool) -> None:
    """The later of two writers storing the same row meets the first's key (not yet committed when
    it looked): it skips the row, neither failing nor counting it as rejected."""
    first, second = uuid.uuid4(), uuid.uuid4()
    batch = [row(first)[1], row(second)[1]]
    rejected: list[bytes] = []
    async with pool.acquire() as one, pool.acquire() as other:
        transaction = one.transaction()
        await transaction.start()
        await write_log_rows(one, batch[:1])
        later = asyncio.create_task(write_isolating(other, batch[:1], rejected))
        await until(lambda: _waiting_on_a_lock(pool), "the later writer waits on the first one's key")
        await transaction.commit()
        await later
        await write_isolating(other, batch, rejected)
    assert rejected == []
    assert await logged(pool) == sorted([first, second])


async def _waiting_on_a_lock(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )


async def test_each_column_is_stored_as_copy_stored_it(pool: asyncpg.Pool) -> None:
    """The batch goes in as one JSON document: every column must come out as asyncpg's own typed
    COPY stores it — amounts rounded to the column's scale, instants, text arrays, nulls, jsonb."""
    base = values(uuid.uuid4(), amount=Decimal("12.34567"))
    varied = [
        base,
        (str(uuid.uuid4()), 'c-"2"\\ş', *base[2:17], ("WELCOME10", "SUMMER"), msgspec.Raw(b'{"exp": "B"}'),
         None, None, base[21], base[22], None, None, ("flag-a", "flag-b"), msgspec.Raw(b'{"forced": "A"}'), None),
        # Text arrays whose elements an array literal would read differently from JSON (_column's
        # shortcut): separators, quotes, backslashes, NULL, blanks, control and non-ASCII characters.
        (str(uuid.uuid4()), "c-3", *base[2:17], ("a,b", "NULL", "", " sp ", "{x}", "a[1]", "ş"), *base[18:25],
         ('q"x', "b\\s", "n\nl", "t\tb"), *base[26:]),
        (str(uuid.uuid4()), "c-4", *base[2:17], (), *base[18:25], ("ş", "NULL"), *base[26:]),
    ]  # fmt: skip

    async def stored() -> list[dict[str, object]]:
        return [dict(r) for r in await pool.fetch("SELECT * FROM quote_log ORDER BY quote_id")]

    async with pool.acquire() as conn:
        await conn.copy_records_to_table("quote_log", records=varied, columns=_LOG_COLUMNS)
        by_copy = await stored()
        await conn.execute("TRUNCATE quote_log")
        await write_log_rows(conn, lines(*varied))
    assert await stored() == by_copy
    assert {r["quote_id"]: r["subtotal"] for r in by_copy}[uuid.UUID(str(base[0]))] == Decimal("12.3457")


async def test_the_writer_recovers_from_a_lost_acknowledgement(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The store's own retry loop: its spool still holds a batch that is already committed."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    store = QuoteStore(redis, pool, spool=tmp_path)
    await store.log.open()
    committed = [values(uuid.uuid4()) for _ in range(5)]
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("quote_log", records=committed, columns=_LOG_COLUMNS)
    fresh = [row(uuid.uuid4()) for _ in range(5)]
    store.log.queue([*encoded(*committed), *fresh])  # as kept after a flush whose answer was lost
    try:
        await store.log.write_pending()
        assert store.log.pending_bytes == 0
    finally:
        await store.log.drain()
        await redis.aclose()
    assert len(await logged(pool)) == 10
    assert spooled(tmp_path) == []


async def test_a_quote_is_logged_as_a_lean_row(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    """What analytics reads: totals, commission parts, compact lines, rules, coupons, variants, the caller."""
    data = expect_ok(await client.post(QUOTE, json=quote_body(), headers=admin.headers))
    quote_id = uuid.UUID(data["quote_id"])
    got = await until(  # written behind the response, every 0.2 s
        lambda: pool.fetchrow("SELECT * FROM quote_log WHERE quote_id = $1", quote_id), "the quote-log row", within=5
    )
    assert got is not None
    assert "payload" not in dict(got)
    assert (str(got["total_amount"]), str(got["tax_amount"])) == ("80.1800", "9.1800")
    parts = ("total_commission", "seller_commission", "category_commission", "logistics_commission")
    assert [got[k] for k in parts] == [Decimal(data["commission_breakdown"][k]) for k in parts]
    line = data["items"][0]
    assert got["lines"] == [
        [line["product_id"], line["category_id"], line["seller_id"], 2, line["unit_price"], line["line_subtotal"],
         line["discount"], line["price_source"]]
    ]  # fmt: skip
    assert got["applied_rules"] == [[r["rule_id"], r["type"], r["version"], r["amount"]] for r in data["applied_rules"]]
    assert got["coupon_codes"] == [c["code"] for c in data["applied_coupons"]]
    assert got["experiments"] == data["experiments"]
    assert (got["item_count"], got["config_version"]) == (1, data["config_version"])
    assert (got["caller_kind"], got["caller_id"]) == ("user", str(admin.id))


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@contextlib.contextmanager
def store_log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MutableMapping[str, object]]]:
    """The quote log's lines meanwhile. Its module logger is swapped for a fresh one: a logger used
    once is cached with the processors of that moment (cache_logger_on_first_use), capture or not."""
    with capture_logs() as lines:
        monkeypatch.setattr(log_module, "log", structlog.get_logger(log_module.__name__))
        yield lines


def _with_customer(value: object) -> LogValues:
    fresh = values(uuid.uuid4())
    return (fresh[0], value, *fresh[2:])


POISONED = {
    # A total beyond numeric(20, 4), past what the API lets through: PostgreSQL refuses it (22003).
    "numeric overflow": lambda: row(uuid.uuid4(), amount=Decimal("1e17")),
    # A NUL in a text value: jsonb refuses the escape \u0000 (22P05).
    "NUL in text": lambda: encoded(_with_customer("c-\x00-1"))[0],
}
UNENCODABLE = {
    # A value the JSON encoder cannot write.
    "not encodable": lambda: _with_customer(object()),
    # A lone surrogate cannot be written as UTF-8 (UnicodeEncodeError, a ValueError).
    "lone surrogate": lambda: _with_customer("c-\ud800"),
}


@pytest.mark.parametrize("poison", sorted(UNENCODABLE))
def test_a_row_that_cannot_be_encoded_is_left_out_when_it_is_made(monkeypatch: pytest.MonkeyPatch, poison: str) -> None:
    """Rows are encoded in the request, with their quote: one that cannot be is never queued, and
    is logged and counted as rejected there (the quote itself is still answered)."""
    rejected = metric("qs_quote_log_rows_rejected_total")
    poisoned = UNENCODABLE[poison]()
    with store_log_lines(monkeypatch) as logs:
        assert encode_row(poisoned) is None
    assert metric("qs_quote_log_rows_rejected_total") - rejected == 1
    lines = [entry for entry in logs if entry["event"] == "quote_log_row_rejected"]
    assert [line["quote_id"] for line in lines] == [poisoned[0]]


def test_a_quotes_row_is_one_json_array_of_its_columns() -> None:
    """`log_row` (made in the request): the columns in order, led by the id as text, the lines as
    arrays, the caller, the delivery and the keys of the flags on."""
    quote = msgspec.structs.replace(price(request(item("p-1", 2, unit_price="10.00"))), quote_id=uuid.uuid4())
    made = log_row(quote, ("api_key", "k-1"), ("Izmir", "TR"))
    assert made is not None
    quote_id, text = made
    assert quote_id == str(quote.quote_id)
    decoded = msgspec.json.decode(text)
    assert len(decoded) == len(_LOG_COLUMNS)
    assert decoded[0] == quote_id
    assert decoded[_LOG_COLUMNS.index("lines")] == [
        [i.product_id, i.category_id, i.seller_id, i.quantity, str(i.unit_price), str(i.line_subtotal),
         str(i.discount), i.price_source]
        for i in quote.items
    ]  # fmt: skip
    assert decoded[_LOG_COLUMNS.index("total_amount")] == str(quote.total_amount)
    assert (decoded[19:21], decoded[23:25]) == (["api_key", "k-1"], ["Izmir", "TR"])
    assert decoded[_LOG_COLUMNS.index("flags")] == list(quote.feature_flags)


@pytest.mark.parametrize("poison", sorted(POISONED))
async def test_a_row_postgresql_cannot_store_is_left_out_and_logging_goes_on(
    settings: Settings, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, poison: str, tmp_path: Path
) -> None:
    """A row that can never be stored among good rows: the good ones are stored, the bad one counted once,
    and later batches are written (the batch used to be retried forever, logging nothing more)."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    store = QuoteStore(redis, pool, spool=tmp_path, log_interval=0.01)
    rejected = metric("qs_quote_log_rows_rejected_total")
    good = [row(uuid.uuid4()) for _ in range(6)]
    poisoned = POISONED[poison]()
    await store.log.open()
    store.log.queue([*good[:3], poisoned, *good[3:]])
    await store.start()
    try:
        with store_log_lines(monkeypatch) as logs:
            await until(lambda: store.log.pending_bytes == 0, "the first batch is done with")
        assert len(await logged(pool)) == 6
        assert metric("qs_quote_log_rows_rejected_total") - rejected == 1
        lines = [entry for entry in logs if entry["event"] == "quote_log_row_rejected"]
        assert [line["quote_id"] for line in lines] == [poisoned[0]]

        later = [row(uuid.uuid4()) for _ in range(2)]
        store.log.queue(later)

        async def all_written() -> bool:
            return len(await logged(pool)) == 8

        await until(all_written, "a later batch is written")
    finally:
        await store.stop()
        await redis.aclose()
    assert sorted(str(i) for i in await logged(pool)) == sorted(str(r[0]) for r in [*good, *later])
    assert metric("qs_quote_log_rows_rejected_total") - rejected == 1


async def test_a_full_spool_counts_what_it_drops_and_says_so_once_per_interval(
    settings: Settings, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """PostgreSQL unreachable (nothing listens), a spool with room for 2 rows: every further answered
    quote's row is dropped and counted, and the warning comes once per interval, not once per quote."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    unreachable = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{free_port()}/none", min_size=0)
    clock = [1000.0]
    basket = request(item("p-1", 1, unit_price="10.00"))
    sample = log_row(msgspec.structs.replace(price(basket, now=utcnow()), quote_id=uuid.uuid4()))
    assert sample is not None
    room = len(sample[1] + b"\n") * 5 // 2  # two of these rows and half of a third
    store = QuoteStore(redis, unreachable, spool=tmp_path, spool_limit=room, monotonic=lambda: clock[0])
    store.log._pool = pool  # the spool is opened on the real database, then PostgreSQL is "gone"
    await store.log.open()
    store.log._pool = unreachable
    dropped = metric("qs_quote_log_rows_dropped_total")

    async def answer(count: int) -> None:
        for _ in range(count):
            quote = msgspec.structs.replace(price(basket, now=utcnow()), quote_id=uuid.uuid4())
            await store.put(quote, now=utcnow())

    await store.start()
    try:
        with store_log_lines(monkeypatch) as logs:
            await answer(5)  # 2 kept, 3 dropped
            clock[0] += BACKLOG_WARNING_SECONDS
            await answer(3)  # 3 more dropped, in the next interval
    finally:
        await store.stop()
        await redis.aclose()
        await unreachable.close()
    assert metric("qs_quote_log_rows_dropped_total") - dropped == 6
    warnings = [entry for entry in logs if entry["event"] == "quote_log_backlog_full"]
    assert [w["dropped"] for w in warnings] == [1, 3]  # the second line counts what the first interval kept quiet


async def test_a_request_cancelled_as_its_write_is_acknowledged_is_not_logged(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The deadline may cancel a request in the very instant Redis acknowledges its quote: the request
    answers 504, so its quote must not reach the log (only answered quotes are logged)."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    store = QuoteStore(redis, pool, spool=tmp_path)
    basket = request(item("p-1", 1, unit_price="10.00"))
    cancelled = msgspec.structs.replace(price(basket, now=utcnow()), quote_id=uuid.uuid4())
    answered = msgspec.structs.replace(price(basket, now=utcnow()), quote_id=uuid.uuid4())
    await store.start()
    try:
        victim = asyncio.create_task(store.put(cancelled, now=utcnow()))
        flush = store._commit._flush

        async def acknowledge_then_cancel() -> None:
            await flush()  # the write is acknowledged and the put's waiter resolved ...
            victim.cancel()  # ... and the deadline fires before the request resumes

        store._commit._flush = acknowledge_then_cancel
        with pytest.raises(asyncio.CancelledError):
            await victim
        store._commit._flush = flush
        await store.put(answered, now=utcnow())
        assert await store.get(cancelled.quote_id, now=utcnow()) is not None  # stored, but never answered
    finally:
        await store.stop()
        await redis.aclose()
    assert await logged(pool) == [answered.quote_id]


async def test_a_group_commits_rows_share_one_write_and_a_row_written_is_an_answered_quote(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requests one group commit acknowledges give their rows in the same turn of the event loop, and
    the spool takes them with one write() (docs/hot-path.md); a request cancelled after its row was
    written but before its own turn is answered all the same (a logged quote is an answered one)."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    store = QuoteStore(redis, pool, spool=tmp_path)
    basket = request(item("p-1", 1, unit_price="10.00"))
    made = [msgspec.structs.replace(price(basket, now=utcnow()), quote_id=uuid.uuid4()) for _ in range(6)]
    writes: list[bytes] = []
    real_write = spool_module.os.write
    await store.start()
    try:
        monkeypatch.setattr(spool_module.os, "write", lambda fd, data: writes.append(data) or real_write(fd, data))
        together = [asyncio.create_task(store.put(quote, now=utcnow())) for quote in made[:5]]
        await asyncio.gather(*together)
        assert len(writes) == 1  # five rows, one write
        assert writes[0].count(b"\n") == 5
        late = asyncio.create_task(store.put(made[5], now=utcnow()))
        flush_rows = store.log.flush_rows

        def written_then_cancelled() -> None:
            flush_rows()  # the row is on disk ...
            late.cancel()  # ... and the deadline fires before the request's turn

        monkeypatch.setattr(store.log, "flush_rows", written_then_cancelled)
        assert await late  # answered: its JSON
    finally:
        await store.stop()
        await redis.aclose()
    assert sorted(await logged(pool)) == sorted(quote.quote_id for quote in made)

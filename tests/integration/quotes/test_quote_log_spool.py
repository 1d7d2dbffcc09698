"""The quote log's spool (quotes/spool.py): an answered quote's row is on local disk before its
answer leaves, and what a process leaves behind — killed, or stopped while PostgreSQL was down —
is written by the next process of the same database, once.

A process that dies is played here by a child Python process that appends rows and is then
SIGKILLed: the kernel drops its locks as it would a worker's.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import asyncpg
import msgspec
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.pricing.quote import Quote
from quote_service.quotes import spool as spool_module
from quote_service.quotes.quote_log import database_id
from quote_service.quotes.spool import Spool
from quote_service.quotes.store import QuoteStore
from tests.conftest import free_port
from tests.integration.quotes.test_quote_log import logged, row, spooled
from tests.unit.pricing.test_engine_support import item, request
from tests.unit.pricing.test_engine_support import quote as price
from tests.waiting import until


def answered_quote() -> Quote:
    basket = request(item("p-1", 1, unit_price="10.00"))
    return msgspec.structs.replace(price(basket, now=utcnow()), quote_id=uuid.uuid4())


def rows(count: int) -> list[bytes]:
    """`count` quote-log rows of new quotes, as the spool holds them."""
    return [row(uuid.uuid4())[1] for _ in range(count)]


def lines(made: list[bytes]) -> bytes:
    return b"".join(made_row + b"\n" for made_row in made)


def killed_writer(directory: Path, data: bytes, *, torn: bytes = b"") -> None:
    """A child process that opens a spool in `directory`, appends `data` (then `torn`, a row cut
    off mid-write), and is SIGKILLed with the segment still open."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from quote_service.quotes.spool import Spool
        spool = Spool(Path(sys.argv[1]))
        spool.open()
        spool.append(sys.stdin.buffer.read())
        if sys.argv[2]:
            os.write(spool.current.fd, sys.argv[2].encode())
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, this script
        [sys.executable, "-c", script, str(directory), torn.decode()], input=data, capture_output=True, check=False
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()


def test_rows_are_read_back_in_batches_from_where_writing_stopped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    made = rows(5)
    spool.append(lines(made[:2]))
    spool.append(lines(made[2:]))
    segment = spool.seal()
    assert segment is not None
    assert spool.current is not None
    assert spool.current.size == 0  # appends go to a fresh segment now
    first, end = spool.read(segment, 3)
    assert first == made[:3]
    segment.offset = end
    rest, end = spool.read(segment, 3)
    assert rest == made[3:]
    assert end == segment.size
    spool.discard(segment)
    spool.close()
    assert list(tmp_path.iterdir()) == []  # the empty current segment goes too


def test_rows_kept_in_memory_read_back_as_the_file_holds_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer takes a segment's rows from memory (no read of the file, docs/hot-path.md): the
    same rows and offsets as the file gives; a segment past MEMORY_BYTES, or appended to without
    its rows, is read from the file."""
    monkeypatch.setattr(spool_module, "MEMORY_BYTES", 10_000)
    spool = Spool(tmp_path)
    spool.open()
    made = rows(5)
    for one in made:
        spool.append(one + b"\n", [one])
    segment = spool.seal()
    assert segment is not None
    assert segment.memory == made
    monkeypatch.setattr(spool_module.os, "pread", lambda *_: pytest.fail("read the file"))
    first, end = spool.read(segment, 3)
    assert first == made[:3]
    assert end == len(lines(made[:3]))
    segment.offset = end
    rest, end = spool.read(segment, 3)
    assert rest == made[3:]
    assert end == segment.size
    monkeypatch.undo()
    monkeypatch.setattr(spool_module, "MEMORY_BYTES", 10_000)
    big = rows(40)  # past the (lowered) bound: the file is read
    spool.append(lines(big), big)
    unknown = spool.seal()
    assert unknown is not None
    assert unknown.memory is None
    assert spool.read(unknown, 100) == (big, unknown.size)


def test_a_segment_is_adopted_only_once_its_writer_is_gone(tmp_path: Path) -> None:
    alive = Spool(tmp_path)
    alive.open()
    alive.append(lines(rows(1)))
    dead = lines(rows(2))
    killed_writer(tmp_path, dead)
    finder = Spool(tmp_path)
    found = finder.orphans(owned=set())
    assert [s.size for s in found] == [len(dead)]  # only the dead one's
    assert Spool(tmp_path).orphans(owned=set()) == []  # held now by `finder`: nobody else takes it
    for segment in found:
        finder.discard(segment)
    alive.close()


def test_a_row_cut_off_by_the_kill_is_not_a_row(tmp_path: Path) -> None:
    """A writer killed in the middle of a row never answered that quote: the bytes after the last
    newline are skipped (and said so), the rows before them kept."""
    whole = rows(2)
    killed_writer(tmp_path, lines(whole), torn=b'["cut-off')
    finder = Spool(tmp_path)
    (segment,) = finder.orphans(owned=set())
    read, end = finder.read(segment, 100)
    assert read == whole
    assert end == segment.size - len(b'["cut-off')


def test_a_short_write_is_taken_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk filling up mid-write: the part written is truncated away, the caller told (OSError)."""
    spool = Spool(tmp_path)
    spool.open()
    spool.append(lines(rows(1)))
    size = spool.current.size if spool.current else 0
    real_write = os.write
    monkeypatch.setattr(spool_module.os, "write", lambda fd, data: real_write(fd, data[:5]))
    with pytest.raises(OSError, match="out of space"):
        spool.append(lines(rows(1)))
    monkeypatch.undo()
    assert spool.current is not None
    assert (spool.current.size, os.fstat(spool.current.fd).st_size) == (size, size)
    spool.close()


async def test_a_killed_process_rows_are_written_by_the_next_one_of_the_same_database(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    assert settings.redis_url is not None
    async with pool.acquire() as conn:
        database = await database_id(conn)
    made = rows(3)
    killed_writer(tmp_path / database, lines(made))
    elsewhere = str(uuid.uuid4())
    killed_writer(tmp_path / elsewhere, lines(rows(1)))  # another database's: not ours to write
    replayed = REGISTRY.get_sample_value("qs_quote_log_rows_replayed_total") or 0.0
    redis = Redis.from_url(settings.redis_url)
    store = QuoteStore(redis, pool, spool=tmp_path)
    await store.start()  # its first pass adopts what it finds

    async def written() -> bool:
        return await logged(pool) == sorted(uuid.UUID(msgspec.json.decode(r)[0]) for r in made)

    try:
        await until(written, "the dead process's rows are written")
    finally:
        await store.stop()
        await redis.aclose()
    assert (REGISTRY.get_sample_value("qs_quote_log_rows_replayed_total") or 0.0) - replayed == 3
    assert [p.parent.name for p in spooled(tmp_path)] == [elsewhere]


async def test_a_stop_while_postgresql_is_down_keeps_the_rows_for_the_next_process(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A graceful stop cannot drain into a PostgreSQL that is away: the answered quotes' rows stay on
    disk (they used to be dropped with a `quote_log_not_drained` line), and the next store writes them."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    unreachable = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{free_port()}/none", min_size=0)
    store = QuoteStore(redis, pool, spool=tmp_path)
    await store.start()
    store.log._pool = unreachable  # PostgreSQL goes away: every write from now on fails
    quotes = [answered_quote() for _ in range(4)]
    try:
        for quote in quotes:
            await store.put(quote, now=utcnow())
    finally:
        await store.stop()
        await unreachable.close()
    assert await logged(pool) == []
    assert len(spooled(tmp_path)) == 1

    later = QuoteStore(redis, pool, spool=tmp_path)
    await later.start()

    async def written() -> bool:
        return await logged(pool) == sorted(q.quote_id for q in quotes)

    try:
        await until(written, "the rows of the stopped process are written")
    finally:
        await later.stop()
        await redis.aclose()
    assert spooled(tmp_path) == []


async def test_a_row_given_after_the_log_is_drained_fails_its_request_instead_of_vanishing(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A request still running when its process stops (past the stop's wait for requests: app.py)
    gives its row to a quote log already drained and closed: the row cannot be kept, so the request
    fails (OSError: the store answers 503) instead of answering a quote that is logged nowhere.
    Before, `queue` asserted on the closed spool inside a loop callback: the error went to the
    event loop's log, and the request answered 200 (the SIGTERM test caught 6 such quotes in CI)."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    store = QuoteStore(redis, pool, spool=tmp_path)
    await store.start()
    quote = answered_quote()
    try:
        await store.put(quote, now=utcnow())  # answered before the stop: logged by its drain
    finally:
        await store.stop()
        await redis.aclose()
    assert await logged(pool) == [quote.quote_id]
    late = row(uuid.uuid4())
    with pytest.raises(OSError, match="this process is stopping"):
        await store.log.spool_row(late)
    assert await logged(pool) == [quote.quote_id]
    assert spooled(tmp_path) == []


async def test_a_batch_the_spool_fails_to_keep_for_a_bug_fails_its_requests_instead_of_vanishing(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only the disk's OSError: whatever keeps a batch's rows off the spool (here a bug in
    `queue`) fails the batch's requests (the store answers 503), so no quote is answered that is
    logged nowhere. Before, such an error escaped the loop callback and the requests answered."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    store = QuoteStore(redis, pool, spool=tmp_path)
    await store.start()

    def broken(rows: list[object]) -> None:
        raise RuntimeError("a bug in the spool")

    try:
        monkeypatch.setattr(store.log, "queue", broken)
        with pytest.raises(OSError, match="could not keep the rows") as refused:
            await store.log.spool_row(row(uuid.uuid4()))
        assert isinstance(refused.value.__cause__, RuntimeError)
        monkeypatch.undo()
        kept = uuid.uuid4()
        await store.log.spool_row(row(kept))  # the next batch is kept as before
    finally:
        await store.stop()
        await redis.aclose()
    assert await logged(pool) == [kept]


def test_a_segment_being_created_is_left_to_its_creator_and_a_stale_one_deleted(tmp_path: Path) -> None:
    """A `.new` file is a segment between its creator's open and its lock: an orphan scan that
    deleted it there would make the creator's rename fail (a failed start, a failed seal). Only one
    older than PARTIAL_GRACE_SECONDS, whose creator died, is deleted."""
    young = tmp_path / "1-1-0.new"
    stale = tmp_path / "2-1-0.new"
    young.touch()
    stale.touch()
    old = stale.stat().st_mtime - spool_module.PARTIAL_GRACE_SECONDS - 1
    os.utime(stale, (old, old))
    assert Spool(tmp_path).orphans(owned=set()) == []
    assert young.exists()
    assert not stale.exists()
    fd = os.open(young, os.O_RDWR)  # and its creator can still lock it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)

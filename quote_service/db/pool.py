"""The asyncpg pool: one per process, json/jsonb decoded to Python values (msgspec encodes jsonb).

Every wait on PostgreSQL is bounded, so a locked table, an exhausted pool or a paused server
answers 503 within seconds instead of holding the request (and its caller) for as long as the
fault lasts:
- acquiring a connection: `acquire_timeout` for every `acquire()` (and pool.fetch & co.), unless
  the caller passes its own; the TimeoutError is answered 503 by the HTTP edge;
- a statement: `statement_timeout` on the server (57014 query_canceled, nothing committed) and
  the same plus a second on the client (asyncpg cancels it when the server itself is stuck);
- waiting for a lock: `lock_timeout` on the server (55P03 lock_not_available).
The server-side settings are session defaults given at connect time: no per-query cost, and the
pool's RESET ALL on release keeps them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import msgspec
import structlog
from asyncpg.pool import PoolAcquireContext, PoolConnectionProxy

if TYPE_CHECKING:
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    _PoolBase: TypeAlias = asyncpg.Pool[asyncpg.Record]
    _AcquireContext: TypeAlias = PoolAcquireContext[asyncpg.Record]
else:  # the stubs' generics do not exist at run time; Litestar resolves these names for DI
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection | PoolConnectionProxy
    _PoolBase = asyncpg.Pool
    _AcquireContext = PoolAcquireContext

log = structlog.get_logger("quote_service.db")


class BoundedPool(_PoolBase):
    """An asyncpg pool whose `acquire()` gives up after `acquire_timeout` seconds by default."""

    def __init__(self, dsn: str, *, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(dsn, **kwargs)
        self.acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> _AcquireContext:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


def _encode_jsonb(value: object) -> bytes:
    # Binary jsonb is a version byte and the text; binary works for COPY too (the quote log).
    return b"\x01" + msgspec.json.encode(value)


def _decode_jsonb(data: bytes) -> object:
    return msgspec.json.decode(data[1:])


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    acquire_timeout: float = 1.0,
    statement_timeout: float = 5.0,
    lock_timeout: float = 1.0,
    server_settings: dict[str, str] | None = None,
) -> Pool:
    """Open the process's pool (fails fast when PostgreSQL is unreachable). Timeouts in seconds.

    `server_settings` are set on every connection too (e.g. `quote_service.max_markup_percent`,
    read by the inventory-repricing trigger).
    """
    pool = BoundedPool(
        dsn,
        acquire_timeout=acquire_timeout,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        # Our statements are a fixed set, so the LRU size bounds the cache alone. asyncpg's default
        # 300 s lifetime schedules a timer per cached statement, and each timer that fires leaves the
        # entry and its handle in a reference cycle for the garbage collector (docs/hot-path.md#garbage).
        max_cached_statement_lifetime=0,
        init=_init_connection,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        command_timeout=statement_timeout + 1.0,
        server_settings={
            "statement_timeout": f"{round(statement_timeout * 1000)}ms",
            "lock_timeout": f"{round(lock_timeout * 1000)}ms",
            **(server_settings or {}),
        },
    )
    await pool
    return pool


async def open_pool(dsn: str, **options: Any) -> Pool:
    """`create_pool` for a serving process: when PostgreSQL cannot be reached (down, restarting,
    refusing connections), the pool opens empty instead of failing, and connects on demand once
    PostgreSQL is back (each `acquire()` until then fails within `acquire_timeout`: a 503). Any
    other failure (a wrong password, an unknown database) still raises."""
    # The one list of "a store is away" errors; imported here, as it imports prometheus_client,
    # which `serve` must not load before it has set PROMETHEUS_MULTIPROC_DIR (cli/serve.py).
    from quote_service.background import OUTAGES

    try:
        return await create_pool(dsn, **options)
    except OUTAGES as exc:
        log.warning("postgres_unavailable_at_start", error=f"{type(exc).__name__}: {exc}"[:200])
        return await create_pool(dsn, **{**options, "min_size": 0})

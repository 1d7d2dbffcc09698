"""The asyncpg pool: one per process, json/jsonb decoded to Python values (msgspec encodes jsonb)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

if TYPE_CHECKING:
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:  # the stubs' generics do not exist at run time; Litestar resolves these names for DI
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection | PoolConnectionProxy


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
    dsn: str, *, min_size: int = 2, max_size: int = 10, server_settings: dict[str, str] | None = None
) -> Pool:
    """Open the process's pool (fails fast when PostgreSQL is unreachable).

    `server_settings` are set on every connection (e.g. `quote_service.max_markup_percent`,
    read by the inventory-repricing trigger).
    """
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=30,
        server_settings=server_settings,
    )
    assert pool is not None  # create_pool only returns None when awaited lazily
    return pool

"""The asyncpg pool: one per process, jsonb decoded to Python values."""

from __future__ import annotations

import json

import asyncpg

Pool = asyncpg.Pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    """Open the process's pool (fails fast when PostgreSQL is unreachable)."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )
    assert pool is not None  # create_pool only returns None when awaited lazily
    return pool

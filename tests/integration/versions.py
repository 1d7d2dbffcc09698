"""The configuration version as the tests read it: PostgreSQL's (the source of truth)."""

from __future__ import annotations

import asyncpg

from quote_service.cache.config_bus import read_version
from quote_service.config import Settings


async def durable_config_version(settings: Settings) -> int:
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await read_version(conn)
    finally:
        await conn.close()

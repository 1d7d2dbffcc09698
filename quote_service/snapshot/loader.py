"""Loads all active configuration from PostgreSQL into a ConfigSnapshot."""

from __future__ import annotations

from quote_service.db.pool import Pool
from quote_service.pricing.snapshot import ConfigSnapshot


async def load_snapshot(pool: Pool, version: int) -> ConfigSnapshot:
    """Read every configuration table in one repeatable-read transaction."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return ConfigSnapshot(version=version)

"""What the commands share: the stores they run on, migrating, a small pool for one piece of work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import msgspec

from quote_service.config import Settings
from quote_service.db.migrate import apply_migrations
from quote_service.db.pool import Pool, create_pool
from quote_service.embedded import embedded_stores

T = TypeVar("T")


class CommandError(Exception):
    """The command cannot run as asked; the message tells the operator why and what to do."""


@contextlib.contextmanager
def stores(settings: Settings) -> Iterator[Settings]:
    """Settings with both URLs set, starting the embedded servers for any that are missing."""
    if settings.database_url and settings.redis_url:
        yield settings
        return
    with embedded_stores(
        settings.home, need_database=not settings.database_url, need_redis=not settings.redis_url
    ) as urls:
        yield msgspec.structs.replace(
            settings,
            database_url=settings.database_url or urls.database_url,
            redis_url=settings.redis_url or urls.redis_url,
        )


def dsn(settings: Settings) -> str:
    """The database URL (set by `stores`)."""
    assert settings.database_url is not None, "stores() sets both URLs"
    return settings.database_url


def migrate_database(settings: Settings) -> list[str]:
    """Apply the pending migrations; the names applied."""
    return asyncio.run(apply_migrations(dsn(settings)))


def with_pool(settings: Settings, work: Callable[[Pool], Awaitable[T]]) -> T:
    """Migrate, then run `work` with a small pool."""
    migrate_database(settings)

    async def run() -> T:
        pool = await create_pool(dsn(settings), min_size=1, max_size=2, server_settings=settings.database_session())
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())

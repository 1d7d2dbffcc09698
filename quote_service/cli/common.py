"""What the commands share: the stores they run on, migrating, a small pool for one piece of work, a
progress bar."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import IO, TypeVar

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


class ProgressBar:
    """A one-line progress bar on stderr (no dependency): `label [#####     ] done/total seconds`."""

    def __init__(self, label: str, total: int, *, enabled: bool = True, out: IO[str] | None = None) -> None:
        self.label, self.total, self.done, self.enabled = label, total, 0, enabled
        self.out = out if out is not None else sys.stderr
        self.start = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(share * 30)
        elapsed = time.monotonic() - self.start
        self.out.write(f"\r{self.label} [{bar:<30}] {self.done:>10,}/{self.total:,} {elapsed:6.1f}s")
        if self.done >= self.total:
            self.out.write("\n")
        self.out.flush()

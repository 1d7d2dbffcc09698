"""A stop that hangs is forced (issue 22 item 16): a real `quote-service serve` whose graceful
drain cannot finish — a request in flight waits on a PostgreSQL row lock the test holds (lock
and statement timeouts lifted) — stops at once on a second SIGINT, or by itself after
SHUTDOWN_TIMEOUT_SECONDS. The first signal alone drains, as ever (test_graceful_shutdown.py)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.flash import Client
from tests.integration.locks import waiting_for_lock
from tests.integration.servers import cli_env, served
from tests.waiting import until

pytestmark = pytest.mark.slow

PROMPTLY = 5.0


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    return cli_env(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        DB_LOCK_TIMEOUT="600",
        DB_STATEMENT_TIMEOUT="600",
        **extra,
    )


async def stopping(log_file: Path) -> bool:
    text = await asyncio.to_thread(log_file.read_text, errors="replace")
    return "Shutting down granian" in text


@dataclass
class Hung:
    """A served process whose drain cannot finish: a request in flight waits on a row lock."""

    process: subprocess.Popen[bytes]
    log_file: Path


@contextlib.asynccontextmanager
async def hung_server(
    settings: Settings, pool: asyncpg.Pool, client: Client, admin: Caller, *, shutdown_timeout: str
) -> AsyncIterator[Hung]:
    """`serve` with a stock change in flight that waits on the product's row lock for as long as
    the block lasts (the lock and statement timeouts lifted); the log is read afterwards."""
    product = await create_product(client, admin, stock=10)
    env = env_for(settings, SHUTDOWN_TIMEOUT_SECONDS=shutdown_timeout)
    with served(env) as (base, process, log_file):
        async with httpx.AsyncClient(base_url=base, timeout=120) as http, pool.acquire() as blocker:
            async with blocker.transaction():
                await blocker.execute("SELECT 1 FROM products WHERE id = $1 FOR UPDATE", uuid.UUID(product["id"]))
                request = asyncio.create_task(
                    http.post(
                        f"/api/v1/products/{product['id']}/stock",
                        json={"delta": 1, "reason": "held"},
                        headers=admin.headers,
                    )
                )
                await waiting_for_lock(pool)  # the request is in flight, inside the app
                yield Hung(process, log_file)
            with contextlib.suppress(httpx.TransportError):  # the forced stop cut it
                await request


@pytest.mark.long
async def test_a_second_sigint_forces_a_hung_stop(
    client: Client, admin: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    async with hung_server(settings, pool, client, admin, shutdown_timeout="0") as hung:
        hung.process.send_signal(signal.SIGINT)
        await until(lambda: stopping(hung.log_file), "the graceful stop began", within=30)
        await waiting_for_lock(pool)  # ... and cannot finish: the request still waits
        assert hung.process.poll() is None
        started = time.monotonic()
        hung.process.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(hung.process.wait, 30)
        elapsed = time.monotonic() - started
        log = hung.log_file.read_text(errors="replace")  # removed when the block ends
    assert elapsed < PROMPTLY, f"the second SIGINT took {elapsed:.1f} s to stop the server:\n{log}"
    assert code == 0, log  # a person asked for it: the command ends as after any stop
    assert "second stop signal: killing the workers now" in log


async def test_the_shutdown_timeout_forces_a_hung_stop(
    client: Client, admin: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    async with hung_server(settings, pool, client, admin, shutdown_timeout="2") as hung:
        started = time.monotonic()
        hung.process.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(hung.process.wait, 30)
        except subprocess.TimeoutExpired:
            pytest.fail("a hung drain: still running 30 s after one SIGINT with SHUTDOWN_TIMEOUT_SECONDS=2")
        elapsed = time.monotonic() - started
        log = hung.log_file.read_text(errors="replace")
    assert 2 <= elapsed < 2 + PROMPTLY, log
    assert "refused to gracefully stop" in log

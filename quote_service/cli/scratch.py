"""Scratch stores for a command's run, on the servers it was given: a new PostgreSQL database and
an empty Redis logical database, both emptied or dropped when the run ends.

They are on the configured servers (DATABASE_URL, REDIS_URL; else the embedded ones the command
started), so a command that needs them works wherever the service does, without the `embedded`
extra. A Redis logical database is the only place of its own a run can have on a shared Redis
(every key the service writes is named `qs:...`): the run claims an empty one, from 15 down, in
one atomic script (empty, then claimed), and empties it at the end only while its claim is still
there. Pub/Sub is not per database: the run's announcements (a configuration version, changed
products) reach the service's processes on the same server, which check their own configuration
version and find none of the run's products among theirs.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from quote_service.cli.common import CommandError
from quote_service.db.migrate import apply_migrations

REDIS_DATABASES = range(15, 0, -1)
"""The logical databases a run may claim (a default Redis has 0-15; the service's own is skipped)."""
CLAIM_KEY = "quote-service:scratch-claim"
"""In the claimed database alone (not a key of the service's, whose keys are `qs:...`)."""
_CLAIM_IF_EMPTY = "if redis.call('DBSIZE') == 0 then return redis.call('SET', KEYS[1], ARGV[1]) end return false"
_EMPTY_IF_CLAIMED = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('FLUSHDB') return 1 end return 0"


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.asynccontextmanager
async def scratch_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A new, migrated database named `prefix_...` on the server of `server_url`, dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = _with_database(server_url, name)
    try:
        await apply_migrations(url)
        yield url
    finally:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def redis_database_url(url: str, number: int) -> str:
    """`url` naming logical database `number` (`redis://host/N`; `unix://path?db=N`); a `db` in
    the query, which redis-py prefers to the path, is dropped."""
    base, _, query = url.partition("?")
    options = [(key, value) for key, value in parse_qsl(query) if key != "db"]
    if urlsplit(url).scheme == "unix":
        options.append(("db", str(number)))
    else:
        parts = urlsplit(base)
        base = urlunsplit(parts._replace(path=f"/{number}"))
    return f"{base}?{urlencode(options)}" if options else base


def _database_number(url: str) -> int:
    """The logical database `url` names (0 when it names none)."""
    parts = urlsplit(url)
    path = "" if parts.scheme == "unix" else parts.path.strip("/")
    return int(dict(parse_qsl(parts.query)).get("db") or path or 0)


@contextlib.asynccontextmanager
async def scratch_redis(url: str, *, cluster: bool) -> AsyncIterator[str]:
    """An empty logical database of the Redis server of `url`, claimed for the run and emptied
    afterwards (module docstring); CommandError when the server has none to give."""
    if cluster:
        raise CommandError(
            "this command needs a Redis logical database of its own, and a Redis Cluster has only one: "
            "point REDIS_URL at a standalone Redis (or unset it to use the embedded one)"
        )
    token = uuid.uuid4().hex
    own = _database_number(url)
    for number in REDIS_DATABASES:
        if number == own:
            continue
        scratch = redis_database_url(url, number)
        if await _claim(scratch, token):
            try:
                yield scratch
            finally:
                async with Redis.from_url(scratch) as client:
                    await client.eval(_EMPTY_IF_CLAIMED, 1, CLAIM_KEY, token)
            return
    raise CommandError(
        "no empty Redis logical database (1-15) on REDIS_URL's server for this command's scratch data: "
        "empty one (FLUSHDB) or point REDIS_URL at another Redis"
    )


async def _claim(url: str, token: str) -> bool:
    """Whether the (empty) logical database of `url` is now this run's; False when it holds keys
    or the server has no such database."""
    try:
        async with Redis.from_url(url) as client:
            return bool(await client.eval(_CLAIM_IF_EMPTY, 1, CLAIM_KEY, token))
    except ResponseError as exc:
        if "out of range" in str(exc):  # a server with fewer databases (`databases` in redis.conf)
            return False
        raise
    except (RedisError, OSError) as exc:
        raise CommandError(f"cannot use REDIS_URL's server for this command's scratch data: {exc}") from exc

"""The hot path's pipelined Redis connection (quote_service/cache/lean_redis.py) against the real server: replies
matched in order under concurrency, a cancelled caller's reply dropped, a lost connection or an error reply
handed to redis-py's own call (quotes/store.py `lean_script`), SELECT, a server that never answers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import hiredis
import pytest
from redis.asyncio.cluster import RedisCluster

from quote_service.cache import lean_redis
from quote_service.cache.lean_redis import LeanRedis, close_lean
from quote_service.cache.redis import RedisClient, create_redis
from quote_service.config import Settings
from quote_service.quotes.store import lean_script

_ECHO = "return {ARGV[1], redis.call('INCR', KEYS[1])}"


@contextlib.asynccontextmanager
async def client(url: str) -> AsyncIterator[RedisClient]:
    made = create_redis(url)
    try:
        yield made
    finally:
        close_lean(made)
        await made.aclose()


async def test_concurrent_calls_each_get_their_own_reply_in_one_connection(settings: Settings) -> None:
    key = f"qs:test:lean:{uuid.uuid4().hex}"
    async with client(settings.redis_url or "") as redis:
        script = redis.register_script(_ECHO)
        await script(keys=[key], args=["warm"])  # loaded
        replies = await asyncio.gather(*(lean_script(redis, script, [key], [f"call-{n}"]) for n in range(300)))
        assert [r[0] for r in replies] == [f"call-{n}".encode() for n in range(300)]
        assert sorted(r[1] for r in replies) == list(range(2, 302))  # each ran once
        await redis.delete(key)


async def test_a_cancelled_call_leaves_the_next_call_its_own_reply(settings: Settings) -> None:
    key = f"qs:test:lean:{uuid.uuid4().hex}"
    async with client(settings.redis_url or "") as redis:
        lean = LeanRedis.of(redis)
        assert lean is not None
        slow = asyncio.ensure_future(lean.call(hiredis.pack_command(("BLPOP", key, "0.2"))))
        await asyncio.sleep(0.02)
        slow.cancel()
        after = await lean.call(hiredis.pack_command(("ECHO", "mine")))
        assert after == b"mine"  # not the BLPOP's nil, read and dropped in order
        with pytest.raises(asyncio.CancelledError):
            await slow


async def test_a_lost_connection_or_a_flushed_script_goes_through_redis_py(settings: Settings) -> None:
    key = f"qs:test:lean:{uuid.uuid4().hex}"
    async with client(settings.redis_url or "") as redis, client(settings.redis_url or "") as other:
        script = redis.register_script(_ECHO)
        assert (await lean_script(redis, script, [key], ["a"]))[0] == b"a"  # NOSCRIPT at first: loaded by redis-py
        lean = LeanRedis.of(redis)
        assert lean is not None
        pipe = lean._pipe
        assert pipe is not None
        assert pipe.transport is not None
        mine = await lean.call(hiredis.pack_command(("CLIENT", "ID")))
        await other.execute_command("CLIENT", "KILL", "ID", mine)
        # The next call either finds the connection lost or loses it waiting: redis-py's call answers.
        assert (await lean_script(redis, script, [key], ["b"]))[0] == b"b"
        assert (await lean_script(redis, script, [key], ["c"]))[0] == b"c"
        assert lean._pipe is not pipe  # a new connection
        await other.script_flush()
        assert (await lean_script(redis, script, [key], ["d"]))[0] == b"d"  # NOSCRIPT: redis-py loads it
        assert int(await redis.get(key)) == 4
        await redis.delete(key)


async def test_a_database_other_than_0_is_selected(settings: Settings) -> None:
    base = (settings.redis_url or "").rsplit("/", 1)[0]
    key = f"qs:test:lean:{uuid.uuid4().hex}"
    async with client(f"{base}/5") as redis, client(f"{base}/0") as zero:
        lean = LeanRedis.of(redis)
        assert lean is not None
        assert await lean.call(hiredis.pack_command(("SET", key, "in-5"))) == b"OK"
        assert await redis.get(key) == b"in-5"
        assert await zero.get(key) is None
        await redis.delete(key)


async def test_a_server_that_never_answers_fails_the_call_after_the_socket_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lean_redis, "WATCH_SECONDS", 0.1)
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lean = LeanRedis({"host": "127.0.0.1", "port": port, "socket_timeout": 0.3}, unix=False)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ConnectionError):
            await lean.call(hiredis.pack_command(("PING",)))
        assert 0.25 <= asyncio.get_running_loop().time() - started < 2
    finally:
        lean.close()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


def test_only_a_plain_single_redis_gets_a_pipelined_connection() -> None:
    assert LeanRedis.of(create_redis("redis://127.0.0.1:6379/0")) is not None
    assert LeanRedis.of(create_redis("unix:///tmp/redis.sock?db=2")) is not None
    assert LeanRedis.of(create_redis("rediss://127.0.0.1:6380/0")) is None  # TLS: redis-py's connection
    cluster = RedisCluster(host="127.0.0.1", port=7000)
    assert LeanRedis.of(cluster) is None

"""One pipelined connection a process for the hot path's scripts: commands written back to back, replies
matched in order (docs/hot-path.md, "The hot path's Redis connection").

A quote's group commit and a checkout session's claim are one EVALSHA each. Through redis-py's pool a call
costs ~120 Python calls before and after the round trip itself: the pool's lock, a readiness check of the
connection, connection-count metrics, an event dispatched on release, a timeout context for the send and
one for the read. Here a call is its packed bytes written to one connection (`asyncio.Protocol`) and a
future that the reply resolves: Redis answers a connection's commands in the order they came, so the
futures wait in a queue and hiredis parses the replies as they arrive.

Only what the plain client supports is taken here: a TCP or Unix socket, RESP2, an optional AUTH and
SELECT (`LeanRedis.of` answers None for TLS, a cluster, or anything it does not know: the caller goes
through redis-py). Every failure is the caller's to hand to redis-py's own call (quotes/store.py
`lean_script`): a lost connection fails every waiting call with ConnectionError and the next call opens a
new one; a reply Redis refused comes back as `hiredis.ReplyError`. A call that waits more than the client's
socket timeout closes the connection (a watch that looks every second while calls wait). A caller
cancelled while it waits leaves its reply to be read and dropped, in order.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection

from quote_service.event_loop import running_loop

WATCH_SECONDS = 1.0
"""How often a connection with calls waiting looks whether the oldest has waited too long."""
_ACCEPTED = {"host", "port", "path", "db", "username", "password", "socket_timeout", "socket_connect_timeout"}
_IGNORED = {"health_check_interval", "decode_responses", "driver_info", "himport_registry"}
"""redis-py's settings that change nothing here: the connection is watched while it is used, and replies
stay bytes (the service's client does not decode them either)."""


class _Pipe(asyncio.Protocol):
    """The connection: futures waiting for replies, in the order their commands were written."""

    def __init__(self, timeout: float) -> None:
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.ticks_allowed = max(1, round(timeout / WATCH_SECONDS))
        self._watch: asyncio.TimerHandle | None = None
        self._oldest: asyncio.Future[Any] | None = None
        self._ticks = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop the connection was made in (the watch re-arms on it without a call to look it up)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = running_loop()

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        waiting = self.waiting
        while (reply := reader.gets()) is not False:
            future = waiting.popleft()
            if not future.done():  # its caller may have been cancelled
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._watch is not None:
            self._watch.cancel()
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(ConnectionError("the Redis connection was lost"))

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        loop = running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.waiting.append(future)
        assert self.transport is not None
        self.transport.write(packed)
        if self._watch is None:  # one loop look-up a send, armed or not (the cost meter counts the same each time)
            self._watch = loop.call_later(WATCH_SECONDS, self._look)
        return future

    def _look(self) -> None:
        """Every second while calls wait: a call at the head that outlived the timeout closes the connection
        (it and every call behind it fail; the next opens a new one)."""
        self._watch = None
        if not self.waiting or self.lost:
            self._oldest = None
            return
        head = self.waiting[0]
        if head is self._oldest:
            self._ticks += 1
            if self._ticks >= self.ticks_allowed and self.transport is not None:
                self.transport.abort()
                return
        else:
            self._oldest, self._ticks = head, 0
        loop = self._loop
        assert loop is not None  # calls wait only on a connection that was made
        self._watch = loop.call_later(WATCH_SECONDS, self._look)


class LeanRedis:
    """The pipelined connection of one client (`of`), opened on first use in the running event loop."""

    def __init__(self, settings: dict[str, Any], unix: bool) -> None:
        self.settings = settings
        self.unix = unix
        self._pipe: _Pipe | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Future[_Pipe] | None = None

    @classmethod
    def of(cls, client: Any) -> LeanRedis | None:
        """The client's pipelined connection (made once, kept on the client), or None where the client
        connects in a way this does not (TLS, RESP3, a cluster, settings it does not know)."""
        lean = getattr(client, "_qs_lean", False)
        if lean is not False:
            return lean  # type: ignore[return-value]
        made: LeanRedis | None = None
        pool = getattr(client, "connection_pool", None)
        if isinstance(client, Redis) and pool is not None:
            kind = pool.connection_class
            settings = {k: v for k, v in pool.connection_kwargs.items() if k not in _IGNORED}
            known = set(settings) <= _ACCEPTED and settings.get("protocol", 2) in (2, "2")
            if known and kind in (Connection, UnixDomainSocketConnection):
                made = cls(settings, unix=kind is UnixDomainSocketConnection)
        client._qs_lean = made
        return made

    async def call(self, packed: bytes) -> Any:
        """The reply to one packed command (a `hiredis.ReplyError` for an error reply); ConnectionError or
        OSError when there is no connection."""
        pipe = self._pipe
        if pipe is None or pipe.lost or self._loop is not running_loop() or pipe.transport.is_closing():  # type: ignore[union-attr]
            pipe = await self._open()
        return await pipe.send(packed)

    async def _open(self) -> _Pipe:
        loop = running_loop()
        if self._opening is not None and self._loop is loop and not self._opening.done():
            return await asyncio.shield(self._opening)
        if self._pipe is not None and self._loop is loop and not self._pipe.lost:
            return self._pipe
        self._loop = loop
        self._pipe = None
        self._opening = loop.create_future()
        try:
            pipe = await self._connect(loop)
        except BaseException as exc:
            self._opening.set_exception(ConnectionError(f"could not open the Redis connection: {exc!r}"))
            self._opening.exception()  # retrieved: nobody else may be waiting
            raise
        self._pipe = pipe
        self._opening.set_result(pipe)
        return pipe

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Pipe:
        s = self.settings
        timeout = float(s.get("socket_timeout") or 5)

        def protocol() -> _Pipe:
            return _Pipe(timeout)

        connect_timeout = float(s.get("socket_connect_timeout") or timeout)
        if self.unix:
            opening = loop.create_unix_connection(protocol, s["path"])
        else:
            opening = loop.create_connection(protocol, s.get("host", "localhost"), int(s.get("port", 6379)))
        _, pipe = await asyncio.wait_for(opening, connect_timeout)
        try:
            hello: list[tuple[Any, ...]] = []
            if s.get("password") is not None:
                user = s.get("username")
                hello.append(("AUTH", user, s["password"]) if user else ("AUTH", s["password"]))
            if int(s.get("db") or 0):
                hello.append(("SELECT", int(s["db"])))
            for command in hello:
                reply = await asyncio.wait_for(pipe.send(hiredis.pack_command(command)), timeout)
                if isinstance(reply, hiredis.ReplyError):
                    raise ConnectionError(f"Redis refused {command[0]}: {reply}")
        except BaseException:
            if pipe.transport is not None:
                pipe.transport.close()
            raise
        return pipe

    def close(self) -> None:
        """Closes the connection (a client being closed)."""
        if self._pipe is not None and self._pipe.transport is not None:
            self._pipe.transport.close()
        self._pipe = None


def close_lean(client: Any) -> None:
    """Closes `client`'s pipelined connection, if it opened one (the client being closed)."""
    lean = getattr(client, "_qs_lean", None)
    if lean is not None:
        lean.close()

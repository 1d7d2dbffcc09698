"""A process that starts while PostgreSQL or Redis is away: it serves 503s until they are back.

A worker must never fail its start for a store being away. granian takes a worker that exits
during its start for a crash, and the master used to stop every worker, healthy ones included,
when the respawned one failed again (server.py). So the lifespan opens the stores without
needing them (the pool connects on demand: `db.pool.open_pool`), and `DomainStarter` starts the
domains: at once when the stores answer; otherwise the worker serves at once and the start is
tried again in the background, 0.5 s after the failure, then backing off to every 2 s, until it
succeeds. Each failed try is undone first: the loops it started are stopped, what it put on
`app.state` is removed, so the next try starts from the same place.

Until the domains have started, `StartingGate` answers every route but /health and
/health/ready with 503 DEPENDENCY_UNAVAILABLE and Retry-After, and /health/ready says why the
worker is not ready (its `startup` check). A failure that is not a store being away (a bug, a
database without its migrations) still fails the first start: the worker exits, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog
from litestar.datastructures import State
from litestar.types import ASGIApp, Receive, Scope, Send

from quote_service.background import OUTAGES
from quote_service.errors import DependencyUnavailable

log = structlog.get_logger("quote_service.app")

Start = Callable[[contextlib.AsyncExitStack], Awaitable[None]]
"""Starts every domain, registering each stop on the stack it is given."""

FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 2.0


class DomainStarter:
    """Starts the domains now, or in the background once the stores answer (module docstring)."""

    def __init__(self) -> None:
        self._state = State()
        self._start: Start | None = None
        self._stops: contextlib.AsyncExitStack | None = None
        """The stops of the start that succeeded."""
        self._retrying: asyncio.Task[None] | None = None
        self.started = False
        self.attempts = 0
        self.error: str | None = None
        """Why the last try failed (None once started)."""
        self._waiting_since = 0.0

    async def begin(self, state: State, start: Start) -> None:
        """Run `start` (which fills the app's `state`); if a store is away, return at once and keep
        trying it in the background."""
        self._state, self._start, self.started, self.attempts = state, start, False, 0
        self._waiting_since = time.monotonic()
        if await self._attempt(first=True):
            return
        self._retrying = asyncio.create_task(self._retry(), name="domain-start")

    async def stop(self) -> None:
        """Stop trying, then stop the domains if they started (last started, first stopped)."""
        retrying, self._retrying = self._retrying, None
        if retrying is not None:
            retrying.cancel()
            await asyncio.gather(retrying, return_exceptions=True)
        stops, self._stops = self._stops, None
        self.started = False
        if stops is not None:
            await stops.aclose()

    def reason(self) -> str:
        """Why the domains have not started yet (for /health/ready)."""
        return f"starting for {self._waited():.0f} s, {self.attempts} tries; last: {self.error or 'under way'}"

    async def _retry(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            await asyncio.sleep(delay)
            if await self._attempt(first=False):
                return
            delay = min(MAX_RETRY_SECONDS, delay * 2)

    async def _attempt(self, *, first: bool) -> bool:
        """One try; True once the domains have started. A failure is undone before returning."""
        self.attempts += 1
        assert self._start is not None, "begin() gives the start"
        before = set(self._state)
        stops = contextlib.AsyncExitStack()
        try:
            await self._start(stops)
        except BaseException as exc:
            await stops.aclose()
            for name in set(self._state) - before:
                del self._state[name]
            if isinstance(exc, OUTAGES):
                self._failed(exc, unexpected=False)
                return False
            if first or not isinstance(exc, Exception):
                raise  # a bug fails the start as before (and a cancellation stays one)
            self._failed(exc, unexpected=True)
            return False
        self._stops, self.started, self.error = stops, True, None
        if not first:
            log.info("start_completed", attempts=self.attempts, waited_seconds=round(self._waited(), 1))
        return True

    def _failed(self, exc: Exception, *, unexpected: bool) -> None:
        self.error = f"{type(exc).__name__}: {exc}"[:200]
        if unexpected:  # PostgreSQL answers again but something else is wrong: keep trying, loudly
            log.error("start_failed", attempt=self.attempts, exc_info=exc)
        else:
            log.warning("start_waiting_for_stores", attempt=self.attempts, error=self.error)

    def _waited(self) -> float:
        return time.monotonic() - self._waiting_since


class StartingGate:
    """Litestar middleware: 503 + Retry-After for every route but /health* until the domains
    have started; afterwards one attribute read per request (the lean edge's quotes never get
    here)."""

    def __init__(self, app: ASGIApp, starter: DomainStarter) -> None:
        self.app = app
        self.starter = starter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.starter.started and not scope["path"].startswith("/health"):
            raise DependencyUnavailable(
                "This process is starting and cannot reach PostgreSQL or Redis yet; retry shortly"
            )
        await self.app(scope, receive, send)

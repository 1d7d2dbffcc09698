"""The one shape of the service's background loops: schedulers, jobs, samplers, followers.

Every process runs each loop (docs/architecture.md#background-loops): a loop pauses, runs one
pass, and keeps going when a pass fails (PostgreSQL or Redis away for a while) — the failure
is counted (`qs_background_pass_failures_total{loop}`), logged, and the next pass tries again.
Whatever must happen once across processes is decided inside the pass (a PostgreSQL slot row,
an advisory lock, a conditional UPDATE), never by the loop.

A loop is a `BackgroundLoop` subclass (or an `Every`, for a plain function run every so
often): it names itself (`task_name`, `failure_event`), says
how long to pause (`interval`, `jitter`, `max_backoff`, or its own `next_delay()`), and does
one pass in `run_pass()`. The component that owns it calls `start()` and, at shutdown,
`stop()`: the loop ends (its pass cancelled, or finished first with `finish_pass_on_stop`),
then `drain()` does what must not be lost (a writer's queue). `wake()` cuts a pause short.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable

import asyncpg
import structlog
from redis.exceptions import RedisError

from quote_service.observability.metrics import BACKGROUND_FAILURES

log = structlog.get_logger("quote_service.background")

OUTAGES = (
    RedisError,
    OSError,  # ConnectionError included
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # 57xxx: shutdowns, statement timeouts
    asyncpg.exceptions.InsufficientResourcesError,  # 53xxx: too many connections
    asyncpg.exceptions.LockNotAvailableError,  # 55P03: lock_timeout
)
"""A pass failing with one of these met a store that is away or busy: logged without a traceback."""

STOP_TIMEOUT_SECONDS = 2.0

_HELD: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
"""Event loops whose background loops wait before their next pass (`hold_loops`), each with the
event that lets them go on."""


def hold_loops() -> None:
    """Hold every background loop of the running event loop before its next pass, until
    `release_loops()` (a pass under way finishes). For the tests, which keep an app started while
    other tests run: its schedulers and jobs must not act on another test's rows."""
    _HELD.setdefault(asyncio.get_running_loop(), asyncio.Event())


def release_loops() -> None:
    """Let the background loops of the running event loop go on (`hold_loops`)."""
    held = _HELD.pop(asyncio.get_running_loop(), None)
    if held is not None:
        held.set()


"""How long `stop()` waits for the loop's task: a task stuck in a client library's
cancellation must not hold up the shutdown."""


class BackgroundLoop:
    """A component's background work as one asyncio task; `start()` it, `stop()` it.

    Subclasses set `task_name`, `failure_event` and `interval` and implement `run_pass()`.
    The pause before each pass is `next_delay()`: by default `interval` with ±`jitter`
    (spreading the processes' passes), doubled after each failed pass in a row up to
    `max_backoff` when that is set; `None` pauses until `wake()`. `start_at_once` runs the
    first pass without a pause.
    """

    task_name: str
    failure_event: str = "background_pass_failed"
    interval: float = 1.0
    jitter: float = 0.2
    max_backoff: float | None = None
    start_at_once: bool = False
    finish_pass_on_stop: bool = False
    """True: `stop()` lets a running pass finish (a write that must not be cut in the middle)
    for up to STOP_TIMEOUT_SECONDS before it cancels it."""
    failures: int = 0
    """Failed passes in a row (0 after a pass that succeeded)."""
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event | None = None
    _stopping: bool = False

    def start(self) -> None:
        self._stopping = False
        self._wake = asyncio.Event()
        BACKGROUND_FAILURES.labels(self.task_name)  # the series exists (at 0) from the start
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    @property
    def stopping(self) -> bool:
        """True once `stop()` was called: a long pass may end early."""
        return self._stopping

    def wake(self) -> None:
        """End the current pause now (work arrived); a wake during a pass skips the next pause."""
        if self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        """End the loop (boundedly), then `drain()`."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self.finish_pass_on_stop:
            self.wake()
            await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
        await self.drain()

    async def drain(self) -> None:
        """What must be finished after the loop ended (default: nothing)."""

    def next_delay(self) -> float | None:
        """Seconds to pause before the next pass (None: until `wake()`)."""
        delay = self.interval
        if self.failures and self.max_backoff is not None:
            delay = min(self.max_backoff, self.interval * 2**self.failures)
        if not self.jitter:
            return delay
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - jitter, not security

    async def run_pass(self) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        first = self.start_at_once
        while not self._stopping:
            if not first:
                await self._pause(self.next_delay())
                if self._stopping:
                    return
            first = False
            # Only the tests hold loops: a served app pays a truth test a pass, not two calls (the cost budget).
            held = _HELD.get(asyncio.get_running_loop()) if _HELD else None
            if held is not None:
                await held.wait()
                if self._stopping:
                    return
            try:
                await self.run_pass()
            except Exception as exc:  # the next pass tries again; cancellation still ends the loop
                self._failed(exc)
            else:
                self._succeeded()

    async def _pause(self, delay: float | None) -> None:
        assert self._wake is not None
        if delay is None or delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
        self._wake.clear()

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        BACKGROUND_FAILURES.labels(self.task_name).inc()
        # One line at 1, 2, 4, 8, ... failures in a row (an outage of minutes costs a few lines,
        # not one per pass). A store that is away says so in its message; a traceback is only
        # for the unexpected, once (rendering one costs more than a pass, and says nothing new).
        if self.failures & (self.failures - 1):
            return
        if self.failures == 1 and not isinstance(exc, OUTAGES):
            log.warning(self.failure_event, loop=self.task_name, exc_info=exc)
        else:
            log.warning(self.failure_event, loop=self.task_name, failures=self.failures, error=repr(exc))

    def _succeeded(self) -> None:
        if self.failures:
            log.info("background_loop_recovered", loop=self.task_name, failures=self.failures)
        self.failures = 0


class Every(BackgroundLoop):
    """A loop that runs `run()` every `interval` seconds (no jitter); after a failed pass the
    next one waits `backoff` seconds instead, when that is longer."""

    jitter = 0.0

    def __init__(
        self,
        name: str,
        interval: float,
        run: Callable[[], Awaitable[None]],
        *,
        failure_event: str = "background_pass_failed",
        backoff: float = 0.0,
    ) -> None:
        self.task_name = name
        self.failure_event = failure_event
        self.interval = interval
        self._pass = run
        self._backoff = backoff

    def next_delay(self) -> float | None:
        return max(self.interval, self._backoff) if self.failures else self.interval

    async def run_pass(self) -> None:
        await self._pass()


async def stop_all(loops: Iterable[BackgroundLoop]) -> None:
    """Stop several loops at once (each bounded by its own `stop()`)."""
    await asyncio.gather(*(loop.stop() for loop in loops))

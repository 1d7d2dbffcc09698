"""What runs by the clock in a worker, pinned, so that counting a quote's work (instructions under
valgrind: bench_instructions.py; calls: tests/integration/test_cost_budget.py) does not follow how
long the count lasts: under valgrind a window lasts ~30-50x longer than natively, and one tree's
count drifted from 857 K to 1,355 K instructions a quote with the machine's load.

Inside `with ClockPins() as pins:` (the patches are undone at its end; the code of any release
since 2026-11-25 has the names patched):
- principals never expire (10 s natively: auth/service.py's PRINCIPAL_TTL_SECONDS), nor do the products'
  local cache entries (30 s natively: cache/products.py's LOCAL_TTL_SECONDS; their expiry landing inside a
  window turned its 20 Redis reads into 286);
- once `await pins.pin()` has run, every background loop's timed pause becomes "until woken"
  (schedulers, pollers, the metrics flush, the zstd dictionary's keeper, the quote log's 0.2 s
  writer: they then run only when something wakes them, as the group commit is by each put), the
  channels' followers wait for a message instead of polling every second, and the deadline
  watches' 5 ms timers stop; `pins.tick()` runs each watch's check once (what its
  ticks would have done), `drain_log(app)` the quote log writer's passes (its rows written now).
"""

from __future__ import annotations

import asyncio
from typing import Any


class _Never:
    """A timer that never fires (a deadline watch checked by `ClockPins.tick` instead)."""

    def cancel(self) -> None:
        pass


NEVER = _Never()


class ClockPins:
    """See the module docstring."""

    def __init__(self) -> None:
        self.on = False
        self.loops: list[Any] = []
        self.pausing: set[Any] = set()
        """The loops waiting in their pause now (the others are in a pass)."""
        self.watches: list[Any] = []
        self._undo: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> ClockPins:
        from quote_service.auth import service as auth_service
        from quote_service.background import BackgroundLoop
        from quote_service.cache import products
        from quote_service.quotes.deadlines import DeadlineWatch

        pins = self
        start, pause = BackgroundLoop.start, BackgroundLoop._pause
        watch_init, watch_add = DeadlineWatch.__init__, DeadlineWatch.add

        from redis.asyncio.client import PubSub

        get_message = PubSub.get_message

        async def message(
            pubsub: Any,
            ignore_subscribe_messages: bool = False,
            timeout: float | None = 0.0,  # noqa: ASYNC109 - redis-py's signature
        ) -> Any:
            if pins.on and timeout:  # a channel's follower polls every second: wait for a message instead
                timeout = 10**6
            return await get_message(pubsub, ignore_subscribe_messages=ignore_subscribe_messages, timeout=timeout)

        def started(loop: Any) -> None:
            pins.loops.append(loop)
            start(loop)

        async def paused(loop: Any, delay: float | None) -> None:
            pins.pausing.add(loop)
            try:
                await pause(loop, None if pins.on else delay)
            finally:
                pins.pausing.discard(loop)

        def watch(self: Any, *args: Any, **kwargs: Any) -> None:
            watch_init(self, *args, **kwargs)
            pins.watches.append(self)

        def add(self: Any, bound: Any, loop: Any) -> None:
            if pins.on and self._timer is None and self._loop is loop:
                self._timer = NEVER  # checked by `tick()`, not every 5 ms
            watch_add(self, bound, loop)

        for owner, name, value in (
            (auth_service, "PRINCIPAL_TTL_SECONDS", 10**7),
            (products, "LOCAL_TTL_SECONDS", 10**7),
            (BackgroundLoop, "start", started),
            (BackgroundLoop, "_pause", paused),
            (DeadlineWatch, "__init__", watch),
            (DeadlineWatch, "add", add),
            (PubSub, "get_message", message),
        ):
            self._undo.append((owner, name, getattr(owner, name)))
            setattr(owner, name, value)
        return self

    def __exit__(self, *_: object) -> None:
        self.on = False
        for owner, name, value in reversed(self._undo):
            setattr(owner, name, value)
        self._undo.clear()

    def timed_tasks(self) -> frozenset[Any]:
        """The tasks of the background loops that run by the clock (all but those woken by work: the
        group commit's pause has no timeout)."""
        return frozenset(loop._task for loop in self.loops if loop._task is not None and _timed(loop))

    def watch_app(self, app: Any) -> None:
        """Pin the deadline watches of an app created before these pins (the lean edge's, the quote service's)."""
        quotes = app.state.get("quotes")
        service_watch = getattr(quotes, "deadlines", None) or getattr(
            quotes, "_deadlines", None
        )  # a tree before or after
        for watch in (service_watch, *_edge_watches(app)):
            if watch is not None and watch not in self.watches:
                self.watches.append(watch)

    async def pin(self, settle: float = 0.6) -> None:
        """From now on, timed pauses last until a wake: every loop is woken once, so that its
        current pause (timed when it began) ends and its pass runs now (`settle` seconds are given
        to those passes: the stream consumer's blocking read lasts up to 250 ms, and a wake during a
        pass skips the next pause), before anything is counted."""
        self.on = True
        for loop in self.loops:
            loop.wake()
        for watch in self.watches:
            if watch._timer is not None and watch._timer is not NEVER:
                watch._timer.cancel()
                watch._timer = NEVER
        await asyncio.sleep(settle)
        # A pass that outlasts `settle` (a guardrail's statistics over a seeded history, under valgrind)
        # would run on into what is counted: wait for every loop to be back in its pause (a minute at most;
        # a channel's follower or a blocking read's pass never ends, and is not waited for).
        for _ in range(600):
            busy = [loop for loop in self.loops if loop not in self.pausing and loop._task is not None
                    and not loop._task.done() and not _endless(loop)]  # fmt: skip
            if not busy:
                break
            await asyncio.sleep(0.1)
        for loop in self.loops:
            if loop._wake is not None:  # a wake left over from a pass under way: not one more pass
                loop._wake.clear()

    async def unpin(self) -> None:
        """Timed pauses again (each loop woken to time its next pause), the watches' timers too."""
        self.on = False
        for loop in self.loops:
            loop.wake()
        self.tick()

    def tick(self) -> None:
        """Each deadline watch's check, once: what its 5 ms timer would have done meanwhile (every
        entry that has ended is dropped, as a tick drops it)."""
        for watch in self.watches:
            if watch._loop is not None and watch._heap:
                watch._check()
            elif watch._timer is NEVER:
                watch._timer = None


def _endless(loop: Any) -> bool:
    """A loop whose pass runs until it is stopped (a channel's follower: its pass is its subscription)."""
    return type(loop).__name__ == "ChannelFollower"


def _timed(loop: Any) -> bool:
    was, loop.failures = loop.failures, 0
    try:
        return loop.next_delay() is not None
    finally:
        loop.failures = was


def _edge_watches(app: Any) -> list[Any]:
    """The lean edge's deadline watch: `app.asgi_handler`, or inside the trace and proxy-header layers."""
    layer = getattr(app, "asgi_handler", None)
    for _ in range(4):
        if layer is None:
            break
        if hasattr(layer, "_deadlines"):
            return [layer._deadlines]
        layer = getattr(layer, "app", None)
    return []


async def drain_log(app: Any) -> None:
    """Write the quote log's queued rows now (the writer's passes), whatever the release's shape."""
    store = app.state.quotes._store
    settle = getattr(store, "settle", None)
    if settle is not None:
        await settle()
        return
    log = store.log
    if hasattr(log, "write_pending"):  # a spool (2026-11-25 on)
        await log.write_pending()
        return
    while log.backlog:
        await log.write_batch()

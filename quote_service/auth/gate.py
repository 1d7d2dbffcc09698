"""A bound on concurrent password hashing work in one process, with a short, two-lane queue.

argon2id is built to cost CPU and memory, and each verification runs in a thread. Without a
bound, a flood of wrong passwords queues unlimited work behind every genuine login (64 guesses
in flight made every login take ~16 s). Here at most `slots` verifications run at once, a few
wait, and anyone beyond that is answered 503 OVERLOADED at once rather than stacking work
nobody will wait for.

Waiters are served in two lanes of at most `max_waiting` each. "Suspect" attempts
(auth/throttle.py: a recent failure, or several recent attempts without a success, on the
account or from the address) wait behind the others, first come first served, and are refused
when their lane is full. The others are served newest first, and when their lane is full the
oldest is refused instead of the newcomer: the opening burst of a flood (whose first attempts
do not look like guessing yet) cannot make someone who arrives later wait behind it or be
turned away. A person logging in during a guessing flood from other addresses therefore waits
for the verifications already running, not for the flood.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
from collections.abc import AsyncIterator

from quote_service.errors import Overloaded
from quote_service.event_loop import running_loop


def default_slots() -> int:
    """One verification per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class HashingGate:
    """At most `slots` holders at once; up to `max_waiting` queued per lane, clean ones first."""

    def __init__(self, slots: int, max_waiting: int) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self.running = 0
        self._clean: collections.deque[asyncio.Future[None]] = collections.deque()
        self._suspect: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def waiting(self) -> int:
        """How many callers are queued now."""
        return len(self._clean) + len(self._suspect)

    @contextlib.asynccontextmanager
    async def slot(self, *, suspect: bool) -> AsyncIterator[None]:
        """Hold one slot for the body; raises Overloaded when the queue is full."""
        await self._acquire(suspect)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, suspect: bool) -> None:
        if self.running < self.slots and not self.waiting:
            self.running += 1
            return
        lane = self._suspect if suspect else self._clean
        if len(lane) >= self.max_waiting:
            if suspect:
                raise _overloaded()
            # Served newest first, so the oldest clean waiter is the one to turn away.
            oldest = lane.popleft()
            if not oldest.done():
                oldest.set_exception(_overloaded())
        waiter: asyncio.Future[None] = running_loop().create_future()
        lane.append(waiter)
        try:
            await waiter  # _release hands its slot over: `running` is not decremented in between
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release()  # handed a slot while being cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # a _release may have dropped it already
                    lane.remove(waiter)
            raise

    def _release(self) -> None:
        # Clean attempts newest first: a flood's opening burst (whose first attempts look clean)
        # cannot make a person who arrives later wait behind it. Suspect ones in arrival order.
        for lane, take in ((self._clean, self._clean.pop), (self._suspect, self._suspect.popleft)):
            while lane:
                waiter = take()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self.running -= 1


def _overloaded() -> Overloaded:
    return Overloaded("Too many logins in progress; retry shortly", retry_after=1)

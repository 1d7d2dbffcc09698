"""Deadlines for the request path, watched by one timer per process instead of one per request.

`asyncio.timeout_at` schedules a timer for every request and cancels it at the end: ~5 µs a
time under uvloop, and a quote on the lean edge took two (the body read and the quote's own
deadline; BENCHMARKS.md, "Decisions"). `DeadlineWatch.bound(when)` does
the same as a plain `with` in the task it bounds: the task is cancelled once `when` (event-loop
time) has passed, the cancellation leaves the block as `TimeoutError`, and `expired()` says
whether it was this deadline; but entering and leaving one only pushes an entry on a heap and
clears a flag (~2 µs instead of ~5). One timer per watch checks the heap's head every `tick`
seconds while any entry is left, and cancels the tasks whose deadline passed. A deadline
therefore fires up to one tick (5 ms) late, which a 2-second quote deadline or a 10-second
body-read deadline does not notice.

A bound can be entered again, with a later or an earlier `when` set in between (the lean edge's
request: its body read, then its quote, on one entry): an earlier deadline files a new entry, a
later one keeps the entry it has, which the check files again at the new deadline once it comes
due (one heap entry a request instead of one a block, in the common case that ends first).

Exactly as asyncio's: a block that ends before its deadline is untouched; a deadline that
fires while the task is also cancelled for another reason (shutdown, the client gone) lets that
cancellation through instead of turning it into TimeoutError (`Task.uncancel` bookkeeping).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from types import TracebackType

from quote_service.event_loop import running_loop


class Bound:
    """One task's deadline (see module docstring): `with watch.bound(when) as bound: ...` in a task.
    `when` may be set again between two blocks (the module docstring)."""

    __slots__ = ("_cancelling", "_expired", "_watch", "active", "filed", "task", "when")

    def __init__(self, watch: DeadlineWatch, when: float) -> None:
        self._watch = watch
        self.when = when
        self.active = False
        self._expired = False
        self._cancelling = 0
        self.task: asyncio.Task[object] | None = None
        self.filed: float | None = None
        """The deadline of its heap entry the watch acts on (None: none is left)."""

    def __enter__(self) -> Bound:
        loop = running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline needs to be entered in a task")
        self.task, self._cancelling, self.active = task, task.cancelling(), True
        filed = self.filed
        if filed is None or self.when < filed:  # a later deadline: the entry it has is filed again when due
            self._watch.add(self, loop)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.active = False
        task, self.task = self.task, None  # the entry may wait in the heap a little: not the task with it
        if (
            self._expired
            and exc_type is asyncio.CancelledError
            and task is not None
            and task.uncancel() <= self._cancelling
        ):
            raise TimeoutError from exc

    def expire(self) -> None:
        """The deadline passed while the block runs: cancel its task (once)."""
        if self._expired:
            return
        self._expired = True
        if self.task is not None:
            self.task.cancel()

    def expired(self) -> bool:
        """Whether this deadline cancelled the block."""
        return self._expired


class DeadlineWatch:
    """Deadlines of many tasks on one event loop, checked every `tick` seconds (see module docstring)."""

    def __init__(self, tick: float = 0.005) -> None:
        self._tick = tick
        self._heap: list[tuple[float, int, Bound]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bound(self, when: float) -> Bound:
        """A context manager that cancels its task once event-loop time `when` has passed."""
        return Bound(self, when)

    def add(self, bound: Bound, loop: asyncio.AbstractEventLoop) -> None:
        """Watch `bound`, entered in a task of `loop` (the running loop)."""
        if loop is not self._loop:  # a new event loop (tests start one per test): the old one's entries are moot
            self._loop, self._heap, self._timer = loop, [], None
        bound.filed = when = bound.when
        heapq.heappush(self._heap, (when, next(self._order), bound))
        if self._timer is None:
            self._timer = loop.call_later(self._tick, self._check)

    def _check(self) -> None:
        """Cancel what is due and drop what ended; come back while entries are left.

        A block that ends leaves its entry behind (removing it from the middle of the heap would
        cost more than the timer it replaces); deadlines come nearly in arrival order, so the
        ended ones reach the head and are dropped at the next check. An entry whose bound has
        filed an earlier one since is dropped; one whose bound's deadline moved later is filed
        again at it."""
        loop = self._loop
        assert loop is not None
        now, heap = loop.time(), self._heap
        try:
            while heap and (heap[0][0] <= now or not heap[0][2].active):
                filed, _, bound = heapq.heappop(heap)
                if filed != bound.filed:  # superseded by an earlier entry of the same bound
                    continue
                if not bound.active:
                    bound.filed = None
                elif bound.when <= now:
                    bound.filed = None
                    bound.expire()
                else:  # its deadline moved later (entered again): filed at the new one
                    self.add(bound, loop)
        finally:  # whatever happened, the remaining deadlines stay watched
            self._timer = loop.call_later(self._tick, self._check) if heap else None

"""Deadlines watched by one timer (quote_service/quotes/deadlines.py) behave as asyncio.timeout_at."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine

import pytest

from quote_service.quotes.deadlines import Bound, DeadlineWatch

TICK = 0.002


async def _bounded(watch: DeadlineWatch, seconds: float, forever: asyncio.Event) -> bool:
    """Wait on an event nobody sets under a deadline `seconds` away; whether the deadline ended it."""
    loop = asyncio.get_running_loop()
    bound = watch.bound(loop.time() + seconds)

    async def wait() -> None:
        async with asyncio.timeout(5):  # a watch that never fires fails the test, never hangs it
            with bound:
                await forever.wait()

    with pytest.raises(TimeoutError):
        await wait()
    return bound.expired()


async def test_a_block_past_its_deadline_ends_with_timeout_error_soon_after() -> None:
    watch, loop = DeadlineWatch(tick=TICK), asyncio.get_running_loop()
    started = loop.time()
    assert await _bounded(watch, 0.02, asyncio.Event())
    assert 0.02 <= loop.time() - started < 0.02 + 0.5  # one tick late at most, plus a loaded box


async def test_each_deadline_fires_in_its_own_order_whatever_the_order_of_entry() -> None:
    watch, loop = DeadlineWatch(tick=TICK), asyncio.get_running_loop()
    ended: list[str] = []

    async def waiter(name: str, seconds: float) -> None:
        await _bounded(watch, seconds, asyncio.Event())
        ended.append(name)

    # The later deadline enters first: a queue in order of entry would hold the earlier one back.
    late = asyncio.create_task(waiter("late", 0.4))
    await asyncio.sleep(0)
    started = loop.time()
    await waiter("early", 0.02)
    assert ended == ["early"]
    assert loop.time() - started < 0.3
    await late
    assert ended == ["early", "late"]


async def test_a_block_that_ended_in_time_is_never_cancelled_afterwards() -> None:
    watch, loop = DeadlineWatch(tick=TICK), asyncio.get_running_loop()
    with watch.bound(loop.time() + 0.01) as bound:
        pass
    # Well past the old deadline: only our own timeout may end this wait.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await asyncio.Event().wait()
    assert not bound.expired()


async def test_another_cancellation_is_not_turned_into_a_timeout() -> None:
    watch, loop = DeadlineWatch(tick=60), asyncio.get_running_loop()  # checked by hand below
    entered = asyncio.Event()

    async def bounded() -> None:
        with watch.bound(loop.time() - 1):  # already due
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(bounded())
    await entered.wait()
    task.cancel()  # shutdown, or the client gone ...
    watch._check()  # ... and the deadline, before the task runs again
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_watch_keeps_working_on_the_next_event_loop() -> None:
    # Tests start an event loop per test, and a service (with its watch) may outlive one: a task
    # stranded inside a deadline on a closed loop must not stop the next loop's deadlines.
    watch, old = DeadlineWatch(tick=TICK), asyncio.new_event_loop()
    entered = asyncio.Event()

    async def stranded() -> None:
        with watch.bound(asyncio.get_running_loop().time() + 0.01):
            entered.set()
            await asyncio.Event().wait()

    old.run_until_complete(_start(stranded, entered))
    old.close()  # the task never ended: its deadline is still in the watch
    assert asyncio.run(_bounded(watch, 0.02, asyncio.Event()))


async def _start(make: Callable[[], Coroutine[object, object, None]], entered: asyncio.Event) -> None:
    asyncio.get_running_loop().create_task(make())
    await entered.wait()


async def _held_until_it_fires(bound: Bound) -> None:
    """Enter `bound` again and wait in it (a 5-second outer limit: a deadline that never fires fails)."""
    async with asyncio.timeout(5):
        with bound:
            await asyncio.Event().wait()


async def test_a_bound_entered_again_with_a_later_deadline_keeps_one_entry_and_fires_at_the_new_one() -> None:
    """The lean edge's request: the body read's deadline, then (entered again) the quote's, later."""
    watch, loop = DeadlineWatch(tick=TICK), asyncio.get_running_loop()
    bound = watch.bound(loop.time() + 0.02)
    with bound:
        pass
    bound.when = loop.time() + 0.15
    started = loop.time()

    with pytest.raises(TimeoutError):
        await _held_until_it_fires(bound)
    assert bound.expired()
    assert 0.15 <= loop.time() - started < 0.15 + 0.5  # not at the first deadline: filed again at the new one
    assert len(watch._heap) <= 1


async def test_a_bound_entered_again_with_an_earlier_deadline_fires_at_it() -> None:
    watch, loop = DeadlineWatch(tick=TICK), asyncio.get_running_loop()
    bound = watch.bound(loop.time() + 10)
    with bound:
        pass
    bound.when = loop.time() + 0.02
    started = loop.time()

    with pytest.raises(TimeoutError):
        await _held_until_it_fires(bound)
    assert bound.expired()
    assert loop.time() - started < 0.02 + 0.5


async def test_a_bound_entered_again_after_its_entry_was_dropped_is_filed_again() -> None:
    watch, loop = DeadlineWatch(tick=60), asyncio.get_running_loop()  # checked by hand below
    bound = watch.bound(loop.time() + 10)
    with bound:
        pass
    watch._check()  # drops the ended block's entry
    assert not watch._heap
    bound.when = loop.time() - 1  # already due

    async def bounded() -> None:
        with bound:
            await asyncio.Event().wait()

    task = asyncio.create_task(bounded())
    await asyncio.sleep(0)
    watch._check()
    with pytest.raises(TimeoutError):
        await task
    assert bound.expired()

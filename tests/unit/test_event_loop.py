"""`event_loop.running_loop()`: asyncio's answer without its getpid() per call, in every case
where the remembered loop would be the wrong one (another thread, a later loop, a forked child)."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
import uvloop

from quote_service import event_loop
from quote_service.event_loop import running_loop


def test_inside_a_loop_it_is_the_running_loop_for_either_loop_implementation() -> None:
    async def both() -> tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]:
        return asyncio.get_running_loop(), running_loop(), running_loop()

    for run in (asyncio.run, uvloop.run):
        expected, first, remembered = run(both())
        assert first is expected
        assert remembered is expected


def test_outside_a_loop_it_raises_as_asyncio_does() -> None:
    async def nothing() -> None:
        running_loop()

    asyncio.run(nothing())  # remembers a loop, which has stopped since
    with pytest.raises(RuntimeError, match="no running event loop"):
        running_loop()


def test_a_later_loop_on_the_same_thread_is_not_taken_for_the_earlier_one() -> None:
    async def which() -> tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]:
        return asyncio.get_running_loop(), running_loop()

    first_loop, first = asyncio.run(which())
    second_loop, second = asyncio.run(which())
    assert first is first_loop
    assert second is second_loop
    assert second is not first


def test_each_thread_gets_its_own_loop_while_both_run() -> None:
    seen: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]] = {}
    other_running = threading.Event()
    main_looked = threading.Event()

    async def other() -> None:
        running_loop()
        other_running.set()
        await asyncio.to_thread(main_looked.wait, 10)
        seen["other"] = (asyncio.get_running_loop(), running_loop())

    thread = threading.Thread(target=lambda: asyncio.run(other()))

    async def main() -> None:
        thread.start()
        await asyncio.to_thread(other_running.wait, 10)  # the other thread's loop is the one remembered
        seen["main"] = (asyncio.get_running_loop(), running_loop())
        main_looked.set()  # now this thread's is: the other thread must not take it
        await asyncio.to_thread(thread.join, 10)

    asyncio.run(main())
    assert seen["main"][1] is seen["main"][0]
    assert seen["other"][1] is seen["other"][0]
    assert seen["main"][0] is not seen["other"][0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_child_forked_inside_the_loop_does_not_use_its_parent_s_loop() -> None:
    """The copied loop still says it is running, on a thread with the same id: only the at-fork
    hook makes the child ask asyncio, which knows that loop is not the child's."""

    async def fork() -> int:
        assert running_loop() is asyncio.get_running_loop()  # remembered before the fork
        pid = os.fork()
        if pid == 0:  # the child: exit at once, with what it found
            try:
                running_loop()
            except RuntimeError:
                os._exit(0)
            os._exit(1)
        _, status = await asyncio.to_thread(os.waitpid, pid, 0)
        return os.waitstatus_to_exitcode(status)

    assert asyncio.run(fork()) == 0
    assert event_loop._last is not None  # the parent still remembers its own

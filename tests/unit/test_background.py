"""The one background-loop shape (quote_service/background.py): passes, failures and their
metric, backoff, wake-ups, stop (cancel, or let the pass finish) and drain. No I/O: each loop
records what it did and signals the test through events (no sleeps as synchronisation)."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from quote_service.background import BackgroundLoop, Every, hold_loops, release_loops, stop_all

FAILURES = "qs_background_pass_failures_total"


def failures_of(loop: str) -> float:
    return REGISTRY.get_sample_value(FAILURES, {"loop": loop}) or 0.0


class Scripted(BackgroundLoop):
    """Runs its passes from a script: each item is None (succeed) or an exception to raise."""

    interval = 3600.0  # never by the clock: the test wakes it
    jitter = 0.0
    start_at_once = True

    def __init__(self, name: str, script: list[Exception | None]) -> None:
        self.task_name = name
        self.script = script
        self.passes = 0
        self.delays: list[float | None] = []
        self.passed = asyncio.Event()
        self.drained = False

    def next_delay(self) -> float | None:
        delay = super().next_delay()
        self.delays.append(delay)
        return delay

    async def run_pass(self) -> None:
        self.passes += 1
        self.passed.set()
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome

    async def drain(self) -> None:
        self.drained = True

    async def next_pass(self) -> None:
        self.passed.clear()
        self.wake()
        await asyncio.wait_for(self.passed.wait(), 5)


async def test_a_failed_pass_is_counted_and_the_loop_goes_on() -> None:
    loop = Scripted("unit-failing", [RuntimeError("first"), RuntimeError("second"), None])
    before = failures_of("unit-failing")
    loop.start()
    await asyncio.wait_for(loop.passed.wait(), 5)  # the first pass ran at once, and failed
    await loop.next_pass()  # fails again
    await loop.next_pass()  # succeeds
    await loop.next_pass()
    await loop.stop()
    assert loop.passes == 4
    assert failures_of("unit-failing") - before == 2
    assert loop.failures == 0  # reset by the pass that succeeded
    assert loop.drained


async def test_backoff_doubles_up_to_its_bound_and_resets() -> None:
    loop = Scripted("unit-backoff", [RuntimeError()] * 4)
    loop.max_backoff = 4 * 3600.0
    loop.start()
    await asyncio.wait_for(loop.passed.wait(), 5)
    for _ in range(5):  # passes 2-6: four failures in a row, then successes
        await loop.next_pass()
    await loop.stop()
    # After 1, 2, 3, 4 failures in a row: 2x, 4x, then the bound; after a success: the interval.
    assert loop.delays[:5] == [7200.0, 14400.0, 14400.0, 14400.0, 3600.0]


async def test_stop_cancels_a_pass_unless_it_must_finish() -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    class Slow(BackgroundLoop):
        start_at_once = True

        def __init__(self, name: str, *, finish: bool) -> None:
            self.task_name = name
            self.finish_pass_on_stop = finish

        async def run_pass(self) -> None:
            entered.set()
            await release.wait()
            finished.append(self.task_name)

    cut = Slow("unit-cut", finish=False)
    cut.start()
    await asyncio.wait_for(entered.wait(), 5)
    await cut.stop()  # cancelled in the middle of its pass
    assert finished == []

    entered.clear()
    kept = Slow("unit-kept", finish=True)
    kept.start()
    await asyncio.wait_for(entered.wait(), 5)
    stopping = asyncio.create_task(kept.stop())
    release.set()
    await stopping
    assert finished == ["unit-kept"]  # the pass ran to its end, and no further pass began


async def test_every_runs_a_function_and_stop_all_stops_them_together() -> None:
    ran: dict[str, int] = {"a": 0, "b": 0}
    both = asyncio.Event()

    def counter(key: str) -> Every:
        async def run() -> None:
            ran[key] += 1
            if all(ran.values()):
                both.set()

        return Every(f"unit-every-{key}", 0.001, run)

    loops = [counter("a"), counter("b")]
    for loop in loops:
        loop.start()
    await asyncio.wait_for(both.wait(), 5)
    await stop_all(loops)
    assert all(loop.stopping for loop in loops)
    counts = dict(ran)
    await asyncio.sleep(0)  # a stopped loop runs no further pass
    assert ran == counts


async def test_held_loops_wait_before_their_next_pass_until_released_and_still_stop() -> None:
    loop = Scripted("unit-held", [])
    loop.start()
    await asyncio.wait_for(loop.passed.wait(), 5)
    hold_loops()
    try:
        loop.passed.clear()
        loop.wake()
        for _ in range(20):  # the loop reaches its wait and stays there
            await asyncio.sleep(0)
        assert loop.passes == 1
    finally:
        release_loops()
    await asyncio.wait_for(loop.passed.wait(), 5)
    assert loop.passes == 2
    hold_loops()
    try:
        loop.wake()
        await asyncio.wait_for(loop.stop(), 5)  # a held loop is cancelled by its stop, not waited out
        assert loop.passes == 2
        assert loop.drained
    finally:
        release_loops()

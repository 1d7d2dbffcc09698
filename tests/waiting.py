"""Waiting on a condition, never on a guess of how long work takes.

`until(probe, what)` asks `probe` again and again (a short pause between asks) until it answers
true, and fails naming `what` when `within` seconds pass first. The bound only turns a hang into
a failure; a passing test waits exactly as long as the condition takes.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

PAUSE = 0.01
"""Seconds between two asks."""


async def until(probe: Callable[[], Awaitable[bool] | bool], what: str, *, within: float = 10.0) -> None:
    """Return once `probe()` (awaited when it is a coroutine) is true; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await _answer(probe):
        assert time.monotonic() < deadline, f"not within {within:g} s: {what}"
        await asyncio.sleep(PAUSE)


async def _answer(probe: Callable[[], Awaitable[bool] | bool]) -> bool:
    answer = probe()
    return await answer if inspect.isawaitable(answer) else answer


def until_sync(probe: Callable[[], bool], what: str, *, within: float = 10.0) -> None:
    """`until` for code without an event loop."""
    deadline = time.monotonic() + within
    while not probe():
        assert time.monotonic() < deadline, f"not within {within:g} s: {what}"
        time.sleep(PAUSE)

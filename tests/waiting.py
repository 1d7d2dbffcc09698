"""Waiting on a condition, never on a guess of how long work takes.

`until(probe, what)` asks `probe` again and again (a short pause between asks) until it answers
true, and fails naming `what` when `within` seconds pass first. The bound only turns a hang into
a failure; a passing test waits exactly as long as the condition takes. It returns the true
answer, so a probe can hand back what it read (a row, a response) instead of a bare True.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

PAUSE = 0.01
"""Seconds between two asks."""

T = TypeVar("T")


@overload
async def until(probe: Callable[[], Awaitable[T | None]], what: str, *, within: float = 10.0) -> T: ...


@overload
async def until(probe: Callable[[], T | None], what: str, *, within: float = 10.0) -> T: ...


async def until(probe: Callable[[], Awaitable[T | None] | T | None], what: str, *, within: float = 10.0) -> T:
    """Return `probe()`'s first true answer (awaited when it is awaitable); fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not (answer := await _answer(probe)):
        assert time.monotonic() < deadline, f"not within {within:g} s: {what}"
        await asyncio.sleep(PAUSE)
    return answer


async def _answer(probe: Callable[[], Awaitable[T | None] | T | None]) -> T | None:
    answer = probe()
    if inspect.isawaitable(answer):
        return await answer
    return answer


def until_sync(probe: Callable[[], T | None], what: str, *, within: float = 10.0) -> T:
    """`until` for code without an event loop."""
    deadline = time.monotonic() + within
    while not (answer := probe()):
        assert time.monotonic() < deadline, f"not within {within:g} s: {what}"
        time.sleep(PAUSE)
    return answer

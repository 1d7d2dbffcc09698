"""Waiting on a condition (never on a guessed delay): poll a probe until it holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

POLL_SECONDS = 0.01


async def until(probe: Callable[[], Awaitable[object]], what: str, *, within: float = 30.0) -> None:
    """Return as soon as `probe()` is truthy; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(POLL_SECONDS)

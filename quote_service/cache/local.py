"""The in-process cache tier (aiocache), configured once."""

from __future__ import annotations

from aiocache import SimpleMemoryCache


def local_cache() -> SimpleMemoryCache:
    """A process-local cache. No per-call timeout: aiocache would wrap every lookup in
    `asyncio.wait_for` (a task and a timer per call), which costs more than the lookup."""
    return SimpleMemoryCache(timeout=None)

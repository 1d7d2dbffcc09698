"""The one shape of the service's background loops: schedulers, jobs, samplers, consumers.

Every process runs each loop (docs/architecture.md): a loop sleeps, runs one pass, and keeps
going when a pass fails (PostgreSQL or Redis away for a while) — the failure is logged and the
next pass tries again. Whatever must happen once across processes is decided inside the pass
(a Redis slot key, a PostgreSQL advisory lock, a conditional UPDATE), never by the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import ClassVar

import structlog

log = structlog.get_logger("quote_service.background")


class BackgroundLoop:
    """A component whose background work is one asyncio task; `start()` it, `stop()` it.

    Subclasses name the task and the log event of a failed pass and implement `run_pass()`;
    `next_delay()` says how long to sleep before each pass (default: `interval` with ±20 %
    jitter, which spreads the processes' passes). A subclass with another shape (a consumer
    that blocks on its source) overrides `_run()` and keeps start/stop.
    """

    task_name: ClassVar[str]
    failure_event: ClassVar[str]
    interval: float
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def next_delay(self) -> float:
        return self.interval * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security

    async def run_pass(self) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.next_delay())
            try:
                await self.run_pass()
            except Exception:  # the next pass tries again; cancellation still ends the loop
                log.warning(self.failure_event, task=self.task_name, exc_info=True)

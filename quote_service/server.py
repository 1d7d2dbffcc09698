"""Serving the app with granian: stop gracefully on the first signal, for sure on the second.

The first SIGINT (Ctrl-C) or SIGTERM stops gracefully, as granian does: the workers stop
accepting, finish the requests in flight, run the app's shutdown (drain the write-behind
buffers, close the pools). That can hang: a client that sends its body slowly holds its request
open for as long as BODY_READ_TIMEOUT, a library can stall closing a socket. So the stop is
bounded twice:

- a second SIGINT or SIGTERM while stopping kills the workers at once (SIGKILL), says so on
  stderr, and the command goes on exactly as after a graceful stop (the embedded servers stop
  cleanly, exit status 0: a person asked for it); what the workers were still draining is
  lost, as with a crash;
- SHUTDOWN_TIMEOUT_SECONDS (default 30; 0 = no limit) after the first signal, the workers that
  have not stopped are killed the same way (granian's `workers_kill_timeout`).

A worker that dies is replaced, and the master never exits for that. granian's own rule was to
exit, stopping every worker, when a worker died again within 5.5 s of its respawn (a "crash
loop"): a worker respawned while PostgreSQL was down used to fail its start, and a healthy
worker went down with the master for an outage of a dependency. Workers no longer fail their
start for a store being away (web/starting.py); whatever else kills one quickly, again and
again, is respawned with a growing pause instead (1 s, doubling to 30 s) and logged each time.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from granian import Granian
from granian.constants import Interfaces
from granian.log import logger

QUICK_DEATH_SECONDS = 5.5
"""A worker that dies sooner than this after it was spawned died "quickly" (granian's crash-loop window)."""
FIRST_RESPAWN_PAUSE_SECONDS = 1.0
MAX_RESPAWN_PAUSE_SECONDS = 30.0


@dataclass(frozen=True)
class ServeOptions:
    """Where and how to serve."""

    host: str
    port: int
    workers: int
    shutdown_timeout: float
    """Seconds the workers get to stop after the first signal (0: as long as they need)."""


class _Server(Granian):  # type: ignore[misc, valid-type]
    """granian's server with a second signal that forces the stop, and no exit on a crash loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quick_deaths: dict[int, int] = {}
        """Worker index → how many times in a row it died within QUICK_DEATH_SECONDS of its spawn."""

    def _respawn_workers(self, workers: list[int], spawn_target: Any, target_loader: Any, delay: float = 0) -> None:
        for idx in workers:
            if not self.wrks[idx].is_alive():  # died (a reload or a lifetime respawn replaces a live one)
                self._pause_before_respawn(idx, self.wrks[idx].birth)
                if self.interrupt_signal:
                    return  # stopping: granian's loop sees the signal next and shuts down
            super()._respawn_workers([idx], spawn_target, target_loader, delay)
            # What granian's loop reads to call the next death of this worker a crash loop and exit.
            self.respawned_wrks.pop(idx, None)

    def _pause_before_respawn(self, idx: int, birth: float) -> None:
        """Back off a worker that keeps dying as soon as it starts; a stop signal ends the pause."""
        if time.monotonic() - birth >= QUICK_DEATH_SECONDS:
            self.quick_deaths.pop(idx, None)
            return
        deaths = self.quick_deaths[idx] = self.quick_deaths.get(idx, 0) + 1
        pause = min(MAX_RESPAWN_PAUSE_SECONDS, FIRST_RESPAWN_PAUSE_SECONDS * 2 ** (deaths - 1))
        logger.error(
            f"worker-{idx + 1} died {deaths} time(s) in a row within {QUICK_DEATH_SECONDS} s of its start: "
            f"respawning it in {pause:.0f} s"
        )
        self.main_loop_interrupt.wait(pause)  # set by a stop signal (or another worker's death)

    def signal_handler_interrupt(self, *args: object, **kwargs: object) -> None:
        if self.interrupt_signal:
            # Stopping already: force it. Only a SIGKILL per worker here (no locks, no logging
            # module): the handler runs on the main thread, which may be inside granian's Event
            # or a logging call, and re-entering those can deadlock.
            os.write(2, b"quote-service: second stop signal: killing the workers now\n")
            for worker in list(self.wrks):
                worker.kill()
            return
        super().signal_handler_interrupt(*args, **kwargs)


def serve(app_factory: str, options: ServeOptions) -> None:
    """Serve until stopped."""
    kill_after = math.ceil(options.shutdown_timeout) if options.shutdown_timeout > 0 else None
    server: Any = _Server(
        app_factory,
        factory=True,
        address=options.host,
        port=options.port,
        workers=options.workers,
        interface=Interfaces.ASGI,
        log_access=False,
        backlog=2048,
        # A worker that dies (SIGKILL, OOM killer, a crash in native code) is replaced instead of
        # the master stopping every worker and exiting; the other workers keep serving meanwhile.
        # One that keeps dying quickly is replaced after a growing pause (`_Server`), never by exiting.
        respawn_failed_workers=True,
        workers_kill_timeout=kill_after,
    )
    server.serve()

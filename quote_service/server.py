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
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from granian import Granian
from granian.constants import Interfaces


@dataclass(frozen=True)
class ServeOptions:
    """Where and how to serve."""

    host: str
    port: int
    workers: int
    shutdown_timeout: float
    """Seconds the workers get to stop after the first signal (0: as long as they need)."""


class _Server(Granian):  # type: ignore[misc, valid-type]
    """granian's server with a second signal that forces the stop."""

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
        # A worker that dies (SIGKILL, OOM killer, a crash in native code) is replaced at once
        # instead of the master stopping every worker and exiting. The other workers keep
        # serving meanwhile; the same worker dying again within 5.5 s of its respawn is a crash
        # loop, and then the master does exit (non-zero) for the supervisor to see.
        respawn_failed_workers=True,
        workers_kill_timeout=kill_after,
    )
    server.serve()

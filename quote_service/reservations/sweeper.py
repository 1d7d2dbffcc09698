"""The reservation sweeper: closes reservations past their expiry, once a second.

Units stop counting as held the instant their reservation expires (every availability read
compares `expires_at` with its own now); the sweeper records it: status `expired`, the holds
deleted, `qs_stock_reservations_total{event="expired"}` counted. Any number of processes run it
at once: each pass closes only rows it could lock and that are still held (SKIP LOCKED and a
conditional UPDATE), so each reservation expires once.
"""

from __future__ import annotations

from quote_service.background import BackgroundLoop
from quote_service.reservations.service import Reservations

BATCH = 1000
"""Reservations closed per statement; a pass goes on while batches come back full."""


class ReservationSweeper(BackgroundLoop):
    task_name = "reservation-sweeper"
    failure_event = "reservation_sweep_failed"
    max_backoff = 10.0

    def __init__(self, reservations: Reservations, *, interval: float) -> None:
        self._reservations = reservations
        self.interval = interval

    async def run_pass(self) -> None:
        while await self._reservations.expire_due(limit=BATCH) == BATCH and not self.stopping:
            pass

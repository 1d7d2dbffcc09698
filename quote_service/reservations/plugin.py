"""Reservations' registration: the service, its routes and the sweeper of expired holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.reservations.controller import get_reservation, release_reservation
from quote_service.reservations.service import Reservations
from quote_service.reservations.sweeper import ReservationSweeper
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    settings = ctx.settings
    reservations = Reservations(
        ctx.pool,
        max_units_per_product=settings.max_held_units_per_product,
        max_reservations=settings.max_active_reservations,
        clock=ctx.quote_clock,
    )
    if settings.reservation_sweep_interval_seconds > 0:
        sweeper = ReservationSweeper(reservations, interval=settings.reservation_sweep_interval_seconds)
        ctx.run("reservation sweeper", sweeper)
    # quote_clock: holds expire by the quotes' clock (the catalog's stock route reads it too).
    return {"reservations": reservations, "quote_clock": ctx.quote_clock}


RESERVATIONS = Domain(
    name="reservations",
    routes=[get_reservation, release_reservation],
    provides={"reservations": Reservations},
    start=start,
)

"""Simulations' registration: what-if pricing over the quote log, with the quote path's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.simulations.controller import SimulationController
from quote_service.simulations.service import Simulations
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    simulations = Simulations(ctx.reads, ctx.state.quotes.defaults)
    ctx.on_stop("simulations", simulations.stop)
    return {"simulations": simulations}


SIMULATIONS = Domain(
    name="simulations", routes=[SimulationController], provides={"simulations": Simulations}, start=start
)

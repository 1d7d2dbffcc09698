"""Simulations' registration: what-if pricing over the quote log, with the quote path's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.datastructures import State

from quote_service.quotes.service import QuoteService
from quote_service.simulations.controller import SimulationController
from quote_service.simulations.service import Simulations
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    simulations = Simulations(ctx.reads, ctx.state.quotes.defaults, max_running=ctx.settings.max_concurrent_simulations)
    ctx.on_stop("simulations", simulations.stop)
    return {"simulations": simulations}


async def reset(state: State) -> None:
    await state.simulations.reset()


SIMULATIONS = Domain(
    name="simulations",
    routes=[SimulationController],
    provides={"simulations": Simulations},
    requires={"quotes": QuoteService},
    start=start,
    reset=reset,
)

"""POST /api/v1/simulations and GET /api/v1/simulations/{id} (admin; docs/governance.md#what-if-simulations)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from quote_service.audit import changes as change_requests
from quote_service.auth.guards import AdminController
from quote_service.errors import FieldError, NotFound, ValidationFailed
from quote_service.simulations import drafts
from quote_service.simulations.drafts import Change
from quote_service.simulations.service import DEFAULT_LIMIT, MAX_LIMIT, Simulations
from quote_service.validation import Instant
from quote_service.web.deps import PoolDep
from quote_service.web.envelope import Envelope, ok


class SimulationBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    changes: Annotated[list[Change], msgspec.Meta(max_length=100)] | None = None
    change_request_id: UUID | None = None
    start: Instant | None = msgspec.field(name="from", default=None)
    end: Instant | None = msgspec.field(name="to", default=None)
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT


class SimulationId(msgspec.Struct, kw_only=True):
    id: UUID


class SimulationController(AdminController):
    path = "/api/v1/simulations"
    tags = ["governance"]

    @post("/", status_code=202, summary="Price the quote log's baskets with draft changes (nothing is applied)")
    async def create(
        self, data: JSONBody[SimulationBody], pool: PoolDep, simulations: NamedDependency[Simulations]
    ) -> Response[Envelope[SimulationId]]:
        if (data.changes is None) == (data.change_request_id is None):
            raise ValidationFailed(
                "send `changes` or `change_request_id`",
                details=[FieldError("changes", "exactly one of `changes` and `change_request_id` is required")],
            )
        simulations.admit()  # before the drafts' transaction: a refused simulation costs nothing
        found = data.changes or []
        if data.change_request_id is not None:
            try:
                request = await change_requests.get(pool, data.change_request_id)
            except NotFound as exc:
                raise ValidationFailed(exc.message, details=[FieldError("change_request_id", "not found")]) from None
            found = [drafts.change_of(request)]
        before, after = await drafts.snapshots(pool, found)
        simulation = simulations.start(before, after, start=data.start, end=data.end, limit=data.limit)
        return Response(ok(SimulationId(id=simulation.id), "Simulation started"), status_code=202)

    @get("/{simulation_id:uuid}", summary="A simulation's progress and result")
    async def get_simulation(
        self, simulation_id: FromPath[UUID], simulations: NamedDependency[Simulations]
    ) -> Envelope[dict[str, Any]]:
        simulation = simulations.get(simulation_id)
        if simulation is None:
            raise NotFound(
                f"simulation {simulation_id} not found (results are kept for an hour, by the process that ran it)"
            )
        return ok(simulation.document())

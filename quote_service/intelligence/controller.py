"""HTTP: competitor prices, the market of a product, signals, decisions, elasticity."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Literal
from uuid import UUID

from litestar import Controller, HttpMethod, get, post, route
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.auth.guards import admin_only, requires_role
from quote_service.intelligence import repository, signals
from quote_service.intelligence.schemas import (
    CompetitorPrice,
    Decision,
    DecisionRun,
    Elasticity,
    IngestResult,
    Market,
    ObservationsIn,
    Signal,
)
from quote_service.intelligence.service import Intelligence, decision_of, observation_of, signal_of
from quote_service.pagination import Keyset, Page
from quote_service.web.deps import AuthedRequest, ListingDep, actor_of
from quote_service.web.envelope import Envelope, ok
from quote_service.web.request import MIB

IntelligenceDep = NamedDependency[Intelligence]
OBSERVATIONS_BODY_LIMIT = 3 * MIB
"""MAX_OBSERVATIONS observations, every field at its longest (a MAX_URL_LENGTH url), pretty-printed
(indent 2): about 2.3 MiB."""
service_or_admin = requires_role("admin", "service")
SignalStatus = Literal["open", "acknowledged", "resolved"]
DecisionStatus = Literal["proposed", "applied", "skipped", "rejected"]


# The repository names the key a page starts from `after`, newest first.
NEWEST_OBSERVED_FIRST = Keyset(lambda r: (r["observed_at"], r["id"]), tuple[datetime, int])


class MarketIntelligenceController(Controller):
    path = "/api/v1"
    tags = ["market intelligence"]

    @post(
        "/competitor-prices",
        status_code=202,
        guards=[service_or_admin],
        summary="Ingest competitor prices",
        request_max_body_size=OBSERVATIONS_BODY_LIMIT,
    )
    async def ingest(self, data: JSONBody[ObservationsIn], intelligence: IntelligenceDep) -> Envelope[IngestResult]:
        result = await intelligence.ingest(data.observations)
        return ok(result, f"{result.accepted} observations accepted, {len(result.rejected)} rejected")

    @get("/competitor-prices", guards=[service_or_admin], summary="List competitor observations (keyset)")
    async def list_observations(
        self,
        listing: ListingDep,
        product_id: FromQuery[UUID | None] = None,
        competitor: FromQuery[str | None] = None,
    ) -> Envelope[Page[CompetitorPrice]]:
        fetch = partial(repository.list_observations, product_id=product_id, competitor=competitor)
        return ok(await listing.page("competitor_prices", fetch, observation_of, NEWEST_OBSERVED_FIRST))

    @get(
        "/products/{product_id:uuid}/market",
        guards=[service_or_admin],
        summary="Our price against each competitor's latest (admin, service)",
    )
    async def market(self, product_id: FromPath[UUID], intelligence: IntelligenceDep) -> Envelope[Market]:
        return ok(await intelligence.market(product_id))

    @get("/signals", guards=[admin_only], summary="List market signals (keyset)")
    async def list_signals(
        self,
        listing: ListingDep,
        type: FromQuery[str | None] = None,
        product_id: FromQuery[UUID | None] = None,
        status: FromQuery[SignalStatus | None] = None,
    ) -> Envelope[Page[Signal]]:
        fetch = partial(signals.list_signals, type=type, product_id=product_id, status=status)
        return ok(await listing.page("signals", fetch, signal_of))

    @get("/signals/{signal_id:uuid}", guards=[admin_only], summary="One market signal")
    async def get_signal(self, signal_id: FromPath[UUID], intelligence: IntelligenceDep) -> Envelope[Signal]:
        return ok(await intelligence.signal(signal_id))

    @route(
        "/signals/{signal_id:uuid}/acknowledge",
        http_method=[HttpMethod.POST, HttpMethod.PUT],
        status_code=200,
        guards=[admin_only],
        summary="Acknowledge a signal (POST or PUT; acknowledging twice changes nothing)",
    )
    async def acknowledge(
        self, signal_id: FromPath[UUID], intelligence: IntelligenceDep, request: AuthedRequest
    ) -> Envelope[Signal]:
        return ok(await intelligence.acknowledge(signal_id, actor_of(request)), "Signal acknowledged")

    @post("/decisions/run", status_code=200, guards=[admin_only], summary="Run pricing decisions")
    async def run(
        self, data: JSONBody[DecisionRun], intelligence: IntelligenceDep, request: AuthedRequest
    ) -> Envelope[list[Decision]]:
        decisions = await intelligence.run_decisions(
            data.product_ids, dry_run=data.dry_run, auto_apply=data.auto_apply, actor=actor_of(request)
        )
        return ok(decisions, f"{len(decisions)} decisions" + (" (dry run: nothing stored)" if data.dry_run else ""))

    @post("/decisions/{decision_id:uuid}/apply", status_code=200, guards=[admin_only], summary="Apply a decision")
    async def apply(
        self, decision_id: FromPath[UUID], intelligence: IntelligenceDep, request: AuthedRequest
    ) -> Envelope[Decision]:
        return ok(await intelligence.apply(decision_id, actor_of(request)), "Decision applied")

    @get("/decisions/{decision_id:uuid}", guards=[admin_only], summary="One pricing decision")
    async def get_decision(self, decision_id: FromPath[UUID], intelligence: IntelligenceDep) -> Envelope[Decision]:
        return ok(await intelligence.decision(decision_id))

    @get("/decisions", guards=[admin_only], summary="List pricing decisions (keyset)")
    async def list_decisions(
        self,
        listing: ListingDep,
        product_id: FromQuery[UUID | None] = None,
        status: FromQuery[DecisionStatus | None] = None,
    ) -> Envelope[Page[Decision]]:
        fetch = partial(repository.list_decisions, product_id=product_id, status=status)
        return ok(await listing.page("decisions", fetch, decision_of))

    @get("/analytics/elasticity/{product_id:uuid}", guards=[admin_only], summary="Fitted price elasticity")
    async def elasticity(self, product_id: FromPath[UUID], intelligence: IntelligenceDep) -> Envelope[Elasticity]:
        return ok(await intelligence.elasticity(product_id))

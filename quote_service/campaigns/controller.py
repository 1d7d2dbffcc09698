"""HTTP: /api/v1/campaigns (admin)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.auth.guards import AdminController
from quote_service.campaigns.schemas import Campaign, CampaignCreate, Status
from quote_service.campaigns.service import Campaigns
from quote_service.pagination import Page, decode_cursor
from quote_service.web.deps import AdminPoolDep, AuthedRequest, PageDep, actor_of
from quote_service.web.envelope import Envelope, ok

CampaignsDep = NamedDependency[Campaigns]


class CampaignController(AdminController):
    path = "/api/v1/campaigns"

    @post("/", summary="Start a campaign on a product now")
    async def create(
        self, data: JSONBody[CampaignCreate], campaigns: CampaignsDep, admin_pool: AdminPoolDep, request: AuthedRequest
    ) -> Envelope[Campaign]:
        return ok(await campaigns.create(data, actor=actor_of(request), pool=admin_pool), "Campaign created")

    @get("/", summary="Campaigns, newest first (keyset-paginated)")
    async def list_campaigns(
        self,
        campaigns: CampaignsDep,
        page: PageDep,
        status: FromQuery[Status | None] = None,
    ) -> Envelope[Page[Campaign]]:
        before = decode_cursor(page.cursor, tuple[datetime, UUID], "campaigns")
        return ok(await campaigns.page(status=status, before=before, limit=page.limit))

    @get("/{name:str}", summary="One campaign with its sales so far")
    async def get_campaign(self, name: FromPath[str], campaigns: CampaignsDep) -> Envelope[Campaign]:
        return ok(await campaigns.get(name))

    @post("/{name:str}/end", status_code=200, summary="End a campaign now (the price returns to base_price)")
    async def end(
        self, name: FromPath[str], campaigns: CampaignsDep, admin_pool: AdminPoolDep, request: AuthedRequest
    ) -> Envelope[Campaign]:
        return ok(await campaigns.end(name, actor=actor_of(request), pool=admin_pool), "Campaign ended")

"""HTTP: /api/v1/installment-plans (admin)."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from litestar import delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import AdminController
from quote_service.installments import repository, service
from quote_service.installments.schemas import InstallmentPlan, InstallmentPlanInput, InstallmentPlanPatch
from quote_service.pagination import Page
from quote_service.pricing.quote import CurrencyCode
from quote_service.web.deps import ListingDep, PoolDep
from quote_service.web.envelope import Envelope, ok

DOMAIN = "installment_plans"


class InstallmentPlanController(AdminController):
    path = "/api/v1/installment-plans"
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Create an installment plan")
    async def create(self, data: JSONBody[InstallmentPlanInput], write: ConfigWriteDep) -> Envelope[InstallmentPlan]:
        return await write.made(service.PLANS.create, data, message="Installment plan created")

    @get("/", summary="List installment plans, oldest first (keyset-paginated)")
    async def list_plans(
        self,
        listing: ListingDep,
        currency: FromQuery[CurrencyCode | None] = None,
        is_active: FromQuery[bool | None] = None,
    ) -> Envelope[Page[InstallmentPlan]]:
        fetch = partial(
            repository.list_plans, currency=None if currency is None else currency.upper(), is_active=is_active
        )
        return ok(await listing.page("installment-plans", fetch, service.plan_from_row))

    @get("/{plan_id:uuid}", summary="Get an installment plan")
    async def get_plan(self, plan_id: FromPath[UUID], pool: PoolDep) -> Envelope[InstallmentPlan]:
        return ok(await service.PLANS.get(pool, plan_id))

    @put("/{plan_id:uuid}", summary="Replace an installment plan (the whole body)")
    async def replace(
        self, plan_id: FromPath[UUID], data: JSONBody[InstallmentPlanInput], write: ConfigWriteDep
    ) -> Envelope[InstallmentPlan]:
        return await write.made(service.PLANS.replace, plan_id, data, message="Installment plan updated")

    @patch("/{plan_id:uuid}", summary="Change the fields sent; the resulting plan is checked whole")
    async def update(
        self, plan_id: FromPath[UUID], data: JSONBody[InstallmentPlanPatch], write: ConfigWriteDep
    ) -> Envelope[InstallmentPlan]:
        return await write.made(service.PLANS.patch, plan_id, data, message="Installment plan updated")

    @delete("/{plan_id:uuid}", status_code=200, summary="Deactivate an installment plan")
    async def deactivate(self, plan_id: FromPath[UUID], write: ConfigWriteDep) -> Envelope[InstallmentPlan]:
        return await write.made(service.PLANS.deactivate, plan_id, message="Installment plan deactivated")

"""HTTP: /api/v1/commission-rates (admin)."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from litestar import delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import AdminController
from quote_service.commissions import repository, service
from quote_service.commissions.schemas import (
    BulkBody,
    BulkResult,
    CommissionRate,
    CommissionRateInput,
    CommissionRatePatch,
    Component,
)
from quote_service.pagination import Page
from quote_service.web.deps import ListingDep, PoolDep
from quote_service.web.envelope import Envelope, ok
from quote_service.web.request import MIB

DOMAIN = "commission_rates"
BULK_BODY_LIMIT = 6 * MIB
"""MAX_BULK_ITEMS rates of MAX_TIERS tiers each, every field at its longest, pretty-printed (indent 2):
about 4.9 MiB."""


class CommissionRateController(AdminController):
    path = "/api/v1/commission-rates"
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Create a commission rate")
    async def create(self, data: JSONBody[CommissionRateInput], write: ConfigWriteDep) -> Envelope[CommissionRate]:
        return await write.made(service.create_rate, data, message="Commission rate created")

    @get("/", summary="List commission rates (keyset-paginated)")
    async def list_rates(
        self,
        listing: ListingDep,
        component: FromQuery[Component | None] = None,
        category_id: FromQuery[str | None] = None,
        seller_id: FromQuery[str | None] = None,
        logistics_provider: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        is_active: FromQuery[bool | None] = None,
    ) -> Envelope[Page[CommissionRate]]:
        fetch = partial(
            repository.list_rates,
            component=component,
            category_id=category_id,
            seller_id=seller_id,
            logistics_provider=logistics_provider,
            region=region,
            is_active=is_active,
        )
        return ok(await listing.page("commission-rates", fetch, service.rate_from_row))

    # Declared before /{rate_id:uuid}; the uuid converter would refuse "bulk" anyway.
    @put(
        "/bulk",
        summary="Create and replace many rates in one transaction (all or nothing)",
        description='The entries as `{"items": [...]}` or as a bare list `[...]` (the Go service\'s shape).',
        request_max_body_size=BULK_BODY_LIMIT,
    )
    async def bulk(self, data: JSONBody[BulkBody], write: ConfigWriteDep) -> Envelope[BulkResult]:
        entries = data if isinstance(data, list) else data.items
        result = await service.bulk_upsert(write.pool, entries, actor=write.actor)
        return await write.saved(result, f"Commission rates saved: {result.created} created, {result.updated} updated")

    @get("/{rate_id:uuid}", summary="Get a commission rate")
    async def get_rate(self, rate_id: FromPath[UUID], pool: PoolDep) -> Envelope[CommissionRate]:
        return ok(await service.get_rate(pool, rate_id))

    @put(
        "/{rate_id:uuid}",
        summary="Replace a commission rate (or, without every required field, change the fields sent)",
        description=(
            "With `commission_type`, `currency` and `effective_from` the body is the whole rate: every field "
            "is replaced and omitted optional ones take their defaults. Without one of them it is the Go "
            'service\'s partial update (`{"rate": 13.0}`) and reads as PATCH: only the fields sent change.'
        ),
    )
    async def replace(
        self, rate_id: FromPath[UUID], data: JSONBody[CommissionRatePatch], write: ConfigWriteDep
    ) -> Envelope[CommissionRate]:
        return await write.made(service.put_rate, rate_id, data, message="Commission rate updated")

    @patch("/{rate_id:uuid}", summary="Change the fields sent; the resulting rate is checked whole")
    async def update(
        self, rate_id: FromPath[UUID], data: JSONBody[CommissionRatePatch], write: ConfigWriteDep
    ) -> Envelope[CommissionRate]:
        return await write.made(service.patch_rate, rate_id, data, message="Commission rate updated")

    @delete("/{rate_id:uuid}", status_code=200, summary="Deactivate a commission rate")
    async def deactivate(self, rate_id: FromPath[UUID], write: ConfigWriteDep) -> Envelope[CommissionRate]:
        return await write.made(service.deactivate_rate, rate_id, message="Commission rate deactivated")

"""HTTP: /api/v1/commission-rates (admin)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.auth.guards import admin_only
from quote_service.commissions import repository, service
from quote_service.commissions.schemas import BulkResult, CommissionRate, CommissionRateBulk, CommissionRateInput
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of
from quote_service.web.deps import AuthedRequest, ConfigStoreDep, PoolDep, ReadPoolDep, actor_of
from quote_service.web.envelope import Envelope, ok

DOMAIN = "commission_rates"


class CommissionRateController(Controller):
    path = "/api/v1/commission-rates"
    tags = ["commission-rates"]
    guards = [admin_only]

    @post("/", summary="Create a commission rate")
    async def create(
        self,
        data: JSONBody[CommissionRateInput],
        pool: PoolDep,
        config_store: ConfigStoreDep,
        request: AuthedRequest,
    ) -> Envelope[CommissionRate]:
        rate = await service.create_rate(pool, data, actor=actor_of(request))
        await config_store.changed(DOMAIN)
        return ok(rate, "Commission rate created")

    @get("/", summary="List commission rates (keyset-paginated)")
    async def list_rates(
        self,
        read_pool: ReadPoolDep,
        category_id: FromQuery[str | None] = None,
        seller_id: FromQuery[str | None] = None,
        logistics_provider: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        is_active: FromQuery[bool | None] = None,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Envelope[Page[CommissionRate]]:
        after = decode_cursor(cursor, tuple[datetime, UUID], "commission-rates")
        async with read_pool.acquire() as conn:
            rows = await repository.list_rates(
                conn,
                category_id=category_id,
                seller_id=seller_id,
                logistics_provider=logistics_provider,
                region=region,
                is_active=is_active,
                after=after,
                limit=limit,
            )
        return ok(
            page_of(
                rows,
                "commission-rates",
                limit=limit,
                key=lambda r: (r["created_at"], r["id"]),
                item=service.rate_from_row,
            )
        )

    # Declared before /{rate_id:uuid}; the uuid converter would refuse "bulk" anyway.
    @put("/bulk", summary="Create and replace many rates in one transaction (all or nothing)")
    async def bulk(
        self,
        data: JSONBody[CommissionRateBulk],
        pool: PoolDep,
        config_store: ConfigStoreDep,
        request: AuthedRequest,
    ) -> Envelope[BulkResult]:
        result = await service.bulk_upsert(pool, data.items, actor=actor_of(request))
        await config_store.changed(DOMAIN)
        return ok(result, f"Commission rates saved: {result.created} created, {result.updated} updated")

    @get("/{rate_id:uuid}", summary="Get a commission rate")
    async def get_rate(self, rate_id: FromPath[UUID], pool: PoolDep) -> Envelope[CommissionRate]:
        return ok(await service.get_rate(pool, rate_id))

    @put("/{rate_id:uuid}", summary="Replace every field of a commission rate")
    async def replace(
        self,
        rate_id: FromPath[UUID],
        data: JSONBody[CommissionRateInput],
        pool: PoolDep,
        config_store: ConfigStoreDep,
        request: AuthedRequest,
    ) -> Envelope[CommissionRate]:
        rate = await service.update_rate(pool, rate_id, data, actor=actor_of(request))
        await config_store.changed(DOMAIN)
        return ok(rate, "Commission rate updated")

    @delete("/{rate_id:uuid}", status_code=200, summary="Deactivate a commission rate")
    async def deactivate(
        self,
        rate_id: FromPath[UUID],
        pool: PoolDep,
        config_store: ConfigStoreDep,
        request: AuthedRequest,
    ) -> Envelope[CommissionRate]:
        rate = await service.deactivate_rate(pool, rate_id, actor=actor_of(request))
        await config_store.changed(DOMAIN)
        return ok(rate, "Commission rate deactivated")

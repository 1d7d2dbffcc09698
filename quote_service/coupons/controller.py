"""HTTP: /api/v1/coupons (admin), addressed by case-insensitive code."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import admin_only
from quote_service.coupons import repository, service
from quote_service.coupons.schemas import Coupon, CouponCreate, CouponUpdate
from quote_service.errors import invalid
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of
from quote_service.web.deps import PoolDep, ReadPoolDep
from quote_service.web.envelope import Envelope, ok

DOMAIN = "coupons"


class CouponController(Controller):
    path = "/api/v1/coupons"
    tags = ["coupons"]
    guards = [admin_only]
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Create a coupon")
    async def create(self, data: JSONBody[CouponCreate], write: ConfigWriteDep) -> Envelope[Coupon]:
        coupon = await service.create_coupon(write.pool, data, actor=write.actor)
        return await write.saved(coupon, "Coupon created")

    @get("/", summary="List coupons by code (keyset-paginated)")
    async def list_coupons(
        self,
        read_pool: ReadPoolDep,
        is_active: FromQuery[bool | None] = None,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Envelope[Page[Coupon]]:
        after = decode_cursor(cursor, str, "coupons")
        if after is not None and "\x00" in after:  # never one of ours, and PostgreSQL refuses it
            raise invalid("cursor", "not a cursor returned by this list")
        async with read_pool.acquire() as conn:
            rows = await repository.list_coupons(conn, is_active=is_active, after=after, limit=limit)
        return ok(page_of(rows, "coupons", limit=limit, key=lambda r: r["code"], item=service.coupon_from_row))

    @get("/{code:str}", summary="Get a coupon (code in any letter case)")
    async def get_coupon(self, code: FromPath[str], pool: PoolDep) -> Envelope[Coupon]:
        return ok(await service.get_coupon(pool, code))

    @put("/{code:str}", summary="Replace a coupon's fields")
    async def replace(
        self, code: FromPath[str], data: JSONBody[CouponUpdate], write: ConfigWriteDep
    ) -> Envelope[Coupon]:
        coupon = await service.update_coupon(write.pool, code, data, actor=write.actor)
        return await write.saved(coupon, "Coupon updated")

    @delete("/{code:str}", status_code=200, summary="Deactivate a coupon")
    async def deactivate(self, code: FromPath[str], write: ConfigWriteDep) -> Envelope[Coupon]:
        coupon = await service.deactivate_coupon(write.pool, code, actor=write.actor)
        return await write.saved(coupon, "Coupon deactivated")

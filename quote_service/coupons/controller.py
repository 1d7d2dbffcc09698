"""HTTP: /api/v1/coupons (admin; a seller for its own coupons, docs/sellers.md), addressed by
case-insensitive code."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from litestar import Response, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import requires_role
from quote_service.auth.sellers import own_seller, owned_by
from quote_service.coupons import batches, codes, repository, seller_scope, service
from quote_service.coupons.schemas import Coupon, CouponCreate, CouponUpdate
from quote_service.db.pool import Pool
from quote_service.errors import NotFound, invalid
from quote_service.pagination import DEFAULT_LIMIT, Keyset, Limit, Page, decode_cursor, page_of
from quote_service.resource import Resource
from quote_service.web.deps import (
    AuthedRequest,
    ListingDep,
    OptionalIdempotencyKey,
    PageDep,
    PoolDep,
    ReadPoolDep,
    check_idempotency_key,
)
from quote_service.web.envelope import Envelope, ok
from quote_service.web.replay import answered, answered_again, first_answer

DOMAIN = "coupons"
admin_only = requires_role("admin")
admin_or_seller = requires_role("admin", "seller")
"""A seller reaches its own coupons' routes (docs/sellers.md); code batches stay the admin's."""

BY_CODE = Keyset(lambda r: r["code"], str)


async def _owned(pool: Pool, request: AuthedRequest, code: str) -> Coupon:
    """The coupon, when the caller may see it: a seller its own only (else 404, as an unknown code)."""
    coupon = await service.get_coupon(pool, code)
    owned_by(request.user, coupon.seller_id or None, f"coupon {code!r}")
    return coupon


class CouponController(Resource):
    path = "/api/v1/coupons"
    guards = [admin_or_seller]
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Create a coupon (a seller: its own, on its own products)")
    async def create(
        self, data: JSONBody[CouponCreate], write: ConfigWriteDep, pool: PoolDep, request: AuthedRequest
    ) -> Envelope[Coupon]:
        own = own_seller(request.user)
        if own is not None:
            data = await seller_scope.for_seller(pool, data, own)
        coupon = await service.create_coupon(write.pool, data, actor=write.actor, seller_id=own)
        return await write.saved(coupon, "Coupon created")

    @get("/", summary="List coupons by code (keyset-paginated; a seller: its own)")
    async def list_coupons(
        self,
        listing: ListingDep,
        request: AuthedRequest,
        is_active: FromQuery[bool | None] = None,
    ) -> Envelope[Page[Coupon]]:
        fetch = partial(repository.list_coupons, is_active=is_active, seller_id=own_seller(request.user))
        return ok(await listing.page("coupons", fetch, service.coupon_from_row, BY_CODE))

    @get("/{code:str}", summary="Get a coupon (code in any letter case)")
    async def get_coupon(self, code: FromPath[str], pool: PoolDep, request: AuthedRequest) -> Envelope[Coupon]:
        return ok(await _owned(pool, request, code))

    @put("/{code:str}", summary="Replace a coupon's fields")
    async def replace(
        self,
        code: FromPath[str],
        data: JSONBody[CouponUpdate],
        write: ConfigWriteDep,
        pool: PoolDep,
        request: AuthedRequest,
    ) -> Envelope[Coupon]:
        own = own_seller(request.user)
        if own is not None:
            await _owned(pool, request, code)
            data = await seller_scope.for_seller(pool, data, own)
        return await write.made(service.update_coupon, code, data, message="Coupon updated")

    @delete("/{code:str}", status_code=200, summary="Deactivate a coupon")
    async def deactivate(
        self, code: FromPath[str], write: ConfigWriteDep, pool: PoolDep, request: AuthedRequest
    ) -> Envelope[Coupon]:
        await _owned(pool, request, code)
        return await write.made(service.deactivate_coupon, code, message="Coupon deactivated")

    @post(
        "/{code:str}/codes",
        guards=[admin_only],
        summary="Generate a batch of single-use codes of a coupon (1-100,000; Idempotency-Key makes it once)",
    )
    async def generate_codes(
        self,
        code: FromPath[str],
        data: JSONBody[batches.BatchInput],
        write: ConfigWriteDep,
        request: AuthedRequest,
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> Response[Envelope[batches.BatchMade]]:
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        reply = first_answer(request, "Codes generated", status=201)
        async with write.pool.acquire() as conn:
            batch, again = await batches.generate(
                conn,
                coupon_code=service.lookup_code(code),
                data=data,
                actor=write.actor,
                principal_id=request.user.id,
                idempotency_key=idempotency_key,
                reply=reply,
            )
        if again:  # made before its answer was kept (web/replay.py)
            return answered_again(
                ok(batches.made(batch), "Codes already generated with this Idempotency-Key"), status=201
            )
        if reply.answer is not None:  # keyed: the answer kept for the key
            return reply.response()
        return answered(await write.saved(batches.made(batch), "Codes generated", changed=False), status=201)

    @get(
        "/{code:str}/codes",
        guards=[admin_only],
        summary="A coupon's generated codes (format=csv: code,used_at,order_id)",
        response_model=None,
    )
    async def list_codes(
        self,
        code: FromPath[str],
        read_pool: ReadPoolDep,
        page: PageDep,
        batch_id: FromQuery[UUID | None] = None,
        format: FromQuery[str | None] = None,
    ) -> Envelope[Page[codes.GeneratedCode]] | Response[bytes]:
        if format not in (None, "csv", "json"):
            raise invalid("format", "csv or json")
        coupon_code = service.lookup_code(code)
        after = decode_cursor(page.cursor, str, "codes")
        async with read_pool.acquire() as conn:
            if await repository.get_coupon(conn, code=coupon_code) is None:
                raise NotFound(f"coupon {code!r} not found")
            if format == "csv":  # every code, no pages
                rows = await codes.list_codes(conn, coupon_code=coupon_code, batch_id=batch_id, after=None, limit=None)
                return Response(codes.as_csv(rows), media_type="text/csv; charset=utf-8")
            rows = await codes.list_codes(
                conn, coupon_code=coupon_code, batch_id=batch_id, after=after, limit=page.limit + 1
            )
        return ok(page_of(rows, "codes", limit=page.limit, key=lambda r: r["code"], item=codes.code_from_row))


@get(
    "/api/v1/coupon-code-batches",
    guards=[admin_only],
    tags=["coupons"],
    summary="The newest code batches of every coupon, with their codes used (at most `limit`)",
)
async def list_code_batches(
    read_pool: ReadPoolDep, limit: FromQuery[Limit] = DEFAULT_LIMIT
) -> Envelope[list[codes.BatchUse]]:
    async with read_pool.acquire() as conn:
        return ok(await codes.list_batches(conn, limit=limit))

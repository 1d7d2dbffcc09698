"""HTTP: /api/v1/promotions (admin; a seller for its own promotions, docs/sellers.md)."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from litestar import delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import requires_role
from quote_service.auth.sellers import own_seller, owned_by
from quote_service.db.pool import Pool
from quote_service.pagination import Page
from quote_service.pricing.promotions import PromotionKind
from quote_service.promotions import repository, seller_scope, service
from quote_service.promotions.schemas import Promotion, PromotionInput
from quote_service.resource import Resource
from quote_service.web.deps import AuthedRequest, ListingDep, PoolDep
from quote_service.web.envelope import Envelope, ok

DOMAIN = "promotions"


async def _owned(pool: Pool, request: AuthedRequest, promotion_id: UUID) -> Promotion:
    """The promotion, when the caller may see it: a seller its own only (else 404, as an unknown id)."""
    promotion = await service.get_promotion(pool, promotion_id)
    owned_by(request.user, promotion.seller_id or None, f"promotion {promotion_id}")
    return promotion


class PromotionController(Resource):
    path = "/api/v1/promotions"
    guards = [requires_role("admin", "seller")]
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Create an automatic promotion (a seller: its own, on its own products)")
    async def create(
        self, data: JSONBody[PromotionInput], write: ConfigWriteDep, pool: PoolDep, request: AuthedRequest
    ) -> Envelope[Promotion]:
        own = own_seller(request.user)
        if own is not None:
            data = await seller_scope.for_seller(pool, data, own)
        promotion = await service.create_promotion(write.pool, data, actor=write.actor, seller_id=own)
        return await write.saved(promotion, "Promotion created")

    @get("/", summary="List promotions, oldest first (keyset-paginated)")
    async def list_promotions(
        self,
        listing: ListingDep,
        request: AuthedRequest,
        kind: FromQuery[PromotionKind | None] = None,
        is_active: FromQuery[bool | None] = None,
    ) -> Envelope[Page[Promotion]]:
        fetch = partial(repository.list_promotions, kind=kind, is_active=is_active, seller_id=own_seller(request.user))
        return ok(await listing.page("promotions", fetch, service.promotion_from_row))

    @get("/{promotion_id:uuid}", summary="Get a promotion")
    async def get_promotion(
        self, promotion_id: FromPath[UUID], pool: PoolDep, request: AuthedRequest
    ) -> Envelope[Promotion]:
        return ok(await _owned(pool, request, promotion_id))

    @put("/{promotion_id:uuid}", summary="Replace a promotion (the whole body; its use count stays)")
    async def replace(
        self,
        promotion_id: FromPath[UUID],
        data: JSONBody[PromotionInput],
        write: ConfigWriteDep,
        pool: PoolDep,
        request: AuthedRequest,
    ) -> Envelope[Promotion]:
        own = own_seller(request.user)
        if own is not None:
            await _owned(pool, request, promotion_id)
            data = await seller_scope.for_seller(pool, data, own)
        return await write.made(service.replace_promotion, promotion_id, data, message="Promotion updated")

    @delete("/{promotion_id:uuid}", status_code=200, summary="Deactivate a promotion")
    async def deactivate(
        self, promotion_id: FromPath[UUID], write: ConfigWriteDep, pool: PoolDep, request: AuthedRequest
    ) -> Envelope[Promotion]:
        await _owned(pool, request, promotion_id)
        return await write.made(service.deactivate_promotion, promotion_id, message="Promotion deactivated")

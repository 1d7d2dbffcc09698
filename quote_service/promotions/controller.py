"""HTTP: /api/v1/promotions (admin)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import admin_only
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of
from quote_service.pricing.promotions import PromotionKind
from quote_service.promotions import repository, service
from quote_service.promotions.schemas import Promotion, PromotionInput
from quote_service.web.deps import PoolDep, ReadPoolDep
from quote_service.web.envelope import Envelope, ok

DOMAIN = "promotions"


class PromotionController(Controller):
    path = "/api/v1/promotions"
    tags = ["promotions"]
    guards = [admin_only]
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Create an automatic promotion")
    async def create(self, data: JSONBody[PromotionInput], write: ConfigWriteDep) -> Envelope[Promotion]:
        promotion = await service.create_promotion(write.pool, data, actor=write.actor)
        return await write.saved(promotion, "Promotion created")

    @get("/", summary="List promotions, oldest first (keyset-paginated)")
    async def list_promotions(
        self,
        read_pool: ReadPoolDep,
        kind: FromQuery[PromotionKind | None] = None,
        is_active: FromQuery[bool | None] = None,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Envelope[Page[Promotion]]:
        after = decode_cursor(cursor, tuple[datetime, UUID], "promotions")
        async with read_pool.acquire() as conn:
            rows = await repository.list_promotions(conn, kind=kind, is_active=is_active, after=after, limit=limit)
        return ok(
            page_of(
                rows,
                "promotions",
                limit=limit,
                key=lambda r: (r["created_at"], r["id"]),
                item=service.promotion_from_row,
            )
        )

    @get("/{promotion_id:uuid}", summary="Get a promotion")
    async def get_promotion(self, promotion_id: FromPath[UUID], pool: PoolDep) -> Envelope[Promotion]:
        return ok(await service.get_promotion(pool, promotion_id))

    @put("/{promotion_id:uuid}", summary="Replace a promotion (the whole body; its use count stays)")
    async def replace(
        self, promotion_id: FromPath[UUID], data: JSONBody[PromotionInput], write: ConfigWriteDep
    ) -> Envelope[Promotion]:
        promotion = await service.replace_promotion(write.pool, promotion_id, data, actor=write.actor)
        return await write.saved(promotion, "Promotion updated")

    @delete("/{promotion_id:uuid}", status_code=200, summary="Deactivate a promotion")
    async def deactivate(self, promotion_id: FromPath[UUID], write: ConfigWriteDep) -> Envelope[Promotion]:
        promotion = await service.deactivate_promotion(write.pool, promotion_id, actor=write.actor)
        return await write.saved(promotion, "Promotion deactivated")

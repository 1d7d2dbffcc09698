"""HTTP: GET /api/v1/sellers/me — who a seller account acts for."""

from __future__ import annotations

from litestar import get

from quote_service.auth.guards import requires_role
from quote_service.resource import Resource
from quote_service.sellers import repository
from quote_service.sellers.schemas import SellerMe
from quote_service.web.deps import AuthedRequest, ReadPoolDep
from quote_service.web.envelope import Envelope, ok


class SellerController(Resource):
    path = "/api/v1/sellers"

    @get("/me", guards=[requires_role("seller")], summary="The seller this seller account acts for (seller)")
    async def me(self, read_pool: ReadPoolDep, request: AuthedRequest) -> Envelope[SellerMe]:
        principal = request.user
        assert principal.seller_id is not None  # the seller role always names its seller (migration 0670)
        async with read_pool.acquire() as conn:
            products, active = await repository.product_counts(conn, seller_id=principal.seller_id)
        return ok(
            SellerMe(
                seller_id=principal.seller_id,
                account_id=principal.id,
                account_name=principal.name,
                account_kind=principal.kind,
                products=products,
                active_products=active,
            )
        )

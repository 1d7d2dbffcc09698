"""HTTP: POST /api/v1/sellers/{seller_id}/payout-preview — a seller's payout before the sale (admin, service, the
seller itself; docs/commission.md#payout-preview)."""

from __future__ import annotations

from litestar import post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from quote_service.auth.guards import requires_role
from quote_service.payouts.preview import PayoutPreview, PayoutPreviewRequest, payout_preview
from quote_service.quotes.service import QuoteService
from quote_service.web.deps import AuthedRequest
from quote_service.web.envelope import Envelope, ok


@post(
    "/api/v1/sellers/{seller_id:str}/payout-preview",
    status_code=200,
    guards=[requires_role("admin", "service", "seller")],
    tags=["sellers"],
    summary="What the seller is paid for a sale at a price, or the smallest price that pays a target payout",
)
async def preview_payout(
    seller_id: FromPath[str],
    data: JSONBody[PayoutPreviewRequest],
    request: AuthedRequest,
    quotes: NamedDependency[QuoteService],
) -> Envelope[PayoutPreview]:
    return ok(await payout_preview(quotes, seller_id, data, request.user))

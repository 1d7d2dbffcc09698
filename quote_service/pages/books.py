"""GET /api/v1/dashboard/books (admin): what the books page lists beside the existing read APIs.

The page reads price lists, promotions and seller statements from their own endpoints; two
things have no list endpoint of their own: the latest refunds of all orders, and which sellers
(in which currencies) have a statement to show.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from litestar import get

from quote_service.auth.guards import admin_only
from quote_service.pricing.money import round_money
from quote_service.structs import Frozen
from quote_service.web.deps import ReadPoolDep
from quote_service.web.envelope import Envelope, ok

RECENT_REFUNDS = 20
MAX_SELLERS = 500


class RecentRefund(Frozen):
    id: str
    order_id: str
    kind: str
    """`refund` (some lines) or `cancel` (the whole order)."""
    reason: str | None
    currency: str
    total_refunded: Decimal
    commission_reversed: Decimal
    created_by: str
    created_at: datetime


class Seller(Frozen):
    seller_id: str
    currencies: list[str]
    """The currencies of the seller's products: a statement is in one currency."""


class Books(Frozen):
    recent_refunds: list[RecentRefund]
    sellers: list[Seller]


_REFUNDS = """
SELECT id, order_id, kind, reason, currency, total_refunded, commission_reversed, created_by, created_at
FROM refunds ORDER BY created_at DESC, id DESC LIMIT $1
"""
_SELLERS = """
SELECT seller_id, array_agg(DISTINCT currency ORDER BY currency) AS currencies
FROM products GROUP BY seller_id ORDER BY seller_id LIMIT $1
"""


@get("/api/v1/dashboard/books", guards=[admin_only], tags=["pages"], summary="Latest refunds and sellers (admin)")
async def dashboard_books(read_pool: ReadPoolDep) -> Envelope[Books]:
    async with read_pool.acquire() as conn:
        refunds = await conn.fetch(_REFUNDS, RECENT_REFUNDS)
        sellers = await conn.fetch(_SELLERS, MAX_SELLERS)
    return ok(
        Books(
            recent_refunds=[
                RecentRefund(
                    id=str(r["id"]),
                    order_id=str(r["order_id"]),
                    kind=r["kind"],
                    reason=r["reason"],
                    currency=r["currency"],
                    total_refunded=round_money(r["total_refunded"], r["currency"]),
                    commission_reversed=round_money(r["commission_reversed"], r["currency"]),
                    created_by=r["created_by"],
                    created_at=r["created_at"],
                )
                for r in refunds
            ],
            sellers=[Seller(seller_id=r["seller_id"], currencies=list(r["currencies"])) for r in sellers],
        )
    )

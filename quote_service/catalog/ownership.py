"""Whether product ids named in a seller's offer are that seller's own (docs/sellers.md): its catalog products,
and the products it sells through an active offer (docs/offers.md)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from quote_service.catalog import repository
from quote_service.db.pool import Connection, Pool
from quote_service.errors import FieldError

NOT_OWN = "is not one of this seller's products"


async def not_owned(pool: Pool, named: Sequence[tuple[str, str]], seller_id: str) -> list[FieldError]:
    """An error for each (field path, product id) that is not a catalog product of `seller_id`."""
    ids: dict[str, UUID] = {}
    for _, product in named:
        try:
            ids[product] = UUID(product)
        except ValueError:
            continue
    if not named:
        return []
    async with pool.acquire() as conn:
        sellers = await repository.sellers_of(conn, product_ids=list(set(ids.values())))
        others = [i for i in set(ids.values()) if sellers.get(i) not in (None, seller_id)]
        # docs/offers.md: a product the seller sells through an active offer is its own here too.
        offered = await offered_by(conn, product_ids=others, seller_id=seller_id) if others else set()
    return [
        FieldError(path, NOT_OWN)
        for path, product in named
        if product not in ids or (sellers.get(ids[product]) != seller_id and ids[product] not in offered)
    ]


async def offered_by(conn: Connection, *, product_ids: Sequence[UUID], seller_id: str) -> set[UUID]:
    """Those of these products `seller_id` has an active offer of."""
    rows = await conn.fetch(
        "SELECT product_id FROM offers WHERE product_id = any($1::uuid[]) AND seller_id = $2 AND is_active",
        list(product_ids),
        seller_id,
    )
    return {row["product_id"] for row in rows}

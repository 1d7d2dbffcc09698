"""Whether product ids named in a seller's offer are that seller's own (docs/sellers.md)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from quote_service.catalog import repository
from quote_service.db.pool import Pool
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
    return [
        FieldError(path, NOT_OWN)
        for path, product in named
        if product not in ids or sellers.get(ids[product]) != seller_id
    ]

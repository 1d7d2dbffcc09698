"""The prior price of an announced reduction (docs/markets.md#prior-price-for-announced-reductions):
the lowest catalog price a product had during the 30 days before the reduction began, read from its
price history (the price in force when the 30 days began counts too).

What happened before an instant in the past never changes, so each (product, start) is read from
PostgreSQL once per process and then remembered: a listing of reduced products costs one query the
first time, none after.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from quote_service.db.pool import Pool
    from quote_service.pricing.snapshot import ConfigSnapshot

WINDOW_DAYS = 30
_MEMO_LIMIT = 50_000

_LOWEST = f"""
SELECT t.product_id, t.started_at, (
    SELECT min(price) FROM (
        SELECT h.new_price AS price FROM price_history h
         WHERE h.product_id = t.product_id
           AND h.changed_at >= t.started_at - interval '{WINDOW_DAYS} days' AND h.changed_at < t.started_at
        UNION ALL
        (SELECT h.new_price FROM price_history h
          WHERE h.product_id = t.product_id AND h.changed_at < t.started_at - interval '{WINDOW_DAYS} days'
          ORDER BY h.changed_at DESC, h.id DESC LIMIT 1)
    ) AS in_force
) AS lowest
FROM unnest($1::uuid[], $2::timestamptz[]) AS t(product_id, started_at)
"""

_OFFER_LOWEST = _LOWEST.replace("price_history h", "offer_price_history h").replace(
    "h.product_id = t.product_id", "h.offer_id = t.product_id"
)
"""The same over an offer's own price history (docs/offers.md: the prior price is per offer)."""

Key = tuple[UUID, datetime]


def reduction_start(
    snapshot: ConfigSnapshot,
    now: datetime,
    product_id: str,
    category_id: str | None,
    flash_sale_id: UUID | None,
    promotion_ids: Iterable[UUID],
    campaign_since: datetime | None = None,
) -> datetime | None:
    """When the reduction of a product's price began: the earliest of its flash sale's start, the starts
    of the applied promotions that can give it a discount and `campaign_since` (when its active campaign
    first moved its catalog price below the campaign's base price, for a line priced from that catalog
    price); None when none reduces it."""
    begun = [] if campaign_since is None else [campaign_since]
    # The line's own sale (the item of its offer, docs/offers.md#price-lists-and-flash-sales, or its default one).
    if flash_sale_id is not None and (sale := snapshot.flash_sales.by_id.get(flash_sale_id)) is not None:
        begun.append(sale.starts_at)
    wanted = set(promotion_ids)
    if wanted:
        for promotion in snapshot.promotions.ordered:
            c = promotion.conditions
            if promotion.id in wanted and (
                (not c.category_ids and not c.product_ids)
                or product_id in c.product_ids
                or category_id in c.category_ids
            ):
                begun.append(promotion.starts_at)
    return min(begun) if begun else None


class PriorPrices:
    """Lowest prices before reductions, remembered per (product, start)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._memo: dict[Key, Decimal | None] = {}

    def reset(self) -> None:
        """Forget what was remembered (a started app the tests reuse)."""
        self._memo.clear()

    async def lowest(self, wanted: set[Key], *, offers: bool = False) -> dict[Key, Decimal | None]:
        """The lowest catalog price in the 30 days before each start (None: no history then); `offers`: the keys
        name offers, whose own price history is read (their ids are never a product's)."""
        missing = [key for key in wanted if key not in self._memo]
        if missing:
            sql = _OFFER_LOWEST if offers else _LOWEST
            rows = await self._pool.fetch(sql, [k[0] for k in missing], [k[1] for k in missing])
            if len(self._memo) + len(rows) > _MEMO_LIMIT:
                self._memo.clear()
            for row in rows:
                self._memo[(row["product_id"], row["started_at"])] = row["lowest"]
        return {key: self._memo.get(key) for key in wanted}

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

from quote_service.pricing.prior_lines import PriorKey, Wanted, started_at

if TYPE_CHECKING:
    from quote_service.db.pool import Pool
    from quote_service.pricing.snapshot import ConfigSnapshot

WINDOW_DAYS = 30
_MEMO_LIMIT = 50_000

_LOWEST = f"""
SELECT t.product_id, t.started_at, (
    SELECT min(price) FROM (
        SELECT h.new_price AS price FROM price_history h
         WHERE h.product_id = t.product_id::uuid
           AND h.changed_at >= t.started_at - interval '{WINDOW_DAYS} days' AND h.changed_at < t.started_at
        UNION ALL
        (SELECT h.new_price FROM price_history h
          WHERE h.product_id = t.product_id::uuid AND h.changed_at < t.started_at - interval '{WINDOW_DAYS} days'
          ORDER BY h.changed_at DESC, h.id DESC LIMIT 1)
    ) AS in_force
) AS lowest
FROM unnest($1::text[], $2::timestamptz[]) AS t(product_id, started_at)
"""

_OFFER_LOWEST = _LOWEST.replace("price_history h", "offer_price_history h").replace(
    "h.product_id = t.product_id::uuid", "h.offer_id = t.product_id::uuid"
)
"""The same over an offer's own price history (docs/offers.md: the prior price is per offer)."""


def reduction_start(
    snapshot: ConfigSnapshot,
    product_id: str,
    category_id: str | None,
    flash_sale_id: UUID | None,
    promotion_ids: Iterable[UUID],
    campaign_since: datetime | None = None,
) -> datetime | None:
    """When the reduction of a product's price began: the earliest of `campaign_since` (when its active campaign
    first moved its catalog price below the campaign's base price, for a line priced from that catalog price), its
    flash sale's start and the starts of the promotions of `promotion_ids` that can give it a discount; None when
    none reduces it (the one-product quotes of display prices; a quote's lines: pricing/prior_lines.py)."""
    flash_start = None
    # The line's own sale (the item of its offer, docs/offers.md#price-lists-and-flash-sales, or its default one).
    if flash_sale_id is not None and (sale := snapshot.flash_sales.by_id.get(flash_sale_id)) is not None:
        flash_start = sale.starts_at
    reducers = snapshot.promotions.reductions.applied(promotion_ids)
    return started_at(reducers, product_id, category_id, flash_start, campaign_since)


class PriorPrices:
    """Lowest prices before reductions, remembered per (product or offer, start): the quote engine's input
    (`QuoteService._prior_history`, read before pricing) and the display prices'."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._memo: dict[PriorKey, Decimal | None] = {}

    def reset(self) -> None:
        """Forget what was remembered (a started app the tests reuse)."""
        self._memo.clear()

    async def lowest(self, catalog: Wanted, offered: Wanted | None = None) -> dict[PriorKey, Decimal | None]:
        """The lowest price in the 30 days before each start (None: no history then) of each product of `catalog`
        (its id as text) and each offer of `offered` (its own price history; an offer's id is never a product's).
        What was read once is remembered: a warm quote's look-ups call nothing but this."""
        memo = self._memo
        table: dict[PriorKey, Decimal | None] = {}
        for wanted, sql in ((catalog, _LOWEST), (offered, _OFFER_LOWEST)):
            if not wanted:
                continue
            missing: list[PriorKey] | None = None
            for subject, starts in wanted.items():
                for start in starts:
                    key = (subject, start)
                    if key in memo:
                        table[key] = memo[key]
                    elif missing is None:
                        missing = [key]
                    else:
                        missing.append(key)
            if missing is None:
                continue
            rows = await self._pool.fetch(sql, [k[0] for k in missing], [k[1] for k in missing])
            if len(memo) + len(rows) > _MEMO_LIMIT:
                memo.clear()
            for row in rows:
                key = (row["product_id"], row["started_at"])
                memo[key] = table[key] = row["lowest"]
        return table

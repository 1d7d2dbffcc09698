"""Step 1's price lists (docs/price-lists.md), written again from the docs: a plain scan of every
list and every price, the best (priority, specificity, created_at, id) kept; the production
`PriceBook` indexes and sorts instead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from quote_service.pricing.price_lists import PriceList


def _fold(value: str | None) -> str:
    return "" if value is None else value.strip().lower()


def list_price(
    lists: Sequence[PriceList],
    *,
    currency: str,
    product_id: UUID,
    quantity: int,
    customer_group: str | None,
    channel: str | None,
    now: datetime,
) -> tuple[PriceList, Decimal] | None:
    """The list that prices `quantity` units of the product for this customer and channel, and its amount."""
    group, chan = _fold(customer_group), _fold(channel)
    best: tuple[tuple[int, int, datetime, int], PriceList, Decimal] | None = None
    for candidate in lists:
        if candidate.currency != currency:
            continue
        if candidate.starts_at is not None and not candidate.starts_at <= now:
            continue
        if candidate.ends_at is not None and not now < candidate.ends_at:
            continue
        groups = {_fold(g) for g in candidate.customer_groups}
        channels = {_fold(c) for c in candidate.channels}
        if groups and group not in groups:
            continue
        if channels and chan not in channels:
            continue
        usable = [p for p in candidate.prices if p.product_id == product_id and p.min_quantity <= quantity]
        if not usable:
            continue
        amount = max(usable, key=lambda p: p.min_quantity).amount
        rank = (candidate.priority, int(bool(groups)) + int(bool(channels)), candidate.created_at, candidate.id.int)
        if best is None or rank > best[0]:
            best = (rank, candidate, amount)
    return None if best is None else (best[1], best[2])

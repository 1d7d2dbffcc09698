"""The prior-price step, its loader (pricing/prior_lines.py; docs/markets.md#prior-price-for-announced-reductions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from quote_service.pricing.prior_lines import started_at
from quote_service.pricing.promotions import Conditions, PercentOff, Promotion, Reductions

JAN, FEB, MAR = (datetime(2026, month, 1, tzinfo=UTC) for month in (1, 2, 3))


def _promotion(starts_at: datetime, **conditions: frozenset[str]) -> Promotion:
    return Promotion(
        id=uuid.uuid4(),
        name=f"from {starts_at:%b}",
        config=PercentOff(percent=Decimal(10)),
        conditions=Conditions(**conditions),
        starts_at=starts_at,
    )


def test_a_line_starts_at_the_earliest_applied_promotion_that_can_discount_it() -> None:
    shoes = _promotion(JAN, category_ids=frozenset({"shoes"}))
    one = _promotion(FEB, product_ids=frozenset({"p1"}))
    every = _promotion(MAR)
    reductions = Reductions([every, one, shoes])
    applied = reductions.applied([every.id, one.id, shoes.id])
    assert started_at(applied, "p1", "hats", None, None) == FEB  # not the shoes' January
    assert started_at(applied, "p2", "shoes", None, None) == JAN
    assert started_at(applied, "p2", "hats", None, None) == MAR
    assert started_at(reductions.applied([one.id]), "p2", "hats", None, None) is None
    # A campaign or a flash sale that began earlier is the start.
    assert started_at(applied, "p1", None, None, datetime(2025, 12, 1, tzinfo=UTC)) == datetime(2025, 12, 1, tzinfo=UTC)
    assert started_at(reductions.applied([every.id]), "p1", None, FEB, None) == FEB


def test_the_loader_asks_every_start_a_product_could_be_reduced_from() -> None:
    shoes = _promotion(JAN, category_ids=frozenset({"shoes"}))
    one = _promotion(FEB, product_ids=frozenset({"p1"}))
    every = _promotion(MAR)
    reductions = Reductions([shoes, one, every])
    assert reductions.general == {MAR}
    assert reductions.by_product == {"p1": {FEB}}
    assert reductions.by_category == {"shoes": {JAN}}
    # Indexed by id: a line looks up the promotions applied, in the book's order.
    assert [r[1] for r in reductions.applied([every.id, shoes.id, uuid.uuid4()])] == [JAN, MAR]

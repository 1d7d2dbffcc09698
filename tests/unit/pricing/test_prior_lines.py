"""The prior-price step, its loader (pricing/prior_lines.py; docs/markets.md#prior-price-for-announced-reductions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from random import Random

from quote_service.pricing.flash import FlashSaleBook
from quote_service.pricing.prior_lines import prior_lines, started_at
from quote_service.pricing.promotions import Conditions, PercentOff, Promotion, Reductions
from quote_service.pricing.quote import AppliedPromotion, CatalogProduct, QuoteLine

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


def test_the_step_starts_every_line_where_started_at_does() -> None:
    """`prior_lines` looks the applied promotions up by target once a quote (`earliest_by_target`), not line by
    line: on random lines under random applied promotions (equal starts written in two time zones, so that the
    first of equal ones shows) every line starts where `started_at` says, in the same written form."""
    rng = Random(5)
    istanbul = timezone(timedelta(hours=3))  # the same instants, written otherwise
    starts = [JAN, FEB, MAR, FEB.astimezone(istanbul), JAN.astimezone(istanbul)]
    for _ in range(300):
        promotions = [
            _promotion(
                rng.choice(starts),
                **rng.choice(
                    [
                        {},
                        {"category_ids": frozenset(rng.sample(["shoes", "hats", "bags"], rng.randint(1, 2)))},
                        {"product_ids": frozenset(rng.sample(["p1", "p2", "p3", "p4"], rng.randint(1, 2)))},
                    ]
                ),
            )
            for _ in range(rng.randint(1, 6))
        ]
        reductions = Reductions(promotions)
        applied_ids = [p.id for p in promotions if rng.random() < 0.8]
        applied = [
            AppliedPromotion(promotion_id=i, name="p", kind="PERCENT_OFF", amount=Decimal(1)) for i in applied_ids
        ]
        products: dict[str, CatalogProduct] = {}
        items = []
        for n in range(rng.randint(1, 8)):
            pid = rng.choice(["p1", "p2", "p3", "p4"])
            category = rng.choice(["shoes", "hats", "bags", None])
            campaign = rng.choice([None, None, FEB, FEB.astimezone(istanbul), datetime(2025, 12, 1, tzinfo=UTC)])
            products[pid] = CatalogProduct(
                id=uuid.UUID(int=n + 1),
                currency="EUR",
                current_price=Decimal(10),
                min_price=Decimal(0),
                category_id=category or "none",
                seller_id="s",
                is_active=True,
                campaign_reduced_since=campaign,
            )
            discount = rng.choice([Decimal(0), Decimal("1.00")])
            items.append(
                QuoteLine(
                    product_id=pid,
                    quantity=1,
                    list_unit_price=Decimal(10),
                    unit_price=Decimal(10),
                    line_subtotal=Decimal(10),
                    discount=discount,
                    tax=Decimal(0),
                    price_source="catalog",
                    category_id=category,
                )
            )
        reducers = reductions.applied(applied_ids)
        shown = prior_lines(items, applied, products, FlashSaleBook(), reductions, "EUR", {})
        for before, after in zip(items, shown, strict=True):
            expected = started_at(
                reducers if before.discount > 0 else (),
                before.product_id,
                before.category_id,
                None,
                products[before.product_id].campaign_reduced_since,
            )
            if expected is None:
                assert after is before
            else:
                assert after.reduction_started_at == expected
                assert str(after.reduction_started_at) == str(expected)  # the first of equal starts

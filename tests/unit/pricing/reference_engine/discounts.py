"""Step 5 of a quote, coupons, written from docs/pricing.md ("Coupons" and the coupon bullets of
"Configuration" and "Quote engine: choices in detail"), not from the production module.

The page, item by item: a code is read without its surrounding spaces and in any case; the same code
twice is DUPLICATE; then NOT_FOUND, INACTIVE, NOT_STARTED, EXPIRED, USAGE_LIMIT, NOT_APPLICABLE
(another currency, or none of its categories in the basket), MIN_SUBTOTAL (the goods before
discounts), in that order; a valid coupon is NOT_COMBINABLE when the promotion applied refuses
coupons. Coupons apply in the order given, on what is left of their lines (their categories', or
every line; flash-sale units take none): PERCENTAGE rounds its percent of that once and stops at
`max_discount`, FIXED gives its value or what is left; then the rest of the cap
(`MAX_DISCOUNT_PERCENTAGE` of the whole goods, rounded down, less what promotions took) bounds it,
and it is split as `shares.split` says; lines already reduced as its `on_reduced_lines` says
(`reduced`). One that gives nothing is NOT_APPLICABLE. A FREE_DELIVERY
coupon is only checked here: step 7 prices it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from quote_service.pricing.coupons import Coupon, Rejection
from tests.unit.pricing.reference_engine.lines import Line
from tests.unit.pricing.reference_engine.money import ZERO
from tests.unit.pricing.reference_engine.reduced import best_of, seen
from tests.unit.pricing.reference_engine.shares import floor_to, half_up, split


@dataclass(eq=False)
class CouponResult:
    """One code's outcome; step 7 fills in a FREE_DELIVERY coupon's `amount` (the fee waived) or its
    `reason` (nothing to waive)."""

    code: str
    coupon: Coupon | None = None
    amount: Decimal | None = None
    reason: Rejection | None = None


@dataclass(frozen=True)
class _Basket:
    """What a coupon is checked against."""

    goods: Decimal
    currency: str
    categories: frozenset[str]
    now: datetime


def _refusal(coupon: Coupon | None, basket: _Basket, uses: int) -> Rejection | None:
    if coupon is None:
        return "NOT_FOUND"
    if not coupon.is_active:
        return "INACTIVE"
    if basket.now < coupon.valid_from:
        return "NOT_STARTED"
    if coupon.valid_to is not None and basket.now >= coupon.valid_to:
        return "EXPIRED"
    for limit, used in ((coupon.usage_limit, coupon.times_used), (coupon.per_customer_limit, uses)):
        if limit is not None and used >= limit:
            return "USAGE_LIMIT"
    if coupon.currency is not None and coupon.currency != basket.currency:
        return "NOT_APPLICABLE"
    if coupon.category_ids and basket.categories.isdisjoint(coupon.category_ids):
        return "NOT_APPLICABLE"
    if coupon.min_subtotal is not None and basket.goods < coupon.min_subtotal:
        return "MIN_SUBTOTAL"
    return None


def _face_value(coupon: Coupon, left: Decimal, cent: Decimal) -> Decimal:
    """What the coupon asks for on `left` (what is left of its lines), before the cap and the floors."""
    if coupon.type == "FIXED":
        return min(half_up(Fraction(coupon.value), cent), left)
    asked = half_up(Fraction(left) * Fraction(coupon.value) / 100, cent)
    if coupon.max_discount is None:
        return asked
    return min(asked, half_up(Fraction(coupon.max_discount), cent))


def give(
    amount: Decimal, lines: Sequence[Line], weights: Sequence[Decimal], cent: Decimal, *, platform: bool
) -> Decimal:
    """Split `amount` over `lines` (`shares.split`, rooms above each line's floor) into their discounts;
    a platform-funded share is also kept in `Line.funded` (it stays in the commission base)."""
    rooms = [max(line.subtotal - line.discount - line.floor, ZERO) for line in lines]
    shares, given = split(amount, weights, rooms, cent)
    for line, share in zip(lines, shares, strict=True):
        line.discount += share
        if platform:
            line.funded += share
    return given


def apply_coupons(
    codes: Sequence[str],
    lines: Sequence[Line],
    coupons: Sequence[Coupon],
    *,
    subtotal: Decimal,
    currency: str,
    cent: Decimal,
    customer_uses: Mapping[str, int],
    max_discount_percentage: Decimal,
    now: datetime,
    promotions_took: Decimal = ZERO,
    no_coupons: bool = False,
) -> list[CouponResult]:
    """Each code's outcome in request order; the discounts land on the lines. `promotions_took`: what
    promotions already took of the cap; `no_coupons`: the promotion applied refuses coupons."""
    known = {coupon.code: coupon for coupon in coupons}
    open_lines = [line for line in lines if line.flash_sale_id is None]
    basket = _Basket(
        goods=subtotal,
        currency=currency,
        categories=frozenset(line.category_id for line in open_lines if line.category_id is not None),
        now=now,
    )
    under_cap = floor_to(Fraction(subtotal) * Fraction(max_discount_percentage) / 100, cent) - promotions_took
    outcomes: list[CouponResult] = []
    for raw in codes:
        code = raw.strip().upper()
        coupon = known.get(code)
        repeated = any(done.code == code for done in outcomes)
        refused = "DUPLICATE" if repeated else _refusal(coupon, basket, customer_uses.get(code, 0))
        if refused is not None or coupon is None:
            outcomes.append(CouponResult(code, reason=refused or "NOT_FOUND"))
        elif no_coupons:
            outcomes.append(CouponResult(code, reason="NOT_COMBINABLE"))
        elif coupon.type == "FREE_DELIVERY":
            outcomes.append(CouponResult(code, coupon=coupon))
        else:
            mine = [line for line in open_lines if not coupon.category_ids or line.category_id in coupon.category_ids]
            mine, values = seen(coupon.on_reduced_lines, mine)  # docs/promotions.md: reduced lines
            asked = _face_value(coupon, sum(values, ZERO), cent)
            weights: Sequence[Any] = values
            if coupon.on_reduced_lines == "best_of":
                weights, asked = best_of(asked, mine, values, values, cent)
            amount = min(asked, under_cap)
            given = give(amount, mine, weights, cent, platform=coupon.funded_by == "platform") if amount > 0 else ZERO
            if given > 0:
                under_cap -= given
                outcomes.append(CouponResult(code, coupon=coupon, amount=given))
            else:
                outcomes.append(CouponResult(code, reason="NOT_APPLICABLE"))
    return outcomes

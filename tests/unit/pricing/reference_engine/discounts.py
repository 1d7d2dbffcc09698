"""Step 5 of a quote, as docs/pricing.md ("Coupons", "Quote engine: choices") states it.

Coupons apply in the order given, each once, on what is left of its eligible lines (lines of
its categories, or all lines; never flash-sale lines). A coupon's amount is rounded once and
limited by what is left of the cap (`max_discount_percentage` of the goods total, rounded
down). It is spread over the eligible lines in proportion to what is left of each; a share
that would take a line below its floor (`min_price` x quantity) stops at the floor and the
coupon gives that much less; the rounding remainder goes to the last line that can take it.

FREE_DELIVERY coupons are only checked here; the engine applies the first valid one to the
delivery fee (step 7). A coupon that would change nothing is refused as NOT_APPLICABLE, so an
order never spends a use of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from quote_service.pricing.coupons import Coupon, Rejection
from tests.unit.pricing.reference_engine.lines import Line
from tests.unit.pricing.reference_engine.money import ZERO, percent


class CouponResult:
    """What became of one code: a discount, a pending free delivery, or a rejection."""

    __slots__ = ("amount", "code", "coupon", "reason")

    def __init__(
        self, code: str, *, coupon: Coupon | None = None, amount: Decimal | None = None, reason: Rejection | None = None
    ) -> None:
        self.code = code
        self.coupon = coupon
        self.amount = amount
        """The discount given; None for a FREE_DELIVERY coupon until step 7 prices the delivery."""
        self.reason: Rejection | None = reason


def discount_cap(goods_total: Decimal, cap_percent: Decimal, cent: Decimal) -> Decimal:
    """The most all coupons together may take: `cap_percent` % of the goods, rounded DOWN (never above it)."""
    return percent(goods_total, cap_percent).quantize(cent, ROUND_FLOOR)


def rejection(
    coupon: Coupon | None,
    *,
    subtotal: Decimal,
    currency: str,
    categories: set[str],
    uses: int,
    now: datetime,
    duplicate: bool,
) -> Rejection | None:
    """The first reason, in the documented order, why a coupon cannot apply; None when it can."""
    reasons: list[tuple[bool, Rejection]] = [(duplicate, "DUPLICATE")]
    if coupon is not None:
        limits = (coupon.usage_limit, coupon.times_used), (coupon.per_customer_limit, uses)
        reasons += [
            (not coupon.is_active, "INACTIVE"),
            (now < coupon.valid_from, "NOT_STARTED"),
            (coupon.valid_to is not None and now >= coupon.valid_to, "EXPIRED"),
            (any(limit is not None and used >= limit for limit, used in limits), "USAGE_LIMIT"),
            (coupon.currency not in (None, currency), "NOT_APPLICABLE"),
            (bool(coupon.category_ids) and not coupon.category_ids & categories, "NOT_APPLICABLE"),
            (coupon.min_subtotal is not None and subtotal < coupon.min_subtotal, "MIN_SUBTOTAL"),
        ]
    else:
        reasons.append((True, "NOT_FOUND"))
    return next((reason for refused, reason in reasons if refused), None)


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
    """Check every code, add each valid coupon's share to `Line.discount`; results in request order.

    Promotions took `promotions_took` of the cap first; `no_coupons`: the promotion applied does
    not combine with coupons (every valid coupon is NOT_COMBINABLE, docs/promotions.md)."""
    results: list[CouponResult] = []
    if not codes:
        return results
    cap_left = discount_cap(subtotal, max_discount_percentage, cent) - promotions_took
    eligible_lines = [line for line in lines if line.coupon_eligible]
    categories = {line.category_id for line in eligible_lines if line.category_id is not None}
    seen: set[str] = set()
    for raw in codes:
        code = raw.strip().upper()  # codes are case-insensitive
        coupon = next((coupon for coupon in coupons if coupon.code == code), None)
        reason = rejection(
            coupon,
            subtotal=subtotal,
            currency=currency,
            categories=categories,
            uses=customer_uses.get(code, 0),
            now=now,
            duplicate=code in seen,
        )
        seen.add(code)
        if reason is not None or coupon is None:
            results.append(CouponResult(code, reason=reason or "NOT_FOUND"))
            continue
        if no_coupons:
            results.append(CouponResult(code, reason="NOT_COMBINABLE"))
            continue
        if coupon.type == "FREE_DELIVERY":
            results.append(CouponResult(code, coupon=coupon))  # priced in step 7
            continue
        targets = [
            line for line in eligible_lines if not coupon.category_ids or line.category_id in coupon.category_ids
        ]
        amount = min(_wanted(coupon, targets, cent), cap_left)
        if amount > 0:
            amount = spread(amount, targets, cent, platform=coupon.funded_by == "platform")
        if amount <= 0:
            results.append(CouponResult(code, reason="NOT_APPLICABLE"))
            continue
        cap_left -= amount
        results.append(CouponResult(code, coupon=coupon, amount=amount))
    return results


def _wanted(coupon: Coupon, lines: Sequence[Line], cent: Decimal) -> Decimal:
    """The coupon's own amount on what is left of its lines, rounded once, before floors and the cap."""
    left = ZERO
    for line in lines:
        left += line.subtotal - line.discount
    if coupon.type == "PERCENTAGE":
        wanted = percent(left, coupon.value).quantize(cent, ROUND_HALF_UP)
        if coupon.max_discount is not None:
            wanted = min(wanted, coupon.max_discount.quantize(cent, ROUND_HALF_UP))
        return wanted
    return min(coupon.value.quantize(cent, ROUND_HALF_UP), left)


def spread(amount: Decimal, lines: Sequence[Line], cent: Decimal, *, platform: bool = False) -> Decimal:
    """Add up to `amount` (on the currency grid) to the lines' discounts; return what was given.

    Each line's exact share is in proportion to what is left of it, clipped at its room above
    the floor (a clipped share is not moved to other lines: they belong to other products and
    often other sellers). Every share but the last unclipped line's is rounded half up; that
    line takes the remainder.
    """
    total = ZERO
    for line in lines:
        total += line.subtotal - line.discount
    if total <= 0:
        return ZERO
    shares: list[Decimal] = []
    rooms: list[Decimal] = []
    given = ZERO
    last = -1  # the last line whose share is not clipped: it takes the rounding remainder
    for position, line in enumerate(lines):
        left = line.subtotal - line.discount
        room = max(left - line.floor, ZERO)
        share = amount * left / total  # not left * (amount / total): a half-cent tie must stay exact
        if share < room:
            last = position
        else:
            share = room
        given += share
        shares.append(share)
        rooms.append(room)
    given = given.quantize(cent, ROUND_HALF_UP)
    if last >= 0:  # else every line is at its floor: the shares are the rooms, on the grid (`Line.floor` is)
        shares = [share.quantize(cent, ROUND_HALF_UP) for share in shares]
        rest = given - sum(shares, ZERO) + shares[last]
        shares[last] = min(max(rest, ZERO), rooms[last])
        _settle(rest - shares[last], shares, rooms, skip=last)
    for line, share in zip(lines, shares, strict=True):
        line.discount += share
        if platform:  # the platform pays it: the line's commission base keeps it
            line.funded += share
    return given


def _settle(excess: Decimal, rounded: list[Decimal], rooms: Sequence[Decimal], *, skip: int) -> None:
    """Move a remainder the last line could not take (rare: many tiny shares) onto the other lines."""
    for i in reversed(range(len(rounded))):
        if excess == 0:
            return
        if i == skip:
            continue
        moved = min(excess, rooms[i] - rounded[i]) if excess > 0 else -min(-excess, rounded[i])
        rounded[i] += moved
        excess -= moved

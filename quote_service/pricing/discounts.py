"""Step 5 of a quote (docs/pricing.md): coupon discounts spread over the eligible lines.

Coupons apply in the order given, each once, on what is left of its eligible lines (lines of
its categories, or all lines; never flash-sale lines; lines already reduced as its
`on_reduced_lines` says: reduced_lines.py). A coupon's amount is rounded once and
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

from quote_service.pricing.coupons import Coupon, CouponSet, Rejection, check_coupon, normalize_code
from quote_service.pricing.fx_convert import Converter, converted_coupon
from quote_service.pricing.lines import Line
from quote_service.pricing.money import ZERO, percent_of
from quote_service.pricing.reduced_lines import best_of_parts, reduced_view


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


def discount_cap(goods_total: Decimal, percent: Decimal, cent: Decimal) -> Decimal:
    """The most all coupons together may take: `percent` % of the goods, rounded DOWN (never above it)."""
    return percent_of(goods_total, percent).quantize(cent, ROUND_FLOOR)


def apply_coupons(
    codes: Sequence[str],
    lines: Sequence[Line],
    coupons: CouponSet,
    *,
    subtotal: Decimal,
    currency: str,
    cent: Decimal,
    customer_uses: Mapping[str, int],
    max_discount_percentage: Decimal,
    now: datetime,
    taken: Decimal = ZERO,
    blocked: bool = False,
    fx: Converter | None = None,
) -> list[CouponResult]:
    """Check every code, add each valid coupon's share to `Line.discount`; results in request order.

    `taken` is what promotions already took of the cap; `blocked`: the promotion applied does not
    combine with coupons, so every otherwise valid coupon is refused as NOT_COMBINABLE. `fx` (FX_CONVERSION):
    a coupon priced in another currency applies with its amounts converted at the quote's rate
    (docs/currencies.md), else it is NOT_APPLICABLE there.
    """
    results: list[CouponResult] = []
    if not codes:
        return results
    cap_left = discount_cap(subtotal, max_discount_percentage, cent) - taken
    eligible_lines = [line for line in lines if line.priced.flash_sale_id is None]  # flash units take no coupon
    categories = {line.priced.category_id for line in eligible_lines if line.priced.category_id is not None}
    seen: set[str] = set()
    for raw in codes:
        code = normalize_code(raw)
        coupon = coupons.by_code.get(code)
        if fx is not None and coupon is not None and coupon.currency is not None and coupon.currency != currency:
            conversion = fx.rate(coupon.currency)
            if conversion is not None:
                coupon = converted_coupon(coupon, conversion, currency)
        reason = check_coupon(
            coupon,
            code=code,
            subtotal=subtotal,
            currency=currency,
            category_ids_in_basket=categories,
            customer_uses=customer_uses.get(code, 0),
            now=now,
            seen_codes=seen,
            product_ids_in_basket=[line.priced.product_id for line in eligible_lines]
            if coupon is not None and coupon.product_ids
            else (),
        )
        seen.add(code)
        if reason is not None or coupon is None:
            results.append(CouponResult(code, reason=reason or "NOT_FOUND"))
            continue
        if blocked:
            results.append(CouponResult(code, reason="NOT_COMBINABLE"))
            continue
        if coupon.type == "FREE_DELIVERY":
            results.append(CouponResult(code, coupon=coupon))  # priced in step 7
            continue
        # Every line, or those of its categories or of its products (inline: a call per line costs).
        anywhere = not coupon.category_ids and not coupon.product_ids
        targets = [
            line
            for line in eligible_lines
            if anywhere
            or line.priced.category_id in coupon.category_ids
            or line.priced.product_id in coupon.product_ids
        ]
        owner = coupon.seller_id  # a seller's own coupon: its own lines only (docs/offers.md)
        if owner is not None:
            targets = [line for line in targets if line.priced.seller_id == owner]
        lefts = [line.priced.subtotal - line.discount for line in targets]  # what is left of each line
        policy = coupon.on_reduced_lines
        if policy != "stack":  # docs/promotions.md#reduced-lines
            targets, lefts = reduced_view(policy, targets, lefts)
        left = ZERO
        for part in lefts:
            left += part
        platform = coupon.funded_by == "platform"
        if policy == "best_of":
            amount = give_best_of(_wanted(coupon, left, cent), targets, lefts, None, cap_left, cent, platform=platform)
        else:
            amount = min(_wanted(coupon, left, cent), cap_left)
            if amount > 0:
                amount = spread(amount, targets, lefts, left, cent, platform=platform)
        if amount <= 0:
            results.append(CouponResult(code, reason="NOT_APPLICABLE"))
            continue
        cap_left -= amount
        results.append(CouponResult(code, coupon=coupon, amount=amount))
    return results


def _wanted(coupon: Coupon, left: Decimal, cent: Decimal) -> Decimal:
    """The coupon's own amount on what is `left` of its lines, rounded once, before floors and the cap."""
    if coupon.type == "PERCENTAGE":
        wanted = percent_of(left, coupon.value).quantize(cent, ROUND_HALF_UP)
        if coupon.max_discount is not None:
            wanted = min(wanted, coupon.max_discount.quantize(cent, ROUND_HALF_UP))
        return wanted
    return min(coupon.value.quantize(cent, ROUND_HALF_UP), left)


def spread(
    amount: Decimal,
    lines: Sequence[Line],
    lefts: Sequence[Decimal],
    total: Decimal,
    cent: Decimal,
    weights: Sequence[Decimal] | None = None,
    *,
    platform: bool = False,
) -> Decimal:
    """Add up to `amount` (on the currency grid) to the lines' discounts; return what was given.

    `lefts` is what is left of each line (subtotal - discount), `total` their sum (or the sum of
    `weights`, when given: a buy-X-get-Y discount goes to the lines of its `get` units, each in
    proportion to what its units give). Each line's
    exact share is in proportion to what is left of it, clipped at its room above the floor (a
    clipped share is not moved to other lines: they belong to other products and often other
    sellers). Every share but the last unclipped line's is rounded half up; that line takes the
    remainder. `platform`: the platform funds the discount, so each share is added to `Line.funded` too.
    """
    if total <= 0:
        return ZERO
    shares: list[Decimal] = []
    clipped: list[int] = []
    given = rounded = ZERO
    last = -1  # the last line whose share is not clipped: it takes the rounding remainder
    # One pass of plain operations a line (no call but the arithmetic: the loop runs for every line of every
    # promotion of a deal, docs/hot-path.md#where-a-line-goes); `room` is max(left - floor, ZERO) inline. A
    # share is rounded as it is worked out; a clipped one is its room (on the grid), rounded only if some line
    # was not clipped (else the rooms are the shares as they are).
    for position, line in enumerate(lines):
        left = lefts[position]
        room = left - line.priced.floor
        if room < ZERO:
            room = ZERO
        # not weight * (amount / total): a half-cent tie must stay exact
        share = amount * (left if weights is None else weights[position]) / total
        if share < room:
            last = position
            given += share
            share = share.quantize(cent, ROUND_HALF_UP)
            rounded += share
        else:
            given += room
            share = room
            clipped.append(position)
        shares.append(share)
    given = given.quantize(cent, ROUND_HALF_UP)
    if last >= 0:  # else every line is at its floor: the shares are the rooms, on the grid (`Priced.floor` is)
        for position in clipped:
            shares[position] = share = shares[position].quantize(cent, ROUND_HALF_UP)
            rounded += share
        rest = given - rounded + shares[last]
        room = lefts[last] - lines[last].priced.floor  # the last line's room, as the loop had it (no call)
        if room < ZERO:
            room = ZERO
        taken = min(max(rest, ZERO), room)
        shares[last] = taken
        if rest != taken:  # rare: the remainder does not fit the last line
            rooms = [max(left - line.priced.floor, ZERO) for left, line in zip(lefts, lines, strict=True)]
            _settle(rest - taken, shares, rooms, skip=last)
    # By position, not zip(..., strict=True): in the former compiled engine, a generic call (~2,500 instructions).
    for position, share in enumerate(shares):
        lines[position].discount += share
    if platform:
        for position, share in enumerate(shares):
            lines[position].funded += share
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


def give_best_of(
    wanted: Decimal,
    lines: Sequence[Line],
    seen: Sequence[Decimal],
    weights: Sequence[Decimal] | None,
    cap_left: Decimal,
    cent: Decimal,
    *,
    platform: bool = False,
) -> Decimal:
    """A `best_of` discount given to the lines (at most `cap_left`; reduced_lines.py); what was given."""
    parts = best_of_parts(wanted, lines, seen, weights)
    total = sum(parts, ZERO)
    amount = min(total.quantize(cent, ROUND_HALF_UP), cap_left)
    if amount <= 0:
        return ZERO
    lefts = [line.priced.subtotal - line.discount for line in lines]
    return spread(amount, lines, lefts, total, cent, parts, platform=platform)

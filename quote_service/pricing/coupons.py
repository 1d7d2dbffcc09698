"""Coupons as the quote engine reads them, and whether one may apply (docs/pricing.md).

`check_coupon` answers the first reason that refuses a code, in this order:

    DUPLICATE       the code already appeared earlier in the same request
    NOT_FOUND       no such coupon (in the snapshot)
    INACTIVE        switched off by an admin
    NOT_STARTED     now < valid_from
    EXPIRED         now >= valid_to
    USAGE_LIMIT     used usage_limit times in all, or per_customer_limit times by this customer
    NOT_APPLICABLE  priced in another currency, or none of its categories is in the basket
    MIN_SUBTOTAL    the goods total is below min_subtotal

A valid coupon is also refused as NOT_COMBINABLE when the promotion a quote applies does not
combine with coupons (`discounts.apply_coupons`).

The discount arithmetic (spreading, caps, min_price floors) belongs to the quote engine.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Literal

import msgspec

CouponType = Literal["PERCENTAGE", "FIXED", "FREE_DELIVERY"]
OnReducedLines = Literal["stack", "skip", "best_of"]
"""How a coupon or promotion treats a reduced line, one already below its product's own price
(docs/promotions.md#reduced-lines): discount it again (`stack`), leave it out (`skip`), or give the
lower of its reduced price and its own price less this discount (`best_of`)."""
FundedBy = Literal["seller", "platform"]
"""Who pays a promotion's or coupon's discount: the seller, or the platform (which pays the seller what
the customer saved and leaves it out of the commission base)."""
Rejection = Literal[
    "NOT_FOUND",
    "INACTIVE",
    "NOT_STARTED",
    "EXPIRED",
    "MIN_SUBTOTAL",
    "USAGE_LIMIT",
    "NOT_APPLICABLE",
    "DUPLICATE",
    "NOT_COMBINABLE",
]


class Coupon(msgspec.Struct, frozen=True, kw_only=True):
    """A coupon; amounts (FIXED value, min_subtotal, max_discount) are in `currency`."""

    code: str
    type: CouponType
    value: Decimal
    """Percent for PERCENTAGE, an amount for FIXED, 0 for FREE_DELIVERY."""
    currency: str | None = None
    """Set whenever the coupon names an amount; the coupon then applies only to that currency."""
    min_subtotal: Decimal | None = None
    max_discount: Decimal | None = None
    category_ids: frozenset[str] = frozenset()
    """Empty (and no product_ids): the whole basket is eligible; otherwise only lines of these
    categories or of these products."""
    product_ids: frozenset[str] = frozenset()
    """Lines of these products are eligible (a seller's coupon names its own: docs/sellers.md)."""
    valid_from: datetime
    valid_to: datetime | None = None
    usage_limit: int | None = None
    per_customer_limit: int | None = None
    is_active: bool = True
    times_used: int = 0
    funded_by: FundedBy = "seller"
    """Who pays the discount (docs/orders-and-refunds.md#who-funds-a-discount)."""
    on_reduced_lines: OnReducedLines = "stack"
    """How it treats lines already reduced below their own price (docs/promotions.md#reduced-lines)."""
    seller_id: str | None = None
    """The seller whose own coupon it is (docs/sellers.md; None: the platform's): it discounts only that
    seller's lines, never another seller's offer of the same product (docs/offers.md)."""


def normalize_code(code: str) -> str:
    """Codes are case-insensitive: compare and store them upper-case, without surrounding spaces."""
    return code.strip().upper()


class CouponSet(msgspec.Struct, frozen=True):
    """Every coupon of a snapshot, indexed by upper-case code."""

    by_code: dict[str, Coupon]
    reducing: bool = False
    """Some coupon treats reduced lines other than by stacking: a quote naming coupons then works out
    each line's own price (docs/promotions.md#reduced-lines); otherwise it pays nothing for that."""

    @classmethod
    def of(cls, coupons: Iterable[Coupon]) -> CouponSet:
        by_code = {coupon.code: coupon for coupon in coupons}
        return cls(by_code, any(coupon.on_reduced_lines != "stack" for coupon in by_code.values()))

    def get(self, code: str) -> Coupon | None:
        """The coupon for `code` in any letter case; None when unknown."""
        return self.by_code.get(normalize_code(code))


def check_coupon(
    coupon: Coupon | None,
    *,
    code: str,
    subtotal: Decimal,
    currency: str,
    category_ids_in_basket: Collection[str],
    customer_uses: int,
    now: datetime,
    seen_codes: Collection[str],
    product_ids_in_basket: Collection[str] = (),
) -> Rejection | None:
    """Why `coupon` (looked up by `code`) cannot apply to this basket, or None when it can.

    `subtotal` is the goods total before discounts, `customer_uses` how often this customer has
    already redeemed it, `seen_codes` the upper-case codes earlier in the same request.
    """
    if normalize_code(code) in seen_codes:
        return "DUPLICATE"
    if coupon is None:
        return "NOT_FOUND"
    if not coupon.is_active:
        return "INACTIVE"
    if now < coupon.valid_from:
        return "NOT_STARTED"
    if coupon.valid_to is not None and now >= coupon.valid_to:
        return "EXPIRED"
    if coupon.usage_limit is not None and coupon.times_used >= coupon.usage_limit:
        return "USAGE_LIMIT"
    if coupon.per_customer_limit is not None and customer_uses >= coupon.per_customer_limit:
        return "USAGE_LIMIT"
    if coupon.currency is not None and coupon.currency != currency:
        return "NOT_APPLICABLE"
    # Eligible lines: those of its categories or of its products (neither: every line).
    if coupon.category_ids and coupon.category_ids.isdisjoint(category_ids_in_basket) and not coupon.product_ids:
        return "NOT_APPLICABLE"
    if (
        coupon.product_ids
        and coupon.product_ids.isdisjoint(product_ids_in_basket)
        and all(category not in category_ids_in_basket for category in coupon.category_ids)
    ):
        return "NOT_APPLICABLE"
    if coupon.min_subtotal is not None and subtotal < coupon.min_subtotal:
        return "MIN_SUBTOTAL"
    return None

"""The next cheapest step to a better total (docs/promotions.md#hints): what a quote with `hints: true`
carries, worked out after its totals and changing none of them.

Each candidate step names the goods to add (`add_amount`) and what the customer would then save
(`saves`), measured against the same basket without that step's benefit:

    spend_tier     SPEND_TIERS: the next tier above the one the promotion's lines reach (saves: what the
                   next tier takes off less what the tier reached does, both on the basket with the goods
                   added); PERCENT_OFF and AMOUNT_OFF whose min_subtotal the basket misses (saves: what it
                   would take off)
    free_delivery  a shipment's selected option with free_above (seller_id: its seller; saves: its fee),
                   FREE_DELIVERY promotions whose min_subtotal the basket (or a shipment) misses
                   (saves: the part of the fee they would waive), and a FREE_DELIVERY rule's
                   min_subtotal the goods after discounts miss (a quote without shipments; saves: its fee)
    bundle         FIXED_PRICE_BUNDLE: the units missing from the next group, of the cheapest qualifying
                   item in the basket (saves: what the completed group takes off)
    buy_x_get_y    BUY_X_GET_Y: the fewest units of one qualifying item in the basket that earn more of it
    gift           GIFT whose min_subtotal the basket misses, its gift in stock (saves: what the gift costs)

A promotion's step is priced as that promotion alone would price the basket with the goods added (the
added goods as a line it takes, at the price of the lines it already takes): within the
MAX_DISCOUNT_PERCENTAGE cap and the min_price floors, not counting the other promotions and coupons. A
promotion that cannot apply (used up, its budget spent, the customer's limit reached) gives no step.
Steps that add nothing or save nothing are dropped; the three with the lowest `add_amount` are kept
(then the larger saving, then kind and promotion). Pure; asked only for a quote with `hints: true`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from msgspec.structs import replace

from quote_service.pricing.discounts import discount_cap
from quote_service.pricing.lines import Line
from quote_service.pricing.money import ZERO, percent_shown
from quote_service.pricing.plan import Priced
from quote_service.pricing.promotion_deals import eligible_goods, value_alone
from quote_service.pricing.promotions import (
    AmountOff,
    BuyXGetY,
    FixedPriceBundle,
    FreeDelivery,
    Gift,
    GiftStock,
    PercentOff,
    Promotion,
    PromotionBook,
    SpendTiers,
    waived_fee,
)
from quote_service.pricing.quote import CustomerContext, Hint, HintKind
from quote_service.pricing.rules import FreeDeliveryConfig, PricingRule
from quote_service.pricing.shipments import Shipments, meets_but_minimum

MAX_HINTS = 3
_CANDIDATE_ITEMS = 5
"""Items of the basket tried as the goods added to a bundle or a buy-X-get-Y, cheapest unit first."""


class HintBasket:
    """What the steps read of a priced quote."""

    __slots__ = (
        "cap_percent", "cent", "currency", "delivery_fee", "free_rule", "gifts", "goods", "lines", "parcels",
        "subtotal",
    )  # fmt: skip

    def __init__(
        self,
        lines: Sequence[Line],
        *,
        currency: str,
        cent: Decimal,
        subtotal: Decimal,
        goods: Decimal,
        delivery_fee: Decimal,
        cap_percent: Decimal,
        parcels: Shipments | None,
        gifts: Mapping[str, GiftStock] | None,
        free_rule: PricingRule | None = None,
    ) -> None:
        self.lines, self.currency, self.cent, self.subtotal = lines, currency, cent, subtotal
        self.delivery_fee, self.cap_percent, self.parcels, self.gifts = delivery_fee, cap_percent, parcels, gifts
        self.goods = goods
        """The goods after discounts (what a FREE_DELIVERY rule's minimum is measured on)."""
        self.free_rule = free_rule
        """The region's FREE_DELIVERY rule, if any."""

    def before_discounts(self) -> list[Line]:
        """The lines as they were before any promotion or coupon (what a tier is reached on; a line
        reduced by the promotion itself is not reduced for it)."""
        zero = ZERO.quantize(self.cent)
        return [Line(line.priced, zero, zero, line.own) for line in self.lines]

    def cap(self, added: Decimal) -> Decimal:
        """The discount cap of the basket with `added` goods more."""
        return discount_cap(self.subtotal + added, self.cap_percent, self.cent)


def next_steps(
    basket: HintBasket,
    book: PromotionBook,
    customer: CustomerContext,
    channel: str | None,
    now: datetime,
) -> list[Hint]:
    """At most MAX_HINTS steps to a better total, cheapest `add_amount` first (module docstring)."""
    found: list[Hint] = _free_above(basket) + _free_rule(basket)
    for promotion in book.in_force_for(basket.currency, customer.customer_group, customer.segment, channel, now):
        if _spent(promotion, customer):
            continue
        hint = _step(promotion, basket)
        if hint is not None:
            found.append(hint)
        if isinstance(promotion.config, FreeDelivery):
            found += _free_delivery(promotion, promotion.config, basket)
    kept = [hint for hint in found if hint.add_amount > 0 and hint.saves > 0]
    kept.sort(key=lambda h: (h.add_amount, -h.saves, h.kind, str(h.promotion_id or ""), h.seller_id or ""))
    return kept[:MAX_HINTS]


def _spent(promotion: Promotion, customer: CustomerContext) -> bool:
    """Whether the promotion can give this customer nothing more: used up, budget spent, limit reached."""
    if promotion.used_up or (promotion.budget_remaining is not None and promotion.budget_remaining <= 0):
        return True
    limit = promotion.per_customer_limit
    return limit is not None and customer.promotion_uses.get(promotion.id, 0) >= limit


def _step(promotion: Promotion, basket: HintBasket) -> Hint | None:
    config = promotion.config
    if isinstance(config, SpendTiers):
        return _next_tier(promotion, config, basket)
    if isinstance(config, PercentOff | AmountOff):
        return _minimum_reached(promotion, config, basket)
    if isinstance(config, FixedPriceBundle):
        return _more_units(promotion, config, basket, "bundle")
    if isinstance(config, BuyXGetY):
        return _more_units(promotion, config, basket, "buy_x_get_y")
    if isinstance(config, Gift):
        return _gift(promotion, config, basket)
    return None


def _free_above(basket: HintBasket) -> list[Hint]:
    """Each shipment whose selected option is free above its goods, still charging a fee."""
    if basket.parcels is None:
        return []
    hints = []
    for parcel in basket.parcels.parcels:
        selected = parcel.selected
        if selected is None or selected.free_above is None or parcel.fee <= 0:
            continue
        add = selected.free_above - parcel.goods
        who = parcel.seller_id or "the platform"
        hints.append(
            Hint(
                kind="free_delivery",
                promotion_id=None,
                seller_id=parcel.seller_id,
                add_amount=add,
                saves=parcel.fee,
                message=f"add {add} from seller {who} for free delivery",
            )
        )
    return hints


def _free_rule(basket: HintBasket) -> list[Hint]:
    """A FREE_DELIVERY rule whose min_subtotal the goods after discounts miss, while a fee is charged."""
    rule = basket.free_rule
    config = None if rule is None else rule.configuration
    if basket.parcels is not None or not isinstance(config, FreeDeliveryConfig) or basket.delivery_fee <= 0:
        return []
    add = config.min_subtotal - basket.goods
    if add <= 0:
        return []
    message = f"add {add} for free delivery"
    return [
        Hint(
            kind="free_delivery",
            promotion_id=None,
            seller_id=None,
            add_amount=add,
            saves=basket.delivery_fee,
            message=message,
        )
    ]


def _free_delivery(promotion: Promotion, config: FreeDelivery, basket: HintBasket) -> list[Hint]:
    """A FREE_DELIVERY promotion whose min_subtotal the basket (or a shipment, where there are shipments)
    misses, where a fee is still charged."""
    minimum = promotion.conditions.min_subtotal
    if minimum is None:
        return []
    whole = config.percent is None and config.amount is None and config.max is None
    places: list[tuple[str | None, Decimal, Decimal]] = []  # (seller, goods before discounts, fee charged)
    if basket.parcels is None:
        if _eligible_lines(promotion, basket.lines):
            places.append((None, basket.subtotal, basket.delivery_fee))
    else:
        places += [
            (parcel.seller_id, parcel.subtotal, parcel.fee)
            for parcel in basket.parcels.parcels
            if parcel.fee > 0 and meets_but_minimum(promotion, parcel)
        ]
    hints = []
    for seller_id, goods, fee in places:
        if goods >= minimum or fee <= 0:
            continue
        saves = fee if whole else waived_fee(config, fee, basket.cent)
        add = minimum - goods
        where = "" if basket.parcels is None else f" from seller {seller_id or 'the platform'}"
        what = "free delivery" if saves == fee else f"{saves} off delivery"
        hints.append(
            Hint(
                kind="free_delivery",
                promotion_id=promotion.id,
                seller_id=seller_id,
                add_amount=add,
                saves=saves,
                message=f"add {add}{where} for {what}",
            )
        )
    return hints


def _eligible_lines(promotion: Promotion, lines: Sequence[Line]) -> list[Line]:
    """The basket's lines the promotion may discount (its categories or products; never flash units)."""
    c = promotion.conditions
    return [
        line
        for line in lines
        if line.priced.flash_sale_id is None
        and (
            (not c.category_ids and not c.product_ids)
            or line.priced.product_id in c.product_ids
            or line.priced.category_id in c.category_ids
        )
    ]


def _added(template: Line, amount: Decimal, units: int, cent: Decimal) -> Line:
    """A line of `units` more of the template's product, `amount` in all (no floor: what is added is new)."""
    priced = template.priced
    unit = amount / units
    added = Priced(
        priced.plan,
        product_id=priced.product_id,
        source="request",
        category_id=priced.category_id,
        seller_id=priced.seller_id,
        list_unit=unit,
        unit=unit,
        min_price=ZERO,
        units=units,
    )
    zero = ZERO.quantize(cent)
    return Line(added, zero, zero)


def _next_tier(promotion: Promotion, config: SpendTiers, basket: HintBasket) -> Hint | None:
    eligible = _eligible_lines(promotion, basket.lines)
    if not eligible:
        return None
    goods = eligible_goods(promotion, basket.before_discounts())
    above = [i for i, tier in enumerate(config.tiers) if tier.min_subtotal > goods]
    if not above:
        return None
    position = above[0]
    tier = config.tiers[position]
    add = tier.min_subtotal - goods
    minimum = promotion.conditions.min_subtotal
    if minimum is not None:
        add = max(add, minimum - basket.subtotal)
    lines = [*basket.lines, _added(eligible[-1], add, 1, basket.cent)]
    cap = basket.cap(add)
    reached = replace(promotion, config=replace(config, tiers=config.tiers[:position]))
    nexted = replace(promotion, config=replace(config, tiers=config.tiers[: position + 1]))
    saves = value_alone(nexted, lines, cap, basket.cent) - (
        value_alone(reached, lines, cap, basket.cent) if position else ZERO
    )
    if tier.amount is not None:
        benefit = f"{tier.amount.quantize(basket.cent, ROUND_HALF_UP)} off"
    else:
        benefit = f"{percent_shown(tier.percent or ZERO)} % off"
    return _hint("spend_tier", promotion, add, saves, f"add {add} for {benefit}")


def _minimum_reached(promotion: Promotion, config: PercentOff | AmountOff, basket: HintBasket) -> Hint | None:
    minimum = promotion.conditions.min_subtotal
    eligible = _eligible_lines(promotion, basket.lines)
    if minimum is None or basket.subtotal >= minimum or not eligible:
        return None
    add = minimum - basket.subtotal
    lines = [*basket.lines, _added(eligible[-1], add, 1, basket.cent)]
    saves = value_alone(promotion, lines, basket.cap(add), basket.cent)
    benefit = f"{percent_shown(config.percent)} % off" if isinstance(config, PercentOff) else f"{saves} off"
    return _hint("spend_tier", promotion, add, saves, f"add {add} for {benefit}")


def _more_units(
    promotion: Promotion, config: FixedPriceBundle | BuyXGetY, basket: HintBasket, kind: HintKind
) -> Hint | None:
    """The fewest units of one qualifying item of the basket that make the promotion take more off."""
    minimum = promotion.conditions.min_subtotal
    if minimum is not None and basket.subtotal < minimum:
        return None
    targets = (config,) if isinstance(config, FixedPriceBundle) else (config.buy, config.get)
    qualifying = [
        line
        for line in _eligible_lines(promotion, basket.lines)
        if any(line.priced.product_id in t.product_ids or line.priced.category_id in t.category_ids for t in targets)
    ]
    if not qualifying:
        return None
    most = config.quantity if isinstance(config, FixedPriceBundle) else config.buy.quantity + config.get.quantity
    before = value_alone(promotion, basket.lines, basket.cap(ZERO), basket.cent)
    best: Hint | None = None
    seen: set[str] = set()
    for line in sorted(qualifying, key=lambda line: line.priced.subtotal / line.priced.units):
        if line.priced.product_id in seen or len(seen) >= _CANDIDATE_ITEMS:
            continue
        seen.add(line.priced.product_id)
        unit = (line.priced.subtotal / line.priced.units).quantize(basket.cent, ROUND_HALF_UP)
        for units in range(1, most + 1):
            add = unit * units
            if best is not None and add >= best.add_amount:
                break
            lines = [*basket.lines, _added(line, add, units, basket.cent)]
            saves = value_alone(promotion, lines, basket.cap(add), basket.cent) - before
            if saves > 0:
                more = f"{units} more" if units > 1 else "1 more"
                best = _hint(kind, promotion, add, saves, f"add {add} ({more}) for {promotion.name}: {saves} off")
                break
    return best


def _gift(promotion: Promotion, config: Gift, basket: HintBasket) -> Hint | None:
    minimum = config.min_subtotal
    stock = None if basket.gifts is None else basket.gifts.get(config.product_id)
    if minimum is None or basket.subtotal >= minimum or stock is None or not stock.is_active:
        return None
    if stock.stock < config.quantity or stock.unit_price is None or stock.currency != basket.currency:
        return None
    add = minimum - basket.subtotal
    saves = (stock.unit_price * config.quantity).quantize(basket.cent, ROUND_HALF_UP)
    return _hint("gift", promotion, add, saves, f"add {add} for a free gift ({promotion.name})")


def _hint(kind: HintKind, promotion: Promotion, add: Decimal, saves: Decimal, message: str) -> Hint:
    promotion_id: UUID = promotion.id
    return Hint(kind=kind, promotion_id=promotion_id, seller_id=None, add_amount=add, saves=saves, message=message)

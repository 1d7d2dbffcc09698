"""The quote engine (API.md §5): one pure function from a request and its inputs to a `Quote`.

Steps, in order: list price, flash-sale split, price rules and line subtotals (`lines`),
coupons (`discounts`), tax per line (`settle`: added to a net line, contained in a tax-inclusive
one, docs/markets.md), delivery and small-basket fees (`delivery`, in their currency), the total,
and commission on each line's net (`settle`, `commission_breakdown`; other bases, FLAT per line, shipment
or order and named fees in `commission_charges`, only where a rate asks). Money is Decimal throughout and
rounded half up to the currency's minor units once per line and once per fee; every total is
the exact sum of the rounded parts it names. No I/O, no clock: `now` and `quote_id` are arguments.

The configuration is read through the snapshot's pricing plan (`plan`): the rules and rates of a
region and kind of line are resolved once per snapshot and window, and a line's rounded amounts
once per set of inputs, so a warm quote mostly adds up and builds its response.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from msgspec import UNSET
from msgspec.structs import replace

from quote_service.errors import FieldError, ValidationFailed, invalid
from quote_service.pricing.attributes import quote_attributes
from quote_service.pricing.commission_breakdown import commission_breakdown
from quote_service.pricing.commission_charges import charge_commission
from quote_service.pricing.coupons import Coupon, CouponSet
from quote_service.pricing.delivery import Fee, delivery_fee, flag_number, small_basket_fee
from quote_service.pricing.discounts import CouponResult, apply_coupons, discount_cap
from quote_service.pricing.external import ExternalPricing, apply_taxes
from quote_service.pricing.flags import NO_ATTRIBUTES, EvaluationContext, FlagSet, evaluate_compiled
from quote_service.pricing.fx_convert import NO_RATES, Converter
from quote_service.pricing.hints import HintBasket, next_steps
from quote_service.pricing.lines import HeldPrice, Line, held_lines, price_lines
from quote_service.pricing.money import MAX_AMOUNT, ZERO, is_currency
from quote_service.pricing.offers import Choice
from quote_service.pricing.plan import RegionPlan, region_plan
from quote_service.pricing.price_lists import PriceList, label
from quote_service.pricing.promotion_deals import Outcome, apply_promotions
from quote_service.pricing.promotions import FreeDelivery, Gift, GiftStock, waived_fee
from quote_service.pricing.quote import (
    AppliedCoupon,
    AppliedPromotion,
    Calculation,
    CatalogProduct,
    CustomerContext,
    EngineDefaults,
    FlashOffer,
    PricingBreakdown,
    Quote,
    QuoteLine,
    QuoteRequest,
    RejectedCoupon,
    RejectedPromotion,
)
from quote_service.pricing.reduced_lines import mark_own_prices
from quote_service.pricing.seller_totals import seller_totals
from quote_service.pricing.settle import added_tax, settle
from quote_service.pricing.shipments import Shipments, refuse_choices, split_shipments
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.pricing.taxed import TaxTerms, settle_taxed
from quote_service.pricing.taxes import DEFAULT_ROUNDING, Rounding

DYNAMIC_PRICING: Final = "dynamic_pricing"
EXPRESS_MULTIPLIER: Final = "express_delivery_multiplier"
SMALL_BASKET_THRESHOLD: Final = "small_basket_threshold"
_MAX_MULTIPLIER: Final = Decimal(100)
_NO_EXEMPTION: Final = (None, "none")
ServedFlags = tuple[dict[str, Any], dict[str, str]]
"""(feature_flags: key -> value of each flag on, experiments: key -> variant assigned)."""


def price_quote(
    request: QuoteRequest,
    *,
    snapshot: ConfigSnapshot,
    products: Mapping[str, CatalogProduct],
    flash: Mapping[str, FlashOffer],
    customer: CustomerContext,
    defaults: EngineDefaults,
    now: datetime,
    quote_id: UUID,
    region: RegionPlan | None = None,
    flags: ServedFlags | None = None,
    gifts: Mapping[str, GiftStock] | None = None,
    held: Sequence[HeldPrice] | None = None,
    external: ExternalPricing | None = None,
    offers: Sequence[Choice | None] | None = None,
) -> Quote:
    """Price `request` under `snapshot` at `now` (API.md §5 steps 1-10).

    `products` and `flash` are keyed by the request's product_id. Raises ValidationFailed
    (or CurrencyNotPriced) with field paths for input the schema cannot refuse. Pass the same
    `defaults` object every time (the service builds it once): the snapshot's pricing plans are
    kept per defaults object, so a new one per call prices correctly but never warm. `region`
    and `flags` are what `region_for` and `served_flags` answered for the same arguments (the
    quote service times the flag step on its own); without them they are worked out here. `gifts`:
    the products of the book's GIFT promotions with their stock (docs/promotions.md#gifts). `held`: each
    item's price decided already (an order edit's basket, docs/orders-and-refunds.md#edits-and-exchanges):
    steps 1-4 then take these prices as they are. `external`: what tax and shipping extensions answered for
    this basket (docs/extensions.md), used as they are.
    steps 1-4 then take these prices as they are. `offers`: each item's offer (`offers.choose_offers`; None:
    no item has one), which prices its line and owns it (its seller).
    """
    if region is None:
        region = region_for(request, snapshot=snapshot, defaults=defaults, now=now)
    currency = region.currency
    zero = region.zero
    if flags is None:
        flags = served_flags(request, snapshot=snapshot, region=region, customer=customer, products=products, now=now)
    feature_flags, experiments = flags
    forced: list[str] = []
    if customer.test_group is not None:  # a service or admin caller's context.ab_test_group
        forced = _force(snapshot, customer.test_group, feature_flags, experiments, now)

    # 1-4: lines (price lists only when there are any in this currency: a quote without them costs what it did)
    book = snapshot.price_lists if region.currency in snapshot.price_lists.currencies else None
    fx = None  # docs/currencies.md: a line priced in another currency converts (FX_CONVERSION)
    if defaults.fx_conversion:
        fx = Converter(snapshot.fx or NO_RATES, currency, now, defaults.fx_endings)
    if held is None:
        lines = price_lines(
            request,
            region=region,
            products=products,
            flash=flash,
            dynamic=_dynamic_pricing(snapshot.flags, feature_flags),
            user_tier=customer.tier,
            now=now,
            price_lists=book,
            customer_group=None if book is None else label(customer.customer_group),
            channel=None if book is None else label(request.channel),
            offers=offers,
            fx=fx,
        )
    else:
        lines = held_lines(request, region=region, held=held)
    if snapshot.promotions.reducing or (request.coupon_codes and snapshot.coupons.reducing):
        mark_own_prices(lines, products, currency, region.cent, snapshot.offers)  # docs/promotions.md#reduced-lines
    subtotal = item_total = flash_total = flash_list_total = zero
    has_flash = inclusive = compound = False
    for line in lines:
        priced = line.priced
        if priced.inclusive:
            inclusive = True
        if priced.plan.tax_components is not None:
            compound = True
        subtotal += priced.subtotal
        item_total += priced.list_subtotal
        if priced.flash_sale_id is not None:
            has_flash = True
            flash_total += priced.subtotal
            flash_list_total += priced.list_subtotal

    multiplier = feature_flags.get(EXPRESS_MULTIPLIER)
    if multiplier is not None:
        multiplier = flag_number(multiplier, low=ZERO, high=_MAX_MULTIPLIER, low_inclusive=False)
    threshold = feature_flags.get(SMALL_BASKET_THRESHOLD)
    if threshold is not None:
        threshold = flag_number(threshold, low=ZERO, high=MAX_AMOUNT, low_inclusive=True)

    # 5a: automatic promotions (an empty book costs this one test)
    promoted: Outcome | None = None
    promotion_discount = zero
    promotions = snapshot.promotions.currencies
    if region.currency in promotions or None in promotions:
        checkout = Checkout(request, snapshot, region, customer, defaults, subtotal, multiplier, threshold, now)
        checkout.gifts = gifts
        promoted = _promotions(checkout, lines)
        if promoted is not None:
            promotion_discount = zero + promoted.discount  # on the currency grid even when nothing applied

    # 5: coupons
    coupons: list[CouponResult] = []
    discount = zero
    if request.coupon_codes:
        blocked = promoted is not None and promoted.blocks_coupons
        coupons = _coupons(
            request, snapshot, lines, region, customer, defaults, subtotal, now, promotion_discount, blocked
        )
        for line in lines:
            discount += line.discount
    else:
        discount = promotion_discount
    goods = subtotal - discount

    # 6 and 10 per line: tax, sales commission, the response lines
    rounding = defaults.rounding
    if book is not None and book.roundings:  # a price list that rounds taxes its own way (docs/taxes.md)
        rounding = _list_rounding(lines, book.roundings, rounding)
    terms = None  # docs/taxes.md: compound taxes, an exemption or a rounding of its own (written out: no call)
    if compound or rounding != DEFAULT_ROUNDING or request.tax_exemption not in _NO_EXEMPTION:
        terms = TaxTerms(rounding, request.tax_exemption)
    exempted = zero
    if terms is None:
        settled = settle(lines, region, inclusive)
    else:  # docs/taxes.md: compound taxes, an exemption or a rounding of its own
        settled, exempted = settle_taxed(lines, region, terms, inclusive)
    if external is not None and external.taxes:  # docs/extensions.md: the extension's amounts, as they are
        apply_taxes(settled, lines, external.taxes, zero)
    tax_amount = settled.tax

    # 7: delivery (a shipment per seller where shipping profiles apply), then a free-delivery promotion or coupon
    parcels: Shipments | None = None
    outside = None if external is None or not external.shipping else external.shipping
    if snapshot.shipping is not None or outside is not None:
        # Only where a profile could serve a shipment (the platform default's or a seller's of the basket,
        # in this currency): others' profiles cost the quote nothing (docs/hot-path.md#the-cost-budget).
        wanted = outside is not None or request.shipping is not None
        if not wanted and snapshot.shipping is not None:
            served, currency = snapshot.shipping.served, region.currency
            wanted = (None, currency) in served
            if not wanted:
                for line in lines:
                    if (line.priced.seller_id, currency) in served:
                        wanted = True
                        break
        if wanted:
            parcels = split_shipments(
                request, lines, region=region, book=snapshot.shipping, products=products, multiplier=multiplier,
                outside=outside, offers=offers,
            )  # fmt: skip
    elif request.shipping:
        refuse_choices(request.shipping, {})
    delivery = _delivery(request, region, goods, multiplier) if parcels is None else parcels.charge
    fee = delivery.amount
    applied_promotions: list[AppliedPromotion] = []
    rejected_promotions: list[RejectedPromotion] = []
    if promoted is not None:
        fee = _promotions_shown(promoted, fee, zero, applied_promotions, rejected_promotions, parcels)
    waived_by = "promotion" if fee != delivery.amount else "coupon"
    if coupons:
        left = fee
        fee = _free_delivery_coupon(coupons, fee, zero)
        if parcels is not None and fee != left:
            parcels.waive_all()

    # 8: small basket
    small = small_basket_fee(region, goods=goods, flag_threshold=threshold)

    # 9: total. An exempt tax-inclusive line's subtotal leaves out the tax its price held (docs/taxes.md#exemptions):
    # the quote's subtotal too, so total = subtotal - discount + tax + fees still holds.
    shown_subtotal = subtotal
    if exempted:
        shown_subtotal = subtotal - exempted
    total = shown_subtotal - discount + tax_amount + fee + small.amount

    # 10: commission (as marketplaces charge it, docs/commission.md, only where a line's rates ask: written out,
    # no call, for a quote whose lines do not, in a configuration that has such rates)
    charges = None
    if snapshot.commissions.extended:
        for line in lines:
            if line.priced.plan.extended:
                charges = charge_commission(lines, settled, region, parcels=parcels, delivery_fee=fee)
                charges.settle_into(settled)
                break
    commission = commission_breakdown(
        lines,
        settled,
        region,
        quote_seller_id=request.seller_id,
        logistics_provider=request.logistics_provider if parcels is None else None,
        delivery_fee=fee,
    )
    if parcels is not None:  # logistics commission per shipment, on its fee
        commission = parcels.with_logistics(commission, region, request.logistics_provider)
    if charges is not None:
        commission = charges.with_fees(commission)

    # Every amount below the ceiling (docs/quotes-and-orders.md#the-money-ceiling): each line passed
    # it in `price_lines`, the parts are never negative, so these sums bound every other amount.
    earned = commission.total_commission
    if item_total >= MAX_AMOUNT or subtotal >= MAX_AMOUNT or total >= MAX_AMOUNT or earned >= MAX_AMOUNT:
        raise _beyond_ceiling(
            {"subtotal": subtotal, "item_total": item_total, "total_amount": total, "total_commission": earned}
        )

    price_rules = settled.price_rules
    applied_coupons = []
    rejected_coupons = []
    for result in coupons:
        if result.reason is not None:
            rejected_coupons.append(RejectedCoupon(code=result.code, reason=result.reason))
        elif result.coupon is not None and result.amount is not None:
            applied_coupons.append(_applied_coupon(result.code, result.coupon, result.amount))
    steps = [
        ("items", "list prices", item_total),
        ("flash_sale", "flash-sale prices", flash_total - flash_list_total),
        ("price_rules", f"{len(price_rules)} price rules", subtotal - item_total - flash_total + flash_list_total),
        (
            "discount",
            (applied_coupons and ", ".join(c.code for c in applied_coupons if c.type != "FREE_DELIVERY")) or "none",
            promotion_discount - discount,
        ),
        ("tax", _tax_described(settled.tax_included) if inclusive else "per line, after discounts", tax_amount),
        ("tax_exempted", "tax held in tax-inclusive prices, not charged (exempt)", zero - exempted),
        ("delivery", delivery.description if fee == delivery.amount else f"waived by {waived_by}", fee),
        ("small_basket", small.description, small.amount),
    ]
    if promoted is not None and (applied_promotions or rejected_promotions):
        steps.insert(3, ("promotions", _promotions_described(applied_promotions), zero - promotion_discount))
    if not exempted:
        del steps[6 if promoted is not None and (applied_promotions or rejected_promotions) else 5]
    if not has_flash:
        del steps[1]
    quote = Quote(
        quote_id=quote_id,
        customer_id=customer.customer_id,
        subtotal=shown_subtotal,
        discount_amount=discount,
        tax_amount=tax_amount,
        delivery_fee=fee,
        small_basket_fee=small.amount,
        total_amount=total,
        currency=currency,
        items=settled.items if promoted is None or not promoted.gifts else _with_gifts(settled.items, promoted, zero),
        commission_breakdown=commission,
        pricing_breakdown=PricingBreakdown(
            item_total=item_total,
            subtotal=shown_subtotal,
            tax_amount=tax_amount,
            delivery_fee=fee,
            small_basket_fee=small.amount,
            total_amount=total,
            currency=currency,
            calculations=_calculations(steps, zero),
        ),
        applied_rules=[*price_rules, *settled.tax_rules, *delivery.rules, *small.rules],
        applied_coupons=applied_coupons,
        rejected_coupons=rejected_coupons,
        feature_flags=feature_flags,
        experiments=experiments,
        created_at=now,
        valid_until=now + region.validity,
        fx=UNSET if fx is None or (locked := fx.locked(now + region.validity)) is None else locked,
        config_version=snapshot.version,
        forced_experiments=forced,
        applied_promotions=applied_promotions,
        rejected_promotions=rejected_promotions,
        tax_included=settled.tax_included if inclusive else UNSET,
        shipments=UNSET if parcels is None else parcels.shown(),
        sellers=UNSET
        if parcels is None
        else seller_totals(
            parcels, lines, settled, commission_tax_rate=defaults.commission_tax_rate, cent=region.cent, charges=charges
        ),
        hints=UNSET
        if not request.hints
        else next_steps(  # docs/promotions.md#hints: after every total, changing none
            HintBasket(
                lines,
                currency=currency,
                cent=region.cent,
                subtotal=subtotal,
                goods=goods,
                delivery_fee=fee,
                cap_percent=defaults.max_discount_percentage,
                parcels=parcels,
                gifts=gifts,
                free_rule=region.free_rule,
            ),
            snapshot.promotions,
            customer,
            request.channel,
            now,
        ),
    )
    if terms is None:
        return quote
    return replace(
        quote,
        rounding=terms.rounding,
        tax_exemption=UNSET if terms.exemption is None else terms.exemption,
        customer_tax_id=UNSET
        if terms.exemption is None or request.customer_tax_id is None
        else request.customer_tax_id,
        tax_exempted=exempted if inclusive and terms.exemption is not None else UNSET,
    )


def _list_rounding(lines: Sequence[Line], roundings: Mapping[int, PriceList], rounding: Rounding) -> Rounding:
    """The rounding of the first line priced from a price list that sets one (what it leaves unset: `rounding`'s)."""
    for line in lines:
        list_id = line.priced.price_list_id
        found = None if list_id is None else roundings.get(list_id.int)
        if found is not None:
            return Rounding(
                mode=found.rounding_mode or rounding.mode,  # type: ignore[arg-type]
                tax_calculation=found.tax_calculation or rounding.tax_calculation,  # type: ignore[arg-type]
            )
    return rounding


def _with_gifts(items: list[QuoteLine], promoted: Outcome, zero: Decimal) -> list[QuoteLine]:
    """The response lines and a line per gift given (docs/promotions.md#gifts): 0.00, no tax (its
    split 0.00 too where the quote's lines show one), no commission (it is no engine line)."""
    split = items[0].prices_include_tax is not UNSET
    gifts = [
        QuoteLine(
            product_id=stock.id,
            quantity=promotion.config.quantity if isinstance(promotion.config, Gift) else 1,
            list_unit_price=zero,
            unit_price=zero,
            line_subtotal=zero,
            discount=zero,
            tax=zero,
            price_source="gift",
            category_id=stock.category_id,
            seller_id=stock.seller_id,
            prices_include_tax=False if split else UNSET,
            net=zero if split else UNSET,
            gross=zero if split else UNSET,
            is_gift=True,
            promotion_id=promotion.id,
        )
        for promotion, stock in promoted.gifts
    ]
    return [*items, *gifts]


def _tax_described(included: Decimal) -> str:
    """The tax step of a quote with tax-inclusive lines: the tax they contain is in the prices, not added."""
    return f"per line, after discounts; {included} included in tax-inclusive prices"


def region_for(
    request: QuoteRequest, *, snapshot: ConfigSnapshot, defaults: EngineDefaults, now: datetime
) -> RegionPlan:
    """The pricing plan of the request's delivery place and currency (422 for an unknown currency)."""
    currency = request.currency.upper()
    if not is_currency(currency):
        raise invalid("currency", "not an ISO 4217 currency code")
    address = request.delivery_address
    return region_plan(
        snapshot.resolver.at(now),
        city=address.city,
        country=address.country,
        currency=currency,
        defaults=defaults,
        now=now,
    )


def served_flags(
    request: QuoteRequest,
    *,
    snapshot: ConfigSnapshot,
    region: RegionPlan,
    customer: CustomerContext,
    products: Mapping[str, CatalogProduct],
    now: datetime,
) -> ServedFlags:
    """The flags served to this customer here and now (fresh dicts), kept per customer in the region plan.

    A flag's answer reads the customer id and segment, the place (the region plan's), `now` only
    through the flags' start and end instants, and the attributes its rules name: those make the
    key (no attributes at all while no flag has rules).
    """
    edges = snapshot.flag_edges
    key: tuple[Any, ...] = (customer.customer_id, customer.segment, bisect_right(edges, now) if edges else 0)
    attributes: Mapping[str, Any] = NO_ATTRIBUTES
    if snapshot.flag_attributes:
        attributes = quote_attributes(
            request, customer, products, currency=region.currency, cent=region.cent, wanted=snapshot.flag_attributes
        )
        key += tuple(attributes.get(name) for name in snapshot.flag_attributes)
    found = region.flags.get(key)
    if found is None:
        context = None
        if snapshot.flags_read_context:
            context = EvaluationContext(  # an empty customer id is nobody (a price look-up's anonymous caller)
                user_id=customer.customer_id or None,
                user_segment=customer.segment,
                city=region.city,
                country=region.country,
                attributes=attributes,
            )
        found = region.remember_flags(key, evaluate_compiled(snapshot.compiled_flags, context, now))
    return dict(found[0]), dict(found[1])


def _force(
    snapshot: ConfigSnapshot, group: str, feature_flags: dict[str, Any], experiments: dict[str, str], now: datetime
) -> list[str]:
    """Serve `group` in every running experiment that has a variant of that name (in place); the
    keys of those experiments. The flags stay in key order, as a quote reports them."""
    forced: list[str] = []
    for flag in snapshot.compiled_flags:
        answer = flag.forced(group, now)
        if answer is not None and answer.variant is not None:
            feature_flags[answer.key] = answer.value
            experiments[answer.key] = answer.variant
            forced.append(answer.key)
    if forced:  # a flag the customer was not served before lands last: put every one back in order
        for served in (feature_flags, experiments):
            ordered = sorted(served.items())
            served.clear()
            served.update(ordered)
    return forced


def _beyond_ceiling(amounts: dict[str, Decimal]) -> ValidationFailed:
    """The refusal of a basket whose sums reach the ceiling of every amount, naming the first that does."""
    name, amount = next((name, amount) for name, amount in amounts.items() if amount >= MAX_AMOUNT)
    message = (
        f"the quote's {name} would be {amount}, not below {MAX_AMOUNT:f}, the ceiling of every amount: "
        "quote fewer items or units"
    )
    return ValidationFailed(message, details=[FieldError("items", message)])


def _dynamic_pricing(flags: FlagSet, on: Mapping[str, Any]) -> bool:
    """Price rules apply unless the `dynamic_pricing` flag exists and serves a falsy value."""
    if DYNAMIC_PRICING in on:
        return bool(on[DYNAMIC_PRICING])
    flag = flags.get(DYNAMIC_PRICING)
    return flag is None or bool(flag.default_value)


def _coupons(
    request: QuoteRequest,
    snapshot: ConfigSnapshot,
    lines: Sequence[Line],
    region: RegionPlan,
    customer: CustomerContext,
    defaults: EngineDefaults,
    subtotal: Decimal,
    now: datetime,
    taken: Decimal,
    blocked: bool,
) -> list[CouponResult]:
    """Step 5 on `lines` (their discounts grow), after promotions that took `taken` of the cap;
    `blocked`: a promotion applied refuses coupons."""
    coupons = snapshot.coupons
    if customer.generated_coupons:  # codes of a batch: looked up for this quote (docs/promotions.md#code-batches)
        coupons = CouponSet({**coupons.by_code, **customer.generated_coupons}, coupons.reducing)
    return apply_coupons(
        request.coupon_codes,
        lines,
        coupons,
        subtotal=subtotal,
        currency=region.currency,
        cent=region.cent,
        customer_uses=customer.coupon_uses,
        max_discount_percentage=defaults.max_discount_percentage,
        now=now,
        taken=taken,
        blocked=blocked,
    )


def _delivery(request: QuoteRequest, region: RegionPlan, goods: Decimal, multiplier: Decimal | None) -> Fee:
    """Step 7's delivery charge for goods worth `goods` after discounts."""
    return delivery_fee(
        region,
        express=request.is_express_delivery,
        pickup=request.pickup_address,
        delivery=request.delivery_address,
        goods=goods,
        flag_multiplier=multiplier,
    )


class Checkout:
    """A quote's inputs to steps 5-9, and what the customer pays in the end for a deal of promotions
    (`pays`: the same steps as `price_quote`, as sums, on copies of the lines). The promotion step
    asks it only when a promotion that does not combine competes (docs/promotions.md#combination)."""

    __slots__ = (
        "customer",
        "defaults",
        "gifts",
        "multiplier",
        "now",
        "region",
        "request",
        "snapshot",
        "subtotal",
        "threshold",
    )

    def __init__(
        self,
        request: QuoteRequest,
        snapshot: ConfigSnapshot,
        region: RegionPlan,
        customer: CustomerContext,
        defaults: EngineDefaults,
        subtotal: Decimal,
        multiplier: Decimal | None,
        threshold: Decimal | None,
        now: datetime,
    ) -> None:
        self.request, self.snapshot, self.region, self.customer = request, snapshot, region, customer
        self.defaults, self.subtotal, self.now = defaults, subtotal, now
        self.multiplier, self.threshold = multiplier, threshold
        self.gifts: Mapping[str, GiftStock] | None = None
        """The GIFT promotions' products (docs/promotions.md#gifts); None: the book gives none."""

    def pays(
        self, lines: Sequence[Line], *, blocks_coupons: bool, free_delivery: FreeDelivery | None
    ) -> tuple[Decimal, bool]:
        """`total_amount` with these lines' promotion discounts, and whether the coupons saved something."""
        region = self.region
        zero = region.zero
        taken = discount = zero
        for line in lines:
            taken += line.discount
        coupons: list[CouponResult] = []
        request = self.request
        copies = lines
        if request.coupon_codes:  # they add to the lines' discounts: on copies
            copies = [Line(line.priced, line.discount, line.funded, line.own) for line in lines]
            coupons = _coupons(
                request,
                self.snapshot,
                copies,
                region,
                self.customer,
                self.defaults,
                self.subtotal,
                self.now,
                taken,
                blocks_coupons,
            )
        tax = zero
        for line in copies:
            discount += line.discount
            tax += added_tax(line.priced, line.discount, region.cent, zero)
        goods = self.subtotal - discount
        if free_delivery is None:
            charged = _delivery(request, region, goods, self.multiplier).amount
        elif free_delivery.percent is None and free_delivery.amount is None and free_delivery.max is None:
            charged = zero
        else:  # docs/promotions.md#partial-free-delivery
            charged = _delivery(request, region, goods, self.multiplier).amount
            charged -= waived_fee(free_delivery, charged, region.cent)
        fee = _free_delivery_coupon(coupons, charged, zero) if coupons else charged
        small = small_basket_fee(region, goods=goods, flag_threshold=self.threshold).amount
        return goods + tax + fee + small, discount > taken or fee != charged


def _promotions(checkout: Checkout, lines: list[Line]) -> Outcome | None:
    """Step 5a: the promotions this basket meets, combined (`promotion_deals`), discounts on the
    lines; None when it meets none (the quote then reads as if no promotion were configured)."""
    request, region, customer, subtotal = checkout.request, checkout.region, checkout.customer, checkout.subtotal
    book = checkout.snapshot.promotions
    meeting = book.meeting_for(
        currency=region.currency,
        subtotal=subtotal,
        category_ids=[line.priced.category_id for line in lines],
        product_ids=[line.priced.product_id for line in lines],
        customer_group=customer.customer_group,
        customer_segment=customer.segment,
        channel=request.channel,
        now=checkout.now,
    )
    if not meeting:
        return None
    return apply_promotions(
        book,
        lines,
        meeting=meeting,
        cap=discount_cap(subtotal, checkout.defaults.max_discount_percentage, region.cent),
        cent=region.cent,
        delivery_value=lambda: _delivery(request, region, subtotal, checkout.multiplier).amount,
        checkout=checkout,
        subtotal=subtotal,
        gifts=checkout.gifts,
        customer_uses=customer.promotion_uses,
    )


def _applied_coupon(code: str, coupon: Coupon, amount: Decimal) -> AppliedCoupon:
    """A coupon as the response shows it applied; `funded_by` only when the platform pays it."""
    if coupon.funded_by == "platform":
        return AppliedCoupon(code=code, type=coupon.type, amount=amount, funded_by="platform")
    return AppliedCoupon(code=code, type=coupon.type, amount=amount)


def _promotions_shown(
    promoted: Outcome,
    fee: Decimal,
    zero: Decimal,
    applied: list[AppliedPromotion],
    rejected: list[RejectedPromotion],
    parcels: Shipments | None = None,
) -> Decimal:
    """Fill in the response's promotions (a FREE_DELIVERY one waives `fee`, or the fees of the shipments
    it applies to: its amount); the fee left."""
    for promotion, amount in promoted.applied:
        if promotion is promoted.free_delivery:
            terms = promoted.delivery_terms
            assert terms is not None
            if parcels is not None:
                amount, fee = parcels.waive(promotion, terms)
            elif terms.percent is None and terms.amount is None and terms.max is None:
                amount, fee = fee, zero
            else:  # docs/promotions.md#partial-free-delivery: the quote's one shipment
                amount = waived_fee(terms, fee, zero)
                fee -= amount
        if promotion.funded_by == "platform":  # `funded_by` absent for the seller's: such quotes read as before
            shown = AppliedPromotion(
                promotion_id=promotion.id, name=promotion.name, kind=promotion.kind, amount=amount, funded_by="platform"
            )
        else:
            shown = AppliedPromotion(promotion_id=promotion.id, name=promotion.name, kind=promotion.kind, amount=amount)
        applied.append(shown)
    rejected.extend(
        RejectedPromotion(promotion_id=p.id, reason=reason, name=p.name, detail=detail)
        for p, reason, detail in promoted.rejected
    )
    return fee


def _promotions_described(applied: list[AppliedPromotion]) -> str:
    names = [p.name for p in applied if p.kind != "FREE_DELIVERY"]
    return ", ".join(names) or "none"


def _free_delivery_coupon(coupons: list[CouponResult], fee: Decimal, zero: Decimal) -> Decimal:
    """The first valid FREE_DELIVERY coupon waives a fee that is still due; any other is NOT_APPLICABLE."""
    for result in coupons:
        if result.reason is None and result.amount is None:
            if fee > 0:
                result.amount, fee = fee, zero
            else:
                result.reason = "NOT_APPLICABLE"
    return fee


def _calculations(steps: list[tuple[str, str, Decimal]], zero: Decimal) -> list[Calculation]:
    """The steps of the total, each with the running total after it; the last equals total_amount."""
    calculations = []
    running = zero
    for step, description, amount in steps:
        running += amount
        calculations.append(Calculation(step=step, description=description, amount=amount, running_total=running))
    return calculations

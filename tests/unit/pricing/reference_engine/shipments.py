"""THE REFERENCE SHIPMENTS: step 7 of a marketplace quote as docs/shipping.md states it.

Written from the docs, sharing only types with `quote_service.pricing` (never `shipping`, `shipments`
or `seller_totals`): the profiles are read as the plain list a snapshot is built from.

- Lines are grouped by their seller, sellers in first-appearance order; each group is a shipment.
- A shipment's profile: among the active profiles of its seller in the quote's currency that match the
  address (every country or the address's; every city or the address's, case-insensitive, spaces
  ignored), the one naming cities, else countries, else everywhere; a tie goes to the newest. None of
  the seller's: the same among the platform's (seller null). No profile for any shipment: no shipments.
- An option's fee: base + per_kg x weight + per_km x km, capped at max_fee, rounded half up; 0 and
  `free` once the shipment's goods after discounts reach free_above. Weight: the units times the
  catalog product's weight, else the item's.
- Selected: the request's choice; else among the options of the requested speed (all when none is) the
  lowest fee, then the shorter eta_days_max, then the code. Without a profile: the delivery rules on the
  shipment's goods, no options.
- Waivers: a FREE_DELIVERY promotion, the shipments whose lines meet its product/category condition and
  whose goods before discounts reach its min_subtotal; a free-delivery coupon, every shipment.
- Logistics commission per shipment on its fee, its seller and its lines' categories.
- Per-seller totals: goods, discount, tax (added), tax_included, the shipment's fee, commission (lines'
  and the shipment's logistics), commission tax per line, payout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from msgspec import UNSET

from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing.commission import CommissionRate
from quote_service.pricing.promotions import FreeDelivery, Promotion
from quote_service.pricing.quote import (
    AppliedRule,
    CatalogProduct,
    CommissionBreakdown,
    CommissionDetail,
    CommissionFee,
    QuoteLine,
    QuoteRequest,
    SellerTotals,
    Shipment,
    ShipmentOption,
)
from quote_service.pricing.shipping import ShippingOption, ShippingProfile
from tests.unit.pricing.reference_engine.commission import Place, amount_of, logistics_rate
from tests.unit.pricing.reference_engine.delivery import Fee
from tests.unit.pricing.reference_engine.lines import Line
from tests.unit.pricing.reference_engine.money import ZERO
from tests.unit.pricing.reference_engine.reduced import delivery_part


def _profile(
    profiles: Sequence[ShippingProfile], seller_id: str | None, *, city: str, country: str, currency: str
) -> ShippingProfile | None:
    def fit(profile: ShippingProfile) -> int:
        if profile.countries is not None and country.strip().upper() not in profile.countries:
            return 0
        if profile.regions is not None:
            return 3 if city.strip().casefold() in profile.regions else 0
        return 1 if profile.countries is None else 2

    for owner in ([seller_id] if seller_id is not None else []) + [None]:
        fitting = [
            p for p in profiles if p.is_active and p.seller_id == owner and p.currency == currency and fit(p) > 0
        ]
        if fitting:
            return max(fitting, key=lambda p: (fit(p), p.created_at, p.id.int))
    return None


@dataclass
class Group:
    seller_id: str | None
    lines: list[Line] = field(default_factory=list)
    profile: ShippingProfile | None = None
    weight: Decimal = ZERO
    priced: list[tuple[ShippingOption, Decimal, bool]] = field(default_factory=list)
    selected: ShippingOption | None = None
    rules_fee: Fee | None = None
    charged: Decimal = ZERO
    fee: Decimal = ZERO
    logistics: Decimal = ZERO

    def goods(self) -> Decimal:
        return sum((line.subtotal - line.discount for line in self.lines), ZERO)


@dataclass
class Shipped:
    groups: list[Group]
    zero: Decimal

    @property
    def charge(self) -> Fee:
        total = sum((g.charged for g in self.groups), self.zero)
        summed: dict[object, AppliedRule] = {}
        for g in self.groups:
            for rule in g.rules_fee.rules if g.rules_fee is not None else []:
                key = rule.rule_id or (rule.type, rule.name)
                if key in summed:
                    rule = AppliedRule(
                        rule_id=rule.rule_id,
                        name=rule.name,
                        type=rule.type,
                        version=rule.version,
                        amount=summed[key].amount + rule.amount,
                    )
                summed[key] = rule
        words = [
            f"{g.seller_id or 'no seller'}: "
            + (g.selected.name if g.selected is not None else g.rules_fee.description if g.rules_fee else "")
            for g in self.groups
        ]
        plural = "s" if len(self.groups) > 1 else ""
        return Fee(total, list(summed.values()), f"{len(self.groups)} shipment{plural} ({'; '.join(words)})")

    def waive(self, promotion: Promotion) -> tuple[Decimal, Decimal]:
        c = promotion.conditions
        waived = self.zero
        for g in self.groups:
            named = not c.category_ids and not c.product_ids
            for line in g.lines:
                named = named or line.product_id in c.product_ids or line.category_id in c.category_ids
            reached = c.min_subtotal is None or sum((line.subtotal for line in g.lines), ZERO) >= c.min_subtotal
            if g.fee > 0 and named and reached:
                assert isinstance(promotion.config, FreeDelivery)
                part = delivery_part(promotion.config, g.fee, Decimal(1).scaleb(self.zero.as_tuple().exponent))  # type: ignore[arg-type]
                waived += part
                g.fee -= part
        return waived, sum((g.fee for g in self.groups), self.zero)

    def waive_all(self) -> None:
        for g in self.groups:
            g.fee = self.zero


def ship(
    request: QuoteRequest,
    lines: Sequence[Line],
    profiles: Sequence[ShippingProfile],
    *,
    products: Mapping[str, CatalogProduct],
    km: Decimal | None,
    currency: str,
    cent: Decimal,
    rules_fee: Callable[[Decimal], Fee],
) -> Shipped | None:
    """The quote's shipments, priced and selected; None when no shipment has a profile."""
    zero = ZERO.quantize(cent)
    groups: dict[str | None, Group] = {}
    for line in lines:
        groups.setdefault(line.seller_id, Group(line.seller_id, fee=zero)).lines.append(line)
    address = request.delivery_address
    for g in groups.values():
        g.profile = _profile(profiles, g.seller_id, city=address.city, country=address.country, currency=currency)
    choices = request.shipping or {}
    if all(g.profile is None for g in groups.values()):
        refuse(choices, groups)
        return None
    problems = []
    for index, item in enumerate(request.items):
        product = products.get(item.product_id)
        catalog = product is not None and product.is_active
        seller = product.seller_id if product is not None and catalog else item.seller_id or request.seller_id
        weight = product.weight if product is not None and catalog and product.weight is not None else item.weight
        if weight is None:
            continue
        if weight.is_nan() or weight.is_infinite() or weight < 0 or weight >= Decimal("1e9"):
            problems.append(FieldError(f"items[{index}].weight", "must be a weight in kg, >= 0 and below 1000000000"))
        elif seller in groups:
            groups[seller].weight += weight * item.quantity
    if problems:
        raise ValidationFailed("some items cannot be weighed", details=problems)
    refuse(choices, groups)
    for g in groups.values():
        goods = g.goods()
        if g.profile is None:
            g.rules_fee = rules_fee(goods)
            g.charged = g.rules_fee.amount
            continue
        for option in g.profile.options:
            if option.free_above is not None and goods >= option.free_above:
                g.priced.append((option, zero, True))
                continue
            exact = option.base_fee + (option.per_kg or ZERO) * g.weight + (option.per_km or ZERO) * (km or ZERO)
            if option.max_fee is not None and exact > option.max_fee:
                exact = option.max_fee
            g.priced.append((option, exact.quantize(cent, ROUND_HALF_UP), False))
        chosen = choices.get(g.seller_id) if g.seller_id is not None else None
        if chosen is not None:
            entry = next(e for e in g.priced if e[0].code == chosen)
        else:
            speed = [e for e in g.priced if e[0].express == request.is_express_delivery] or g.priced
            entry = sorted(speed, key=lambda e: (e[1], e[0].eta_days_max, e[0].code))[0]
        g.selected, g.charged = entry[0], entry[1]
    for g in groups.values():
        g.fee = g.charged
    return Shipped(list(groups.values()), zero)


def refuse(choices: Mapping[str, str], groups: Mapping[str | None, Group]) -> None:
    """docs/shipping.md: a choice no shipment offers is 422 naming `shipping.<seller_id>` (the messages as
    the docs give them)."""
    bad = []
    for seller, code in choices.items():
        g = groups.get(seller)
        codes = [o.code for o in g.profile.options] if g is not None and g.profile is not None else []
        if g is None:
            why = f"no shipment of seller {seller} in this basket" if groups else "no shipping profile applies"
            bad.append(FieldError(f"shipping.{seller}", why))
        elif code not in codes:
            offered = ", ".join(codes) if codes else "none: no shipping profile applies"
            bad.append(FieldError(f"shipping.{seller}", f"unknown delivery option {code!r} (offered: {offered})"))
    if bad:
        raise ValidationFailed("unknown delivery option", details=bad)


def with_logistics(
    shipped: Shipped,
    commission: CommissionBreakdown,
    rates: Sequence[CommissionRate],
    place: Place,
    provider: str | None,
    cent: Decimal,
) -> CommissionBreakdown:
    """The breakdown (priced without a logistics provider) with each shipment's logistics commission."""
    if provider is None:
        return commission
    details: list[CommissionDetail] = list(commission.details)
    total = shipped.zero
    for g in shipped.groups:
        categories = {line.category_id for line in g.lines if line.category_id is not None}
        rate = logistics_rate(rates, place, provider=provider, seller_id=g.seller_id, category_ids=categories)
        if rate is None:
            continue
        g.logistics = amount_of(rate, base=g.fee, units=1, cent=cent)
        total += g.logistics
        details.append(
            CommissionDetail(
                product_id=None,
                rate_id=rate.id,
                dimension="logistics",
                commission_type=rate.commission_type,
                base=g.fee,
                rate=rate.rate,
                amount=g.logistics,
            )
        )
    fees = sum((fee.amount for fee in commission.fees or ()), shipped.zero)  # docs/commission.md
    return CommissionBreakdown(
        total_commission=commission.seller_commission + commission.category_commission + total + fees,
        seller_commission=commission.seller_commission,
        category_commission=commission.category_commission,
        logistics_commission=total,
        currency=commission.currency,
        details=details,
        fees=commission.fees,
    )


def shipments_shown(shipped: Shipped) -> list[Shipment]:
    shown = []
    for g in shipped.groups:
        remaining = None
        if g.selected is not None and g.selected.free_above is not None:
            remaining = g.selected.free_above - g.goods()
            remaining = remaining if remaining > 0 else shipped.zero
        ids: list[str] = []
        for line in g.lines:
            if line.product_id not in ids:
                ids.append(line.product_id)
        shown.append(
            Shipment(
                seller_id=g.seller_id,
                product_ids=ids,
                goods=g.goods() + shipped.zero,
                options=[
                    ShipmentOption(
                        code=o.code,
                        name=o.name,
                        fee=fee,
                        eta_days_min=o.eta_days_min,
                        eta_days_max=o.eta_days_max,
                        free=free,
                    )
                    for o, fee, free in g.priced
                ],
                selected=None if g.selected is None else g.selected.code,
                delivery_fee=g.fee,
                free_delivery_remaining=remaining,
                logistics_commission=g.logistics + shipped.zero,
            )
        )
    return shown


def sellers_shown(
    shipped: Shipped, items: Sequence[QuoteLine], commission: CommissionBreakdown, tax_rate: Decimal, cent: Decimal
) -> list[SellerTotals]:
    """Per seller; each line's commission read from its details (category, then seller), in line order; in a
    quote priced under docs/commission.md from the details naming each line, with the fees charged once per
    shipment or order to their seller (each taxed once) and each seller's named fees."""
    if any(isinstance(d.line, int) or isinstance(d.per, str) for d in commission.details):
        return _sellers_with_fees(shipped, items, commission, tax_rate, cent)
    zero = shipped.zero
    line_details = [d for d in commission.details if d.dimension != "logistics"]
    totals = []
    funded = any(isinstance(item.platform_funded, Decimal) for item in items)
    exempt = any(isinstance(item.tax_exempted, Decimal) for item in items)
    for g in shipped.groups:
        goods = discount = tax = included = platform = earned = taxed = exempted = zero
        position = 0
        for item in items:
            take = [line_details[position]]
            position += 1
            if (
                position < len(line_details)
                and line_details[position].dimension == "seller"
                and line_details[position].product_id == item.product_id
            ):
                take.append(line_details[position])
                position += 1
            if item.seller_id != g.seller_id:
                continue
            goods += item.line_subtotal
            discount += item.discount
            if item.prices_include_tax is True:
                included += item.tax
            else:
                tax += item.tax
            if isinstance(item.platform_funded, Decimal):
                platform += item.platform_funded
            if isinstance(item.tax_exempted, Decimal):  # docs/taxes.md: already out of the line's subtotal
                exempted += item.tax_exempted
            line_commission = sum((d.amount for d in take), zero)
            earned += line_commission
            if tax_rate:
                taxed += (line_commission * tax_rate / 100).quantize(cent, ROUND_HALF_UP)
        earned += g.logistics
        totals.append(
            SellerTotals(
                seller_id=g.seller_id,
                goods=goods,
                discount=discount,
                tax=tax,
                tax_included=included,
                delivery_fee=g.fee,
                commission=earned,
                commission_tax=taxed,
                payout=goods - discount + tax + platform - earned - taxed + g.fee,
                platform_contribution=platform if funded else UNSET,
                tax_exempted=exempted if exempt else UNSET,
            )
        )
    return totals


def _sellers_with_fees(
    shipped: Shipped, items: Sequence[QuoteLine], commission: CommissionBreakdown, tax_rate: Decimal, cent: Decimal
) -> list[SellerTotals]:
    zero = shipped.zero
    names = [fee.name for fee in commission.fees or ()]
    funded = any(isinstance(item.platform_funded, Decimal) for item in items)
    exempt = any(isinstance(item.tax_exempted, Decimal) for item in items)
    totals = []
    for g in shipped.groups:
        goods = discount = tax = included = platform = earned = taxed = exempted = zero
        fees = dict.fromkeys(names, zero)
        for index, item in enumerate(items):
            if item.seller_id != g.seller_id:
                continue
            goods += item.line_subtotal
            discount += item.discount
            if item.prices_include_tax is True:
                included += item.tax
            else:
                tax += item.tax
            if isinstance(item.platform_funded, Decimal):
                platform += item.platform_funded
            if isinstance(item.tax_exempted, Decimal):
                exempted += item.tax_exempted
            on_line = [d for d in commission.details if d.line == index]
            line_commission = sum((d.amount for d in on_line), zero)
            for d in on_line:
                if d.dimension in fees:
                    fees[d.dimension] += d.amount
            earned += line_commission
            taxed += (line_commission * tax_rate / 100).quantize(cent, ROUND_HALF_UP)
        for d in commission.details:
            if isinstance(d.per, str) and d.seller_id == g.seller_id:
                earned += d.amount
                taxed += (d.amount * tax_rate / 100).quantize(cent, ROUND_HALF_UP)
                if d.dimension in fees:
                    fees[d.dimension] += d.amount
        earned += g.logistics
        totals.append(
            SellerTotals(
                seller_id=g.seller_id,
                goods=goods,
                discount=discount,
                tax=tax,
                tax_included=included,
                delivery_fee=g.fee,
                commission=earned,
                commission_tax=taxed,
                payout=goods - discount + tax + platform - earned - taxed + g.fee,
                platform_contribution=platform if funded else UNSET,
                tax_exempted=exempted if exempt else UNSET,
                fees=[CommissionFee(name=name, amount=fees[name]) for name in names] if names else UNSET,
            )
        )
    return totals

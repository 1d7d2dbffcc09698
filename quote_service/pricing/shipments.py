"""Step 7 of a marketplace quote: a shipment per seller, priced by its seller's shipping profile (docs/shipping.md).

Pure: no I/O, no clock. The quote's lines are grouped by seller (the line's: the catalog product's, else
the item's, else the quote's) in first-appearance order. A shipment whose seller (or the platform
default) has a profile for the address and currency prices each of the profile's options:

    fee       base_fee + per_kg x weight + per_km x km, at most max_fee, rounded half up once;
              0 (`free`) when the shipment's goods after discounts reach free_above
    selected  the request's `shipping[seller_id]`, else the options matching `is_express_delivery`
              (express ones when true, else the others; all of them when none matches) with the
              lowest fee, then the shorter eta_days_max, then the code

A shipment without a profile is priced by the delivery rules on its own goods (`delivery.delivery_fee`,
as a quote without profiles is on all of them). The quote's delivery fee is the exact sum of the
shipments' fees. A FREE_DELIVERY promotion waives the shipments whose lines meet its conditions (its
categories or products, its minimum subtotal on the shipment's goods before discounts), each whole or in
part (`percent` or `amount` off each, at most `max`), a free-delivery coupon every shipment; the
logistics commission is charged per shipment, on its fee.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing.commission import commission_amount
from quote_service.pricing.delivery import Fee, coordinates, delivery_fee, haversine_km
from quote_service.pricing.fx_convert import Converter
from quote_service.pricing.fx_rates import Conversion
from quote_service.pricing.lines import Line
from quote_service.pricing.money import ZERO
from quote_service.pricing.offers import Choice
from quote_service.pricing.plan import RegionPlan
from quote_service.pricing.promotions import FreeDelivery, Promotion, waived_fee
from quote_service.pricing.quote import (
    AppliedRule,
    CatalogProduct,
    CommissionBreakdown,
    CommissionDetail,
    QuoteRequest,
    Shipment,
    ShipmentOption,
)
from quote_service.pricing.shipping import ShippingBook, ShippingOption, ShippingProfile

_MAX_WEIGHT = Decimal("1e9")


class Parcel:
    """One seller's shipment while the quote is priced."""

    __slots__ = (
        "charged",
        "detail",
        "fee",
        "goods",
        "lines",
        "logistics",
        "options",
        "profile",
        "rule_fee",
        "selected",
        "seller_id",
        "subtotal",
        "weight",
    )

    def __init__(self, seller_id: str | None, zero: Decimal) -> None:
        self.seller_id = seller_id
        self.lines: list[Line] = []
        self.weight = ZERO
        self.subtotal = self.goods = self.charged = self.fee = self.logistics = zero
        self.profile: ShippingProfile | None = None
        self.options: list[tuple[ShippingOption, Decimal, bool]] = []
        """(option, its fee for this shipment, free) in the profile's order."""
        self.selected: ShippingOption | None = None
        self.rule_fee: Fee | None = None
        """The delivery rules' fee, for a shipment without a profile."""
        self.detail: CommissionDetail | None = None


def split_shipments(
    request: QuoteRequest,
    lines: Sequence[Line],
    *,
    region: RegionPlan,
    book: ShippingBook | None,
    products: Mapping[str, CatalogProduct],
    multiplier: Decimal | None,
    outside: Mapping[str | None, ShippingProfile] | None = None,
    offers: Sequence[Choice | None] | None = None,
) -> Shipments | None:
    """The basket's shipments, each priced and its option selected (`lines` carry their discounts);
    None when no shipment has a profile here (the quote is then priced as without profiles). Raises
    ValidationFailed naming `shipping.<seller_id>` for a choice no shipment offers, `items[i].weight` for a
    weight that cannot be one. `outside`: a shipping extension's options by seller, in place of its profile's
    (docs/extensions.md)."""
    zero = region.zero
    parcels: dict[str | None, Parcel] = {}
    for line in lines:
        seller_id = line.priced.seller_id
        parcel = parcels.get(seller_id)
        if parcel is None:
            parcel = parcels[seller_id] = Parcel(seller_id, zero)
        parcel.lines.append(line)
    address = request.delivery_address
    found = False
    for parcel in parcels.values():
        answered = None if outside is None else outside.get(parcel.seller_id)
        if answered is not None:
            parcel.profile = answered
        elif book is not None:
            parcel.profile = book.profile_for(
                parcel.seller_id, city=address.city, country=address.country, currency=region.currency
            )
        found = found or parcel.profile is not None
    if not found:
        refuse_choices(request.shipping, parcels)
        return None
    _weigh(request, products, parcels, offers)
    points = coordinates(request.pickup_address, address)
    km = None if points is None else Decimal(f"{haversine_km(*points):.3f}")
    for parcel in parcels.values():
        for line in parcel.lines:
            parcel.subtotal += line.priced.subtotal
            parcel.goods += line.priced.subtotal - line.discount
        if parcel.profile is None:
            parcel.rule_fee = delivery_fee(
                region,
                express=request.is_express_delivery,
                pickup=request.pickup_address,
                delivery=address,
                goods=parcel.goods,
                flag_multiplier=multiplier,
            )
            parcel.charged = parcel.rule_fee.amount
        else:
            goods, weight, cent = parcel.goods, parcel.weight, region.cent  # each option's fee (and whether free)
            parcel.options = [(option, *option.fee(goods, weight, km, cent)) for option in parcel.profile.options]
    _select(request, parcels)
    return Shipments(list(parcels.values()), zero)


def refuse_choices(choices: Mapping[str, str] | None, offered: Mapping[str | None, Parcel]) -> None:
    """A 422 naming `shipping.<seller_id>` for each choice that no shipment offers."""
    if not choices:
        return
    errors = []
    for seller_id, code in choices.items():
        parcel = offered.get(seller_id)
        if parcel is None:
            why = f"no shipment of seller {seller_id} in this basket" if offered else "no shipping profile applies"
            errors.append(FieldError(f"shipping.{seller_id}", why))
        elif all(option.code != code for option, _, _ in parcel.options):
            known = ", ".join(option.code for option, _, _ in parcel.options) or "none: no shipping profile applies"
            errors.append(FieldError(f"shipping.{seller_id}", f"unknown delivery option {code!r} (offered: {known})"))
    if errors:
        raise ValidationFailed("unknown delivery option", details=errors)


def _weigh(
    request: QuoteRequest,
    products: Mapping[str, CatalogProduct],
    parcels: Mapping[str | None, Parcel],
    offers: Sequence[Choice | None] | None = None,
) -> None:
    """Each shipment's weight: its items' units times their catalog weight, else the item's `weight`
    (an item sold from an offer weighs in its offer's seller's shipment)."""
    errors = []
    for index, item in enumerate(request.items):
        product = products.get(item.product_id)
        choice = None if offers is None else offers[index]
        if product is not None and choice is not None:
            seller_id: str | None = choice.seller_id
            weight = product.weight if product.weight is not None else item.weight
        elif product is not None and product.is_active:
            seller_id = product.seller_id
            weight = product.weight if product.weight is not None else item.weight
        else:
            seller_id, weight = item.seller_id or request.seller_id, item.weight
        if weight is None:
            continue
        if not weight.is_finite() or weight < 0 or weight >= _MAX_WEIGHT:
            errors.append(
                FieldError(f"items[{index}].weight", f"must be a weight in kg, >= 0 and below {_MAX_WEIGHT:f}")
            )
            continue
        parcel = parcels.get(seller_id)
        if parcel is not None:
            parcel.weight += weight * item.quantity
    if errors:
        raise ValidationFailed("some items cannot be weighed", details=errors)


def _select(request: QuoteRequest, parcels: Mapping[str | None, Parcel]) -> None:
    """Each profiled shipment's option: the request's choice, else the default (module docstring)."""
    choices = request.shipping or {}
    refuse_choices(choices, parcels)
    for seller_id, parcel in parcels.items():
        if not parcel.options:
            continue
        code = choices.get(seller_id) if seller_id is not None else None
        if code is not None:
            option, fee, _ = next(entry for entry in parcel.options if entry[0].code == code)
        else:
            matching = [e for e in parcel.options if e[0].express is request.is_express_delivery] or parcel.options
            option, fee, _ = min(matching, key=lambda e: (e[1], e[0].eta_days_max, e[0].code))
        parcel.selected, parcel.charged = option, fee


class Shipments:
    """A quote's shipments: their fees as charged, then as waived, their logistics commission and what
    the response shows."""

    __slots__ = ("charge", "parcels", "zero")

    def __init__(self, parcels: list[Parcel], zero: Decimal) -> None:
        self.parcels = parcels
        self.zero = zero
        for parcel in parcels:
            parcel.fee = parcel.charged
        self.charge = Fee(sum((p.charged for p in parcels), zero), _rules(parcels), _described(parcels))
        """The delivery fee before any waiver, as the delivery step shows it."""

    def waive(self, promotion: Promotion, config: FreeDelivery) -> tuple[Decimal, Decimal]:
        """A FREE_DELIVERY promotion waives the fees of the shipments whose lines meet its conditions, each
        whole or the part its configuration says: (the fees it waived, the quote's delivery fee left)."""
        waived = self.zero
        whole = config.percent is None and config.amount is None and config.max is None
        for parcel in self.parcels:
            if parcel.fee > 0 and _meets(promotion, parcel):
                part = parcel.fee if whole else waived_fee(config, parcel.fee, self.zero)
                waived += part
                parcel.fee -= part
        return waived, self.fee()

    def waive_all(self) -> None:
        """A free-delivery coupon waives every shipment's fee."""
        for parcel in self.parcels:
            parcel.fee = self.zero

    def fee(self) -> Decimal:
        """The quote's delivery fee: the shipments' fees, summed exactly."""
        return sum((parcel.fee for parcel in self.parcels), self.zero)

    def with_logistics(
        self, commission: CommissionBreakdown, region: RegionPlan, provider: str | None, fx: Converter | None = None
    ) -> CommissionBreakdown:
        """`commission` (without a logistics part) with each shipment's logistics commission on its fee (`fx`
        locks the rate a logistics rate in another currency converted at: docs/currencies.md)."""
        if provider is None:
            return commission
        details = commission.details
        total = self.zero
        for parcel in self.parcels:
            conversion = _charge_logistics(parcel, region, provider)
            if conversion is not None and fx is not None:
                fx.lock(conversion)
            total += parcel.logistics
            if parcel.detail is not None:
                details.append(parcel.detail)
        return CommissionBreakdown(
            total_commission=commission.seller_commission + commission.category_commission + total,
            seller_commission=commission.seller_commission,
            category_commission=commission.category_commission,
            logistics_commission=total,
            currency=commission.currency,
            details=details,
        )

    def shown(self) -> list[Shipment]:
        """The shipments as the response shows them."""
        return [_shown(parcel, self.zero) for parcel in self.parcels]


def _meets(promotion: Promotion, parcel: Parcel) -> bool:
    c = promotion.conditions
    if c.min_subtotal is not None and parcel.subtotal < c.min_subtotal:
        return False
    if not c.category_ids and not c.product_ids:  # `meets_but_minimum` written out: a call per shipment costs
        return True
    return any(
        line.priced.product_id in c.product_ids or line.priced.category_id in c.category_ids for line in parcel.lines
    )


def meets_but_minimum(promotion: Promotion, parcel: Parcel) -> bool:
    """Whether the shipment holds a line of the promotion's categories or products (or it names none)."""
    c = promotion.conditions
    if not c.category_ids and not c.product_ids:
        return True
    return any(
        line.priced.product_id in c.product_ids or line.priced.category_id in c.category_ids for line in parcel.lines
    )


def _charge_logistics(parcel: Parcel, region: RegionPlan, provider: str) -> Conversion | None:
    """Charge the shipment's logistics commission; the rate its logistics rate converted at (None: none)."""
    categories = frozenset(line.priced.category_id for line in parcel.lines if line.priced.category_id)
    rate = region.resolution.logistics_rate(
        provider=provider, seller_id=parcel.seller_id, category_ids=categories, city=region.city,
        country=region.country, currency=region.currency, now=region.now,
    )  # fmt: skip
    conversion = None
    if rate is None and region.fx is not None:  # priced in another currency (docs/currencies.md)
        rate, conversion = region.logistics_rate(provider, parcel.seller_id, categories)
    if rate is None:
        return None
    parcel.logistics = commission_amount(rate, base=parcel.fee, quantity=1, currency=region.currency, per_order=True)
    parcel.detail = CommissionDetail(
        product_id=None,
        rate_id=rate.id,
        dimension="logistics",
        commission_type=rate.commission_type,
        base=parcel.fee,
        rate=rate.rate,
        amount=parcel.logistics,
    )
    return conversion


def _rules(parcels: list[Parcel]) -> tuple[AppliedRule, ...]:
    """The delivery rules that priced the shipments without a profile, each once with the money it moved."""
    moved: dict[object, AppliedRule] = {}
    for parcel in parcels:
        for rule in parcel.rule_fee.rules if parcel.rule_fee is not None else ():
            key = rule.rule_id if rule.rule_id is not None else (rule.type, rule.name)
            known = moved.get(key)
            moved[key] = rule if known is None else AppliedRule(
                rule_id=rule.rule_id, name=rule.name, type=rule.type, version=rule.version,
                amount=known.amount + rule.amount,
            )  # fmt: skip
    return tuple(moved.values())


def _described(parcels: list[Parcel]) -> str:
    parts = []
    for parcel in parcels:
        who = parcel.seller_id or "no seller"
        if parcel.selected is not None:
            parts.append(f"{who}: {parcel.selected.name}")
        elif parcel.rule_fee is not None:
            parts.append(f"{who}: {parcel.rule_fee.description}")
    return f"{len(parcels)} shipment{'s' if len(parcels) > 1 else ''} ({'; '.join(parts)})"


def _shown(parcel: Parcel, zero: Decimal) -> Shipment:
    selected = parcel.selected
    remaining: Decimal | None = None
    if selected is not None and selected.free_above is not None:
        remaining = max(selected.free_above - parcel.goods, zero)
    product_ids = list(dict.fromkeys(line.priced.product_id for line in parcel.lines))
    return Shipment(
        seller_id=parcel.seller_id,
        product_ids=product_ids,
        goods=parcel.goods,
        options=[
            ShipmentOption(
                code=option.code,
                name=option.name,
                fee=fee,
                eta_days_min=option.eta_days_min,
                eta_days_max=option.eta_days_max,
                free=free,
            )
            for option, fee, free in parcel.options
        ],
        selected=None if selected is None else selected.code,
        delivery_fee=parcel.fee,
        free_delivery_remaining=remaining,
        logistics_commission=parcel.logistics,
    )

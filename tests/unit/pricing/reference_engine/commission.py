"""THE REFERENCE COMMISSION: step 10 of a quote as docs/pricing.md ("Commission rates") states it.

Kept in one module so that a change of commission semantics changes the reference here only.

- A rate matches a line when every dimension it sets equals the line's (`category_id`;
  `seller_id`: the item's, else the quote's; `region`: the delivery city or country,
  case-insensitive), it is active, `now` is in `[effective_from, effective_to)`, and it is in
  the quote's currency (a PERCENTAGE rate without a currency is in every currency).
- Each rate feeds one component: its `component`, else `logistics` when it names a logistics
  provider, else `seller` when it names a seller and no category, else `category`. The
  components add up.
- Category commission, per line, from the category rates (none names a provider). Winner:
  highest priority, then specificity (seller 4 + category 2 + region 1), then a city match
  over a country match, then latest `effective_from`, latest `created_at`, then the greater id.
  No match → the default percentage (`rate_id` null).
- Seller commission, per line, from the seller rates (none names a provider), same winner
  order; no match → nothing (no detail line).
- Logistics commission, once per quote, from the logistics rates of the quote's
  `logistics_provider` (case-insensitive); a rate's seller is compared with the quote's seller,
  its category matches when any line has it. PERCENTAGE and TIERED on the delivery fee charged;
  FLAT once.
- Details: per line its category detail, then its seller detail; the logistics detail last.
- Amounts: PERCENTAGE base x rate / 100; FLAT rate x quantity; TIERED marginal brackets over
  the base; then clamped to [min_amount, max_amount]; then rounded half up.

docs/commission.md, for a quote where some line's winner uses it (a named component wins on it, or a
winner's base is not net, or a FLAT winner is not per unit); any other quote reads as above:
- Every other component name is a named fee: per line its own winner, same order; none → nothing.
- A PERCENTAGE or TIERED rate's base: `net` (above), `gross` (net + the line's tax), or
  `gross_with_delivery` (gross + the line's share of its shipment's delivery fee: pro rata to the goods
  of the shipment's lines, each rounded half up but never past what is left, the last line the rest;
  without shipments, the quote's delivery fee over all its lines).
- FLAT per unit: rate x quantity; per line: the rate; per shipment: once per (component, rate, the line's
  own seller: its shipment's); per order: once per (component, rate), to the own seller of the first line it
  wins on; both on no line.
- Details: per line category, seller, then its named fees by name, each naming its `line`; then the fees
  charged per shipment or order, in the order first charged (`per`, `seller_id`, base 0); then logistics.
- `fees`: each named component that won somewhere, by name, with its sum; `total_commission` adds them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import NamedTuple

from msgspec.structs import replace

from quote_service.pricing.commission import CommissionRate
from quote_service.pricing.quote import CommissionBreakdown, CommissionDetail, CommissionFee
from tests.unit.pricing.reference_engine.lines import Line
from tests.unit.pricing.reference_engine.money import ZERO, percent, rounded
from tests.unit.pricing.reference_engine.places import CITY, NO_REGION, region_match

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


class Place(NamedTuple):
    """Where and when a quote is priced, in what currency: what every rate is matched against."""

    city: str
    country: str
    currency: str
    now: datetime


def _winner(
    rates: Iterable[CommissionRate], place: Place, fits: Callable[[CommissionRate], bool]
) -> CommissionRate | None:
    """The best rate that fits, is active, effective, in the currency and in the region."""
    best: tuple[tuple[object, ...], CommissionRate] | None = None
    for rate in rates:
        match = region_match(rate.region, city=place.city, country=place.country)
        if match is None or not rate.is_active or rate.currency not in (None, place.currency) or not fits(rate):
            continue
        if place.now < rate.effective_from or (rate.effective_to is not None and place.now >= rate.effective_to):
            continue
        specificity = 4 * (rate.seller_id is not None) + 2 * (rate.category_id is not None) + (match != NO_REGION)
        assert rate.id is not None
        in_currency = rate.currency is not None  # docs/markets.md: a rate in the currency over one in every currency
        dates = (rate.effective_from, rate.created_at)
        rank = (rate.priority, specificity, match == CITY, in_currency, *dates, rate.id.int)
        if best is None or rank > best[0]:
            best = (rank, rate)
    return None if best is None else best[1]


def component(rate: CommissionRate) -> str:
    """Which component a rate feeds (as set, else derived from its dimensions)."""
    if rate.component is not None:
        return rate.component
    if rate.logistics_provider is not None:
        return "logistics"
    if rate.seller_id is not None and rate.category_id is None:
        return "seller"
    return "category"


def line_rate(
    rates: Iterable[CommissionRate], place: Place, part: str, *, category_id: str | None, seller_id: str | None
) -> CommissionRate | None:
    """The winning `part` ("category", "seller" or a named fee) rate of one line, or None."""

    def fits(rate: CommissionRate) -> bool:
        return (
            component(rate) == part
            and rate.logistics_provider is None
            and rate.category_id in (None, category_id)
            and rate.seller_id in (None, seller_id)
        )

    return _winner(rates, place, fits)


def logistics_rate(
    rates: Iterable[CommissionRate], place: Place, *, provider: str, seller_id: str | None, category_ids: set[str]
) -> CommissionRate | None:
    """The winning logistics rate of a quote with this provider, or None."""

    def fits(rate: CommissionRate) -> bool:
        return (
            component(rate) == "logistics"
            and rate.logistics_provider is not None
            and rate.logistics_provider.casefold() == provider.casefold()
            and rate.seller_id in (None, seller_id)
            and (rate.category_id is None or rate.category_id in category_ids)
        )

    return _winner(rates, place, fits)


def _tiered(rate: CommissionRate, base: Decimal) -> Decimal:
    """Marginal brackets, like income tax: each tier's rate on the part of the base inside it."""
    total = ZERO
    lower = ZERO
    for tier in rate.tiers:
        upper = base if tier.up_to is None else min(base, tier.up_to)
        if upper > lower:
            total += percent(upper - lower, tier.rate)
        if tier.up_to is None or base <= tier.up_to:
            break
        lower = tier.up_to
    return total


def amount_of(rate: CommissionRate, *, base: Decimal, units: int, cent: Decimal) -> Decimal:
    """What a rate charges on `base` for `units` (FLAT), clamped, rounded."""
    if rate.commission_type == "PERCENTAGE":
        assert rate.rate is not None
        amount = percent(base, rate.rate)
    elif rate.commission_type == "FLAT":
        assert rate.rate is not None
        amount = rate.rate * units
    else:
        amount = _tiered(rate, base)
    if rate.min_amount is not None and amount < rate.min_amount:
        amount = rate.min_amount
    if rate.max_amount is not None and amount > rate.max_amount:
        amount = rate.max_amount
    return rounded(amount, cent)


def commission_breakdown(
    lines: Sequence[Line],
    rates: Sequence[CommissionRate],
    *,
    default_percent: Decimal,
    quote_seller_id: str | None,
    logistics_provider: str | None,
    delivery_fee: Decimal,
    city: str,
    country: str,
    currency: str,
    cent: Decimal,
    now: datetime,
    deliveries: Sequence[tuple[Sequence[int], Decimal]] | None = None,
) -> CommissionBreakdown:
    """Per-line category and seller commission (and docs/commission.md's fees) plus the per-quote logistics
    commission; the total is their sum. `deliveries`: each shipment's lines (by index) and delivery fee
    (None: the quote's `delivery_fee` over all its lines)."""
    zero = ZERO.quantize(cent)
    default = CommissionRate(
        id=None,
        commission_type="PERCENTAGE",
        rate=default_percent,
        currency=currency,
        effective_from=_LONG_AGO,
        created_at=_LONG_AGO,
    )
    place = Place(city, country, currency, now)
    names = sorted({component(rate) for rate in rates} - {"category", "seller", "logistics"})
    winners: list[list[tuple[str, CommissionRate]]] = []
    for line in lines:
        seller_id = line.seller_id or quote_seller_id
        found = []
        for part in ("category", "seller", *names):
            rate = line_rate(rates, place, part, category_id=line.category_id, seller_id=seller_id)
            if rate is None and part == "category":
                rate = default
            if rate is not None:
                found.append((part, rate))
        winners.append(found)
    extended = any(
        part not in ("category", "seller") or rate.base != "net" or rate.per != "unit"
        for found in winners
        for part, rate in found
    )
    shares = _shares(lines, deliveries or [(range(len(lines)), delivery_fee)], cent) if extended else []
    parts = {"seller": zero, "category": zero, "logistics": zero}
    fees: dict[str, Decimal] = {}
    details: list[CommissionDetail] = []
    charged_once: dict[tuple[object, ...], CommissionDetail] = {}
    for index, (line, found) in enumerate(zip(lines, winners, strict=True)):
        base = line.subtotal - line.discount  # docs/markets.md: commission is on the net, without tax
        if line.inclusive:
            base -= line.tax + line.exempted  # docs/taxes.md: an exempt gross line's net is what it charges
        if line.funded:  # docs/orders-and-refunds.md: the base is after the seller-funded discounts only
            base = line.subtotal - (line.discount - line.funded)
            if line.inclusive and line.holds is not None:  # docs/taxes.md: under the quote's terms
                base -= line.holds(base)
            elif line.inclusive:  # less the tax that gross amount would contain
                base -= (base * line.tax_rate / (100 + line.tax_rate)).quantize(cent, ROUND_HALF_UP)
        for part, rate in found:
            if not extended:
                amount = amount_of(rate, base=base, units=line.quantity, cent=cent)
                parts[part] += amount
                details.append(_detail(line.product_id, rate, part, base, amount))
                continue
            if rate.commission_type == "FLAT" and rate.per in ("shipment", "order"):
                seller = line.seller_id  # the line's own seller, whose shipment it is in (docs/shipping.md)
                key = (part, rate.id, rate.per, seller if rate.per == "shipment" else None)
                if key not in charged_once:
                    amount = amount_of(rate, base=zero, units=1, cent=cent)
                    charged_once[key] = replace(_detail(None, rate, part, zero, amount), per=rate.per, seller_id=seller)
                    _add(parts, fees, part, amount, zero)
                continue
            on = base
            if rate.commission_type != "FLAT" and rate.base != "net":
                on = base + line.tax + (shares[index] if rate.base == "gross_with_delivery" else zero)
            amount = amount_of(rate, base=on, units=line.quantity if rate.per == "unit" else 1, cent=cent)
            _add(parts, fees, part, amount, zero)
            details.append(replace(_detail(line.product_id, rate, part, on, amount), line=index))
    details.extend(charged_once.values())
    if logistics_provider is not None:
        categories = {line.category_id for line in lines if line.category_id is not None}
        rate = logistics_rate(
            rates, place, provider=logistics_provider, seller_id=quote_seller_id, category_ids=categories
        )
        if rate is not None:
            parts["logistics"] = amount_of(rate, base=delivery_fee, units=1, cent=cent)
            details.append(_detail(None, rate, "logistics", delivery_fee, parts["logistics"]))
    breakdown = CommissionBreakdown(
        total_commission=parts["seller"] + parts["category"] + parts["logistics"] + sum(fees.values(), zero),
        seller_commission=parts["seller"],
        category_commission=parts["category"],
        logistics_commission=parts["logistics"],
        currency=currency,
        details=details,
    )
    if fees:
        breakdown = replace(breakdown, fees=[CommissionFee(name=n, amount=fees[n]) for n in sorted(fees)])
    return breakdown


def _add(parts: dict[str, Decimal], fees: dict[str, Decimal], part: str, amount: Decimal, zero: Decimal) -> None:
    if part in parts:
        parts[part] += amount
    else:
        fees[part] = fees.get(part, zero) + amount


def _shares(lines: Sequence[Line], deliveries: Sequence[tuple[Sequence[int], Decimal]], cent: Decimal) -> list[Decimal]:
    """Each line's share of its shipment's delivery fee, in exact fractions: pro rata to the goods, rounded half
    up, never past what is left; the shipment's last line takes the rest."""
    shares = [ZERO] * len(lines)
    for members, fee in deliveries:
        goods = {i: Fraction(lines[i].subtotal - lines[i].discount) for i in members}
        total = sum(goods.values(), Fraction(0))
        left = fee
        members = list(members)
        for position, i in enumerate(members):
            if position == len(members) - 1:
                shares[i] = left
            else:
                exact = Fraction(fee) * goods[i] / total / Fraction(cent) if total > 0 else Fraction(0)
                half_up = math.floor(exact + Fraction(1, 2))  # the shares are never negative
                shares[i] = min(Decimal(half_up) * cent, left)
            left -= shares[i]
    return shares


def _detail(
    product_id: str | None, rate: CommissionRate, dimension: str, base: Decimal, amount: Decimal
) -> CommissionDetail:
    return CommissionDetail(
        product_id=product_id,
        rate_id=rate.id,
        dimension=dimension,  # type: ignore[arg-type]
        commission_type=rate.commission_type,
        base=base,
        rate=rate.rate,
        amount=amount,
    )

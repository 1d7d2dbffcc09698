"""The quote engine: one pure function from a request and its inputs to a `Quote`, as a pipeline of named steps.

`price_quote` reads as the algorithm's table of contents; each step is a function in `quote_steps` (and the
response's sums in `quote_answer`), run in this order and testable alone:

    served flags and test group   the flags on for this customer here and now (`served_flags`)
    lines (1-4)                   list price, offers chosen, flash-sale split, price rules, line subtotals, and
                                  their sums: what the later steps read (`QuoteInputs`)
    promotions (5a), coupons (5)  the automatic promotions this basket meets, then the request's coupons
    tax (6)                       per line: added to a net line, contained in a tax-inclusive one
    shipping (7)                  a shipment per seller where shipping profiles apply
    fees (7-8)                    delivery (waived by a free-delivery promotion or coupon), small basket
    commission (10)               on each line's net, and per shipment or order where a rate asks
    totals, seller totals (9)     the total, its calculation steps, each seller's totals (`quote_answer`)
    prior prices                  each reduced line's start and prior price, from the history the caller read
                                  (`prior_lines`)
    installments                  the options of the card's plans on the total; a seller-funded one chosen adds
                                  its commission to the lines, the breakdown and the sellers (`with_installments`)
    an edit's fees                an order edit's basket: the fees given back waived, the fees charged once as the
                                  order charged them (`once_fees.edit_fees`)

The inputs, each read or worked out before pricing by the caller (the quote service's named loaders):
`products` and `flash` keyed by the request's product_id; `defaults` the same object every time (the
snapshot's pricing plans are kept per defaults object: a new one per call prices correctly but never warm);
`region` and `flags` what `region_for` and `served_flags` answer for the same arguments (worked out here
without them); `gifts` the products of the book's GIFT promotions with their stock
(docs/promotions.md#gifts); `held` each item's price decided already (an order edit's basket,
docs/orders-and-refunds.md#edits-and-exchanges: steps 1-4 take them as they are); `external` what tax and
shipping extensions answered (docs/extensions.md), used as they are, and `answered` their `tax_source` and
the fallbacks' warnings; `offers` each item's offer (`offers.choose_offers`; None: no item has one), which
prices its line, owns it and is shown on it; `quantity_limits` the basket's max_per_customer limits
(docs/pricing.md#quantity-rules), carried for its order to count again; `priors` the price history at
every start a line could be reduced from (`prior_lines.wanted_history`; None: no line shows a prior price,
docs/markets.md#prior-price-for-announced-reductions); `installments` the card and the plans of its currency
(docs/taxes.md#installments); `edit_fees` an order edit's fees charged once and given back, which it keeps.

Money is Decimal throughout and rounded half up to the currency's minor units once per line and once per fee;
every total is the exact sum of the rounded parts it names. No I/O, no clock: `now` and `quote_id` are
arguments. The configuration is read through the snapshot's pricing plan (`plan`): the rules and rates of a
region and kind of line are resolved once per snapshot and window, and a line's rounded amounts once per set of
inputs, so a warm quote mostly adds up and builds its response. The steps hand their answers on as they are
(tuples, the one `QuoteInputs` struct), so that the pipeline costs a warm quote no more instructions than the one
long function it replaced (docs/hot-path.md#the-cost-budget).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from quote_service.errors import invalid
from quote_service.pricing.attributes import quote_attributes
from quote_service.pricing.discounts import CouponResult
from quote_service.pricing.external import Answered, ExternalPricing
from quote_service.pricing.flags import NO_ATTRIBUTES, EvaluationContext, evaluate_compiled
from quote_service.pricing.fx_convert import Converter, converted_promotions
from quote_service.pricing.installments import Paying
from quote_service.pricing.lines import HeldPrice, Line
from quote_service.pricing.money import is_currency
from quote_service.pricing.offers import Choice
from quote_service.pricing.once_fees import EditFees
from quote_service.pricing.plan import RegionPlan, region_plan
from quote_service.pricing.prior_lines import PriorTable
from quote_service.pricing.promotion_deals import Outcome
from quote_service.pricing.promotions import GiftStock
from quote_service.pricing.quote import (
    CatalogProduct,
    CustomerContext,
    EngineDefaults,
    FlashOffer,
    QuantityLimit,
    Quote,
    QuoteRequest,
)
from quote_service.pricing.quote_answer import quote_answer
from quote_service.pricing.quote_steps import (
    EXPRESS_MULTIPLIER,
    SMALL_BASKET_THRESHOLD,
    QuoteInputs,
    automatic_promotions,
    coupon_codes,
    fees,
    line_taxes,
    quote_commission,
    quote_lines,
    shipments,
)
from quote_service.pricing.snapshot import ConfigSnapshot

__all__ = ["EXPRESS_MULTIPLIER", "SMALL_BASKET_THRESHOLD", "ServedFlags", "price_quote", "region_for", "served_flags"]

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
    quantity_limits: Sequence[QuantityLimit] | None = None,
    priors: PriorTable | None = None,
    installments: Paying | None = None,
    edit_fees: EditFees | None = None,
    answered: Answered | None = None,
) -> Quote:
    """Price `request` under `snapshot` at `now` (docs/pricing.md), step by step; the inputs are the module
    docstring's. Raises ValidationFailed (or CurrencyNotPriced) with field paths for input the schema cannot
    refuse."""
    if region is None:
        region = region_for(request, snapshot=snapshot, defaults=defaults, now=now)
    if flags is None:
        flags = served_flags(request, snapshot=snapshot, region=region, customer=customer, products=products, now=now)
    feature_flags, experiments = flags
    forced: list[str] = []
    if customer.test_group is not None:  # a service or admin caller's context.ab_test_group
        forced = serve_test_group(snapshot, customer.test_group, feature_flags, experiments, now)
    # price lists only when there are any in this currency: a quote without them costs what it did
    book = snapshot.price_lists if region.currency in snapshot.price_lists.currencies else None
    inputs = quote_lines(
        request, snapshot, region, customer, defaults, feature_flags, now, gifts, products, flash, book, held, offers
    )
    lines = inputs.lines
    # A step that has nothing to do here is not called: an empty promotion book, no coupon code, no shipping
    # profile or extension cost a quote one test each (docs/hot-path.md#the-cost-budget).
    promoted = None
    promotions = snapshot.promotions
    if inputs.fx is not None and promotions.priced_in:  # docs/currencies.md: converted at the quote's rates
        promoted = _converted_promotions(inputs, lines, inputs.fx)
    elif region.currency in promotions.currencies or None in promotions.currencies:
        promoted = automatic_promotions(inputs, lines)
    promotion_discount = region.zero if promoted is None else region.zero + promoted.discount  # on the grid
    coupons: Sequence[CouponResult] = ()  # no list a quote without coupon codes
    discount = promotion_discount
    if request.coupon_codes:
        coupons, discount = coupon_codes(
            inputs, lines, promotion_discount, promoted is not None and promoted.blocks_coupons
        )
    taxed = line_taxes(inputs, lines, book, external)
    # Shipments only where a profile could serve one (the platform default's or a seller's of the basket, in this
    # currency), an extension ships it or the request chooses: others' profiles cost the quote nothing (no call).
    served = None if snapshot.shipping is None else snapshot.shipping.served
    wanted = (external is not None and bool(external.shipping)) or request.shipping is not None
    if not wanted and served is not None:
        wanted = (None, region.currency) in served
        for line in () if wanted else lines:
            if (line.priced.seller_id, region.currency) in served:
                wanted = True
                break
    parcels = shipments(inputs, lines, products, external, offers) if wanted else None
    charged = fees(inputs, inputs.subtotal - discount, parcels, promoted, coupons)
    commission = quote_commission(inputs, lines, taxed[0], parcels, charged[1])
    return quote_answer(
        inputs, lines, quote_id, feature_flags, experiments, forced, promoted, promotion_discount, discount, coupons,
        taxed, parcels, charged, commission, held, offers, quantity_limits, products, priors,
        installments, edit_fees, answered,
    )  # fmt: skip


def _converted_promotions(inputs: QuoteInputs, lines: list[Line], fx: Converter) -> Outcome | None:
    """Step 5a with promotions priced in other currencies: their amounts at the quote's rates (a converted book,
    kept per rates), and the rates of those it applies locked with the quote (docs/currencies.md)."""
    currency = inputs.region.currency
    book, taken = converted_promotions(inputs.snapshot.promotions, currency, fx.peek)
    inputs.promotions = book
    if currency not in book.currencies and None not in book.currencies:
        return None
    promoted = automatic_promotions(inputs, lines)
    for promotion, _ in () if promoted is None else promoted.applied:
        if promotion.id in taken:
            fx.lock(taken[promotion.id])
    return promoted


def region_for(
    request: QuoteRequest, *, snapshot: ConfigSnapshot, defaults: EngineDefaults, now: datetime
) -> RegionPlan:
    """The pricing plan of the request's delivery place and currency (422 for an unknown currency)."""
    currency = request.currency.upper()
    if not is_currency(currency):
        raise invalid("currency", "not an ISO 4217 currency code")
    address = request.delivery_address
    fee_conversion = fx = None  # docs/currencies.md: fees and commission priced in another currency convert
    if defaults.fx_conversion and snapshot.fx is not None:
        fx = snapshot.fx
        if currency != defaults.currency:
            fee_conversion = fx.rate(defaults.currency, currency, now)
    return region_plan(
        snapshot.resolver.at(now),
        city=address.city,
        country=address.country,
        currency=currency,
        defaults=defaults,
        now=now,
        fee_conversion=fee_conversion,
        fx=fx,
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


def serve_test_group(
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

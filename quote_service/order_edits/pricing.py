"""The edited basket priced under the order's own terms (orders/terms.py). Pure: the quote engine, given
a snapshot built from the terms, the order's instant as `now`, and every line's price held.

- The snapshot holds the fee and TAX_RATE rules, commission rates and shipping profiles of the order's
  configuration version, and the coupons and promotions its quote applied (re-evaluated on the edited
  basket: one whose conditions the basket no longer meets is lost; its use stays the order's own);
- `now` is the order's `created_at`: every rule, rate, coupon and promotion window is read as then;
- the engine defaults are the order's (DEFAULT_TAX_RATE, the default fees, ...), with its rounding;
- the flags are those its quote was served (the express multiplier, the small-basket threshold);
- the request is its quote's (delivery address, express, logistics provider, channel, exemption, the
  customer's tier, segment and group), the shipments' options as the order chose them for the sellers
  still in the basket (a seller the edit brings in: a quote's default), or as the edit names them;
- an installment option chosen is applied again, on the edited total, as its plan priced it;
- the fees the order charged once stay as charged, and those it gave back stay given back (`once_fees.EditFees`);
- a line sold from another seller's offer (docs/offers.md) keeps its `offer_id` and its seller, who owns
  its shipment (its weight too), its commission rates and its part of the money.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import msgspec
from msgspec.structs import replace

from quote_service.order_edits.basket import BasketLine
from quote_service.orders.terms import ConfigTerms, EditContext, OrderTerms
from quote_service.pricing.engine import price_quote
from quote_service.pricing.fx_rates import FxBook
from quote_service.pricing.installments import InstallmentPlan, Paying, PlanOption
from quote_service.pricing.money import ZERO
from quote_service.pricing.offers import Choice
from quote_service.pricing.once_fees import EditFees
from quote_service.pricing.promotions import GiftStock
from quote_service.pricing.quote import (
    CatalogProduct,
    CustomerContext,
    QuantityLimit,
    Quote,
    QuoteItemIn,
    QuoteRequest,
    SelectedInstallment,
)
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.pricing.taxes import Rounding

_ANY_CARD = "000000"
"""The card an order's own installment plan is priced for again (its BIN prefixes are not kept: any)."""


class Terms(NamedTuple):
    """Everything an edit of one order prices under."""

    order: OrderTerms
    config: ConfigTerms
    context: EditContext
    rounding: Rounding | None
    """The order's rounding when its quote recorded one (docs/taxes.md); None: the defaults'."""
    installment: SelectedInstallment | None


def snapshot_of(terms: Terms, fx: FxBook | None = None) -> ConfigSnapshot:
    """The order's configuration as a snapshot the engine reads (`fx`: the rates it converts at, its order's
    locked ones: docs/currencies.md)."""
    config = terms.config
    snapshot = ConfigSnapshot.build(
        version=terms.order.version,
        rates=config.rates,
        rules=config.rules,
        coupons=terms.order.coupons,
        promotions=terms.order.promotions,
        shipping_profiles=config.profiles,
    )
    return snapshot if fx is None else dataclasses.replace(snapshot, fx=fx)


def price_basket(
    basket: Sequence[BasketLine],
    terms: Terms,
    *,
    customer_id: str,
    currency: str,
    placed_at: datetime,
    shipping: Mapping[str, str] | None,
    products: Mapping[str, CatalogProduct],
    gifts: Mapping[str, GiftStock] | None,
    edit_id: UUID,
    quantity_limits: Sequence[QuantityLimit] | None = None,
    fx: FxBook | None = None,
    fees: EditFees | None = None,
) -> Quote:
    """The edited basket's quote under `terms`. `products`: today's catalog products of the basket, read
    only for their weight (a shipment priced by weight); `gifts`: the order's GIFT promotions' products;
    `quantity_limits`: the basket's per-customer limits, counted again at the commit; `fees`: what the basket keeps
    of the order's fees (charged once, given back), an input of the engine."""
    context = terms.context
    request = QuoteRequest(
        customer_id=customer_id,
        items=[
            QuoteItemIn(
                product_id=line.product_id,
                quantity=line.quantity,
                category_id=line.price.category_id,
                seller_id=line.price.seller_id,
                weight=line.weight,
            )
            for line in basket
        ],
        delivery_address=context.delivery_address,
        currency=currency,
        seller_id=context.seller_id,
        pickup_address=context.pickup_address,
        is_express_delivery=context.is_express_delivery,
        coupon_codes=[coupon.code for coupon in terms.order.coupons],
        logistics_provider=context.logistics_provider,
        channel=context.channel,
        customer_group=context.customer_group,
        shipping=dict(shipping) if shipping else None,
        tax_exemption=context.tax_exemption,
        customer_tax_id=context.customer_tax_id,
    )
    defaults = terms.config.defaults
    if terms.rounding is not None:
        defaults = replace(defaults, rounding=terms.rounding)
    customer = CustomerContext(
        customer_id=customer_id, tier=context.tier, segment=context.segment, customer_group=context.customer_group
    )
    flags: dict[str, Any] = dict(terms.order.flags)
    quote = price_quote(
        request,
        snapshot=snapshot_of(terms, fx),
        products=products,
        flash={},
        customer=customer,
        defaults=defaults,
        now=placed_at,
        quote_id=edit_id,
        flags=(flags, {}),
        gifts=gifts,
        held=[line.price if line.offer_id is None else line.price._replace(offer_id=line.offer_id) for line in basket],
        offers=_offer_sellers(basket),
        quantity_limits=quantity_limits,
        installments=None if terms.installment is None else order_installment(currency, terms.installment),
        edit_fees=fees,
    )
    return quote


def _offer_sellers(basket: Sequence[BasketLine]) -> list[Choice | None] | None:
    """Each line sold from an offer with its offer's seller (whose shipment weighs it); None: no such line."""
    if all(line.offer_id is None for line in basket):
        return None
    return [None if line.offer_id is None else Choice(None, line.price.seller_id or "", "named") for line in basket]


def order_installment(currency: str, chosen: SelectedInstallment) -> Paying:
    """The installment option an order chose, as the engine's input: priced again on the edited basket's total
    (the order's own plan: no BIN or minimum total applies again), no other option shown."""
    plan = InstallmentPlan(
        id=chosen.plan_id,
        bin_prefixes=("",),
        currency=currency,
        min_total=ZERO,
        options=(
            PlanOption(
                count=chosen.count,
                rate=chosen.rate,
                funded_by=chosen.funded_by,
                seller_commission_rate=chosen.seller_commission_rate,
            ),
        ),
    )
    return Paying([plan], _ANY_CARD, chosen.count, shown=False)


def stored_quote(raw: Any) -> Quote:
    """An edit's priced basket as its preview stored it."""
    return msgspec.convert(raw, Quote, strict=False)

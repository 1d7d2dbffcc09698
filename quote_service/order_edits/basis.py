"""What an order holds now, as an edit reads it: its live lines at the prices they charged, what is left of
them after refunds, its fees not given back, its gifts, and the context its quote was asked with. Pure
(records in, values out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from uuid import UUID

import asyncpg
import msgspec

from quote_service.order_edits.basket import KeptLine
from quote_service.order_edits.pricing import Terms
from quote_service.orders import refund_math, tax_record
from quote_service.orders.money import Change, Fees, OrderMoney, change, order_once_fees, record_of, taken
from quote_service.orders.refunds import charged_lines
from quote_service.orders.terms import EditContext, OrderTerms
from quote_service.pricing.lines import HeldPrice
from quote_service.pricing.money import ZERO
from quote_service.pricing.promotions import Gift, GiftStock
from quote_service.pricing.quote import CatalogProduct, Quote
from quote_service.quotes.quote_log import request_of_log

GIFT_STOCK = 1 << 30
"""A gift's stock as the edit's pricing sees it: the commit takes its units as any added units (never oversold)."""


def kept_terms(order: asyncpg.Record, terms: Terms) -> OrderTerms:
    """The order's terms as its commit keeps them: with the request context its first edit read from the
    quote log (a flash purchase's order keeps none: its context is always the same, service.py makes it)."""
    if terms.order.context is not None or order["flash_purchase_id"] is not None:
        return terms.order
    return msgspec.structs.replace(terms.order, context=terms.context)


def context_of(row: asyncpg.Record) -> EditContext:
    """The context a quote-log row's request was asked with."""
    request, customer = request_of_log(row["request"], row)
    return EditContext(
        delivery_address=request.delivery_address,
        pickup_address=request.pickup_address,
        is_express_delivery=request.is_express_delivery,
        seller_id=request.seller_id,
        logistics_provider=request.logistics_provider,
        channel=request.channel,
        tier=customer.tier,
        segment=customer.segment,
        customer_group=customer.customer_group,
        tax_exemption=request.tax_exemption,
        customer_tax_id=request.customer_tax_id,
    )


def kept_lines(
    rows: Sequence[asyncpg.Record],
    products: Mapping[str, CatalogProduct],
    offer_floors: Mapping[UUID, Decimal] | None = None,
) -> list[KeptLine]:
    """The order's live lines with units left, each at the price it charged (its floor its product's
    `min_price`, or for a line sold from an offer the offer's, `offer_floors`: docs/offers.md)."""
    kept = []
    for r in rows:
        product = products.get(r["product_id"])
        unit: Decimal = r["unit_price"]
        floor = ZERO if product is None or r["price_source"] == "request" else min(product.min_price, unit)
        if r["offer_id"] is not None and offer_floors is not None and r["offer_id"] in offer_floors:
            floor = min(offer_floors[r["offer_id"]], unit)
        kept.append(
            KeptLine(
                position=r["position"],
                product_id=r["product_id"],
                quantity=r["quantity"] - r["refunded_quantity"],
                price=HeldPrice(
                    source=r["price_source"],
                    list_unit=r["list_unit_price"],
                    unit=unit,
                    min_price=floor,
                    inclusive=r["prices_include_tax"],
                    category_id=r["category_id"],
                    seller_id=r["seller_id"],
                    product=None if product is None else product.id,
                    flash_sale_id=r["flash_sale_id"],
                    price_list_id=r["price_list_id"],
                ),
                is_gift=r["price_source"] == "gift",
                offer_id=r["offer_id"],
            )
        )
    return kept


def gift_products(terms: OrderTerms) -> list[str]:
    """The products the order's GIFT promotions give."""
    return [p.config.product_id for p in terms.promotions if isinstance(p.config, Gift)]


def gift_stocks(terms: OrderTerms, products: Mapping[str, CatalogProduct]) -> dict[str, GiftStock] | None:
    """The gifts of the order's GIFT promotions, as the edit's pricing reads them (None: it has none)."""
    gifts = gift_products(terms)
    if not gifts:
        return None
    found = {}
    for product_id in gifts:
        product = products.get(product_id)
        if product is not None:
            found[str(product.id)] = GiftStock(
                id=str(product.id), category_id=product.category_id, seller_id=product.seller_id,
                is_active=product.is_active, stock=GIFT_STOCK,
            )  # fmt: skip
    return found


def kept_flags(rows: Sequence[asyncpg.Record], quote: Quote) -> list[bool]:
    """Whether each line of the edited basket's quote is at an order line's price."""
    charged = {(r["product_id"], r["seller_id"], r["unit_price"]) for r in rows if r["price_source"] != "gift"}
    return [
        line.is_gift is not True and (line.product_id, line.seller_id, line.unit_price) in charged
        for line in quote.items
    ]


def what_is_left(
    order: asyncpg.Record,
    rows: Sequence[asyncpg.Record],
    shipped: Sequence[asyncpg.Record],
    once: Sequence[asyncpg.Record] = (),
) -> OrderMoney:
    """What the order has left: each live line's parts no refund gave back, and the fees not given back
    (`once`: its named fees charged once per shipment or order not reversed, `refund_repository.charged_once`)."""
    lines = charged_lines(rows, tax_record.rounding_of(order["tax_terms"]))
    takes = refund_math.everything_left(lines, order["currency"])
    by_position = {line.position: line for line in lines}
    left = [taken(take, by_position[take.position]) for take in takes]
    refunded = bool(order["fees_refunded"])
    small = ZERO if refunded else order["small_basket_fee"]
    if shipped:
        fees = Fees(
            small_basket=small,
            shipments={
                s["seller_id"]: (s["delivery_fee"], s["logistics_commission"])
                for s in shipped
                if s["refund_id"] is None and not refunded
            },
            once=order_once_fees(once),
        )
    else:
        fees = Fees(
            delivery=ZERO if refunded else order["delivery_fee"],
            small_basket=small,
            logistics=ZERO if refunded else order["logistics_commission"],
            once=order_once_fees(once),
        )
    return OrderMoney(left, fees)


def edit_money(
    order: asyncpg.Record,
    terms: Terms,
    rows: Sequence[asyncpg.Record],
    shipped: Sequence[asyncpg.Record],
    quote: Quote,
    once: Sequence[asyncpg.Record] = (),
) -> Change:
    """The edit: the change from what the order has left to the edited basket's `quote` (its money, per seller)."""
    return change(what_is_left(order, rows, shipped, once), record_of(quote, terms.config.defaults.commission_tax_rate))

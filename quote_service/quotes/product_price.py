"""GET /api/v1/products/{id}/price: a product's final unit price for a quantity, tier and region.

Not a second pricing path: the price is a one-line quote made by the quote engine with the
quote path's own inputs (`QuoteService.price_one`: the product cache, the configuration
snapshot, the live flash-sale counters), of which the answer shows steps 1-3 — the list price,
the flash-sale units, the price rules with their `min_price` floor. Nothing is stored.

Who is priced: a shopper (`user`) always as itself — its account's id, tier and segment, as on a
quote (another `user_tier` is 422); admins and service keys for an anonymous customer at the
`user_tier` they name (no customer id: a flag rolled out by percentage is off, as for any
caller without one; a flash sale's per-customer limit is whole).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from litestar.params import QueryParameter

from quote_service.auth.policy import foreign_labels
from quote_service.auth.schemas import Principal
from quote_service.errors import FieldError, NotFound, ProductUnavailable, ValidationFailed
from quote_service.pricing.money import round_money
from quote_service.pricing.quote import AppliedRule, CustomerContext, PriceSource, Quote
from quote_service.quotes.service import QuoteService
from quote_service.structs import Frozen

# Query parameters: Litestar checks a QueryParameter's bounds (it does not read msgspec.Meta there).
Quantity = Annotated[int, QueryParameter(ge=1, le=10_000, description="Units, 1 to 10,000 (as a quote line).")]
TierName = Annotated[str | None, QueryParameter(min_length=1, max_length=64, description="A customer tier, e.g. gold.")]
Region = Annotated[str | None, QueryParameter(min_length=1, max_length=100, description="A city or a country code.")]


class PricedUnits(Frozen):
    """Units at one price: all of them, or the flash-sale units and the rest."""

    quantity: int
    unit_price: Decimal
    line_subtotal: Decimal
    price_source: PriceSource
    flash_sale_id: UUID | None
    applied_rules: list[AppliedRule]
    """The price rules that moved these units' price, in order, each with the money it moved."""


class ProductPrice(Frozen):
    product_id: UUID
    currency: str
    quantity: int
    user_tier: str | None
    """The tier the price is for (a shopper's own)."""
    region: str | None
    list_price: Decimal
    """The price before flash sales and price rules: a price list's for the caller's customer
    group (lists limited to channels do not apply here), else the catalog's."""
    unit_price: Decimal
    """The final unit price; when a flash sale covers only some units, subtotal / quantity
    rounded half up (`lines` then gives each part's exact price)."""
    subtotal: Decimal
    """What `quantity` units cost: the sum of the lines, as a quote's line subtotal."""
    flash_sale_id: UUID | None
    """The active flash sale that prices some of the units, if any."""
    applied_rules: list[AppliedRule]
    lines: list[PricedUnits]


async def price_product(
    quotes: QuoteService,
    product_id: UUID,
    caller: Principal,
    *,
    quantity: int,
    user_tier: str | None,
    region: str | None,
) -> ProductPrice:
    """Price `quantity` units of an active catalog product for `caller` (module docstring)."""
    customer = _customer(caller, user_tier)
    product = await quotes.catalog_product(product_id)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    if not product.is_active:
        raise ProductUnavailable(f"product {product_id} is not available (inactive)")
    try:
        quote = await quotes.price_one(product, quantity, customer, region=region)
    except ValidationFailed as exc:  # the money ceiling: named by this endpoint's parameters, not a quote's fields
        details = [FieldError(_PARAMETERS.get(d.field, d.field), d.message) for d in exc.details]
        raise type(exc)(exc.message, details=details) from exc
    # Step 1's price: a price list's for the caller's group (on no channel), else the catalog's.
    return _shown(quote, product_id, customer, region, list_price=quote.items[0].list_unit_price)


_PARAMETERS = {"items[0].product_id": "product_id", "items[0].quantity": "quantity", "items": "quantity"}
"""The one-line quote's fields (docs/quotes-and-orders.md#the-money-ceiling) as this endpoint's parameters."""


def _customer(caller: Principal, user_tier: str | None) -> CustomerContext:
    if caller.role != "user":
        return CustomerContext(customer_id="", tier=user_tier, customer_group=caller.customer_group)
    problems = foreign_labels([("user_tier", "tier", user_tier, caller.tier)])
    if problems:
        raise ValidationFailed("; ".join(f"{p.field}: {p.message}" for p in problems), details=problems)
    return CustomerContext(
        customer_id=str(caller.id), tier=caller.tier, segment=caller.segment, customer_group=caller.customer_group
    )


def _shown(
    quote: Quote, product_id: UUID, customer: CustomerContext, region: str | None, *, list_price: Decimal
) -> ProductPrice:
    lines = [
        PricedUnits(
            quantity=line.quantity,
            unit_price=line.unit_price,
            line_subtotal=line.line_subtotal,
            price_source=line.price_source,
            flash_sale_id=line.flash_sale_id,
            applied_rules=line.applied_rules,
        )
        for line in quote.items
    ]
    quantity = sum(line.quantity for line in lines)
    unit_price = lines[0].unit_price if len(lines) == 1 else round_money(quote.subtotal / quantity, quote.currency)
    return ProductPrice(
        product_id=product_id,
        currency=quote.currency,
        quantity=quantity,
        user_tier=customer.tier,
        region=region,
        list_price=list_price,
        unit_price=unit_price,
        subtotal=quote.subtotal,
        flash_sale_id=next((line.flash_sale_id for line in lines if line.flash_sale_id is not None), None),
        applied_rules=[rule for line in lines for rule in line.applied_rules],
        lines=lines,
    )

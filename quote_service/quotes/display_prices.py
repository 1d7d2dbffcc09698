"""POST /api/v1/prices: the unit prices a product listing shows (docs/markets.md#display-prices).

Not a second pricing path: each product is priced as a one-product basket of `quantity` units by
the quote engine (`price_quote`, the entry point POST /quote uses) with the quote path's own
inputs (the configuration snapshot, the product cache, the live flash-sale counters) and the same
rules for what a caller may state (quotes/policy.py). Nothing is stored, no stock is held and the
quote log is not written. A basket has no coupon and no delivery place: `price` is what the line
is charged per unit after price lists, price rules, the flash price and automatic promotions.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing.money import round_money
from quote_service.pricing.quote import CurrencyCode, ExternalId, PriceSource, Quantity, Quote
from quote_service.structs import Frozen, Strict

Label = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class PricesRequest(Strict):
    product_ids: Annotated[list[ExternalId], msgspec.Meta(min_length=1, max_length=200)]
    currency: CurrencyCode
    channel: Label | None = None
    quantity: Quantity = 1
    customer_tier: Label | None = None
    customer_segment: Label | None = None
    customer_group: Label | None = None


class ShownPromotion(Frozen):
    promotion_id: UUID
    name: str
    amount: Decimal
    """The discount it gives the `quantity` units (not per unit)."""


class DisplayPrice(Frozen):
    product_id: str
    currency: str
    list_price: Decimal
    """The unit price before flash sales, price rules and promotions: a price list's, else the catalog's."""
    price: Decimal
    """What a quote of `quantity` units of this product alone charges per unit (its line after
    discounts ÷ quantity, rounded half up): gross when `prices_include_tax`, else net."""
    net: Decimal
    gross: Decimal
    tax_rate: Decimal
    prices_include_tax: bool
    price_source: PriceSource
    price_list_id: UUID | None
    flash_sale_id: UUID | None
    promotions: list[ShownPromotion]
    prior_price: Decimal | None = None
    """Where a flash sale, an automatic promotion or a campaign reduces the price: the lowest catalog price in the
    30 days before `reduction_started_at` (quotes/prior_prices.py); null when there is no reduction,
    the price is a price list's, or no history covers those days."""
    reduction_started_at: datetime | None = None
    """When the reduction began: the earliest of the flash sale's start, its promotions' starts and its
    campaign's first move below the campaign's base price."""


class PriceError(Frozen):
    product_id: str
    code: Literal["NOT_FOUND", "CURRENCY_NOT_PRICED", "FX_RATE_MISSING", "VALIDATION_FAILED"]


class Prices(Frozen):
    items: list[DisplayPrice]
    errors: list[PriceError]


def check_ids(request: PricesRequest) -> None:
    """Refuse a product named twice (422 naming the second occurrence)."""
    seen: set[str] = set()
    problems = []
    for index, product_id in enumerate(request.product_ids):
        if product_id in seen:
            problems.append(FieldError(f"product_ids[{index}]", f"{product_id} is named more than once"))
        seen.add(product_id)
    if problems:
        raise ValidationFailed("; ".join(f"{p.field}: {p.message}" for p in problems), details=problems)


def shown(quote: Quote, product_id: str, quantity: int) -> DisplayPrice:
    """A one-product quote as a display price (per unit; docs/markets.md#display-prices)."""
    currency = quote.currency
    lines = quote.items  # one line, or the flash-priced units and the rest
    first = lines[0]
    charged = sum((line.line_subtotal - line.discount for line in lines), Decimal(0))
    tax = sum((line.tax for line in lines), Decimal(0))
    inclusive = first.prices_include_tax is True
    net_total, gross_total = (charged - tax, charged) if inclusive else (charged, charged + tax)
    return DisplayPrice(
        product_id=product_id,
        currency=currency,
        list_price=first.list_unit_price,
        price=round_money(charged / quantity, currency),
        net=round_money(net_total / quantity, currency),
        gross=round_money(gross_total / quantity, currency),
        tax_rate=first.tax_rate,
        prices_include_tax=inclusive,
        price_source=first.price_source,
        price_list_id=next((line.price_list_id for line in lines if line.price_list_id is not None), None),
        flash_sale_id=next((line.flash_sale_id for line in lines if line.flash_sale_id is not None), None),
        promotions=[
            ShownPromotion(promotion_id=p.promotion_id, name=p.name, amount=p.amount)
            for p in quote.applied_promotions
            if p.kind != "FREE_DELIVERY"  # a fee, not the goods' price
        ],
    )

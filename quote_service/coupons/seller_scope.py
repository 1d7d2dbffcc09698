"""What a seller's own coupon may be (docs/sellers.md): a discount on its own products, paid by itself.

A coupon discounts the lines of the products and categories it names (none: every line), and a
category holds every seller's goods. So a seller's coupon names its own catalog products
(`product_ids`, required) and no category, and is not FREE_DELIVERY (a delivery fee is not one
seller's line). It is funded by the seller, whatever the body says.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from quote_service.catalog.ownership import not_owned
from quote_service.coupons.schemas import CouponCreate, CouponUpdate
from quote_service.db.pool import Pool
from quote_service.errors import FieldError, ValidationFailed

T = TypeVar("T", CouponCreate, CouponUpdate)


async def for_seller(pool: Pool, data: T, seller_id: str) -> T:
    """`data` as a seller's own coupon; a 422 naming each field that reaches beyond its own products."""
    errors: list[FieldError] = []
    if data.type == "FREE_DELIVERY":
        errors.append(FieldError("type", "a seller's coupon discounts its own products: PERCENTAGE or FIXED"))
    if data.category_ids:
        errors.append(
            FieldError("category_ids", "a seller's coupon names its own products (product_ids), not categories")
        )
    if not data.product_ids:
        errors.append(FieldError("product_ids", "a seller's coupon names its own products"))
    named = [(f"product_ids[{i}]", product) for i, product in enumerate(data.product_ids or ())]
    errors += await not_owned(pool, named, seller_id)
    if errors:
        raise ValidationFailed(
            "A seller's coupon reaches beyond its own products: " + ", ".join(e.field for e in errors), details=errors
        )
    return msgspec.structs.replace(data, funded_by="seller")

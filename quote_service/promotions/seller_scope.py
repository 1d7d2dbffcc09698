"""What a seller's own promotion may name (docs/sellers.md): its own products, nothing wider.

A promotion's product and category conditions pick the lines it discounts, a category's lines of
every seller. So a seller's promotion names its own catalog products (`conditions.product_ids`,
required: without it the promotion would discount every line) and no category, and the same
holds for the product and category lists of its `config` (a BUY_X_GET_Y's `buy` and `get`, a
bundle's, a gift's `product_id`). It is funded by the seller, whatever the body says.
"""

from __future__ import annotations

from typing import Any

import msgspec

from quote_service.catalog.ownership import not_owned
from quote_service.db.pool import Pool
from quote_service.errors import FieldError, ValidationFailed
from quote_service.promotions.schemas import PromotionInput

_NO_CATEGORY = "a seller's promotion names its own products (product_ids), not categories"


def _named(config: Any, path: str) -> tuple[list[tuple[str, str]], list[FieldError]]:
    """The (path, product id) pairs a config names, and an error for each category list in it."""
    products: list[tuple[str, str]] = []
    errors: list[FieldError] = []
    if isinstance(config, dict):
        for key, value in config.items():
            at = f"{path}.{key}"
            if key == "category_ids" and value:
                errors.append(FieldError(at, _NO_CATEGORY))
            elif key == "product_ids" and isinstance(value, list):
                products += [(f"{at}[{i}]", str(v)) for i, v in enumerate(value)]
            elif key == "product_id" and isinstance(value, str):
                products.append((at, value))
            else:
                found, wrong = _named(value, at)
                products += found
                errors += wrong
    return products, errors


async def for_seller(pool: Pool, data: PromotionInput, seller_id: str) -> PromotionInput:
    """`data` as a seller's own promotion (funded by the seller); a 422 naming each field that
    reaches beyond the seller's own products."""
    conditions = data.conditions
    errors: list[FieldError] = []
    if conditions.category_ids:
        errors.append(FieldError("conditions.category_ids", _NO_CATEGORY))
    if not conditions.product_ids:
        errors.append(FieldError("conditions.product_ids", "a seller's promotion names its own products"))
    named = [(f"conditions.product_ids[{i}]", p) for i, p in enumerate(conditions.product_ids)]
    found, wrong = _named(data.config, "config")
    named += found
    errors += wrong
    errors += await not_owned(pool, named, seller_id)
    if errors:
        raise ValidationFailed(
            "A seller's promotion reaches beyond its own products: " + ", ".join(e.field for e in errors),
            details=errors,
        )
    return msgspec.structs.replace(data, funded_by="seller")

"""The catalog's registration: its routes and the product cache (cache/products.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.datastructures import State

from quote_service.cache.products import ProductCache
from quote_service.catalog.controller import ProductController
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    products = ProductCache(ctx.redis, ctx.pool)
    await ctx.open("product cache", products)
    return {"product_cache": products}


async def reset(state: State) -> None:
    await state.product_cache.reset()


CATALOG = Domain(
    name="catalog", routes=[ProductController], provides={"product_cache": ProductCache}, start=start, reset=reset
)

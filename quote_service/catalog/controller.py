"""HTTP: /api/v1/products."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit import changes
from quote_service.auth.guards import admin_only, requires_role
from quote_service.auth.sellers import own_seller, owned_by
from quote_service.catalog import repository, seller_moves, service
from quote_service.catalog.schemas import (
    ManualPrice,
    PriceChange,
    Product,
    ProductCreate,
    ProductPatch,
    ProductSort,
    ProductUpdate,
    StockAdjust,
    StockLevel,
)
from quote_service.config import Settings
from quote_service.db.rows import found
from quote_service.errors import invalid
from quote_service.pagination import Page, decode_cursor, page_of
from quote_service.web.deps import (
    AdminPoolDep,
    AuthedRequest,
    ConfigStoreDep,
    PageDep,
    PoolDep,
    ProductCacheDep,
    ReadPoolDep,
    actor_of,
)
from quote_service.web.envelope import Envelope, ok

admin_or_seller = requires_role("admin", "seller")
_RULES = "products"
"""The domain a product write names when its quantity rules moved the configuration version
(they are in the snapshot: docs/pricing.md#quantity-rules); this process reloads at once."""


class ProductController(Controller):
    path = "/api/v1/products"
    tags = ["catalog"]

    @post("/", guards=[admin_only], summary="Create a product")
    async def create(
        self,
        data: JSONBody[ProductCreate],
        admin_pool: AdminPoolDep,
        product_cache: ProductCacheDep,
        settings: NamedDependency[Settings],
        config_store: ConfigStoreDep,
        request: AuthedRequest,
    ) -> Envelope[Product]:
        product = await service.create_product(
            admin_pool, data, actor=actor_of(request), prices_include_tax=settings.catalog_prices_include_tax
        )
        await product_cache.invalidate([product.id])
        if data.quantity_rules is not None:
            await config_store.follow(_RULES)
        return ok(product, "Product created")

    @get(
        "/",
        summary="List products, keyset-paginated (min_price and cost_price for admins and service keys; "
        "offer_count where other sellers offer it)",
    )
    async def list_products(
        self,
        read_pool: ReadPoolDep,
        config_store: ConfigStoreDep,
        request: AuthedRequest,
        page: PageDep,
        category_id: FromQuery[str | None] = None,
        seller_id: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        is_active: FromQuery[bool | None] = None,
        sort: FromQuery[ProductSort] = "created",
    ) -> Envelope[Page[Product]]:
        own = own_seller(request.user)
        if own is not None:  # a seller lists its own products; naming another seller finds nothing (404)
            owned_by(request.user, seller_id or own, f"seller {seller_id}")
            seller_id = own
        order = repository.LIST_ORDERS[sort]
        after = decode_cursor(page.cursor, order.key_type, order.cursor_name)
        async with read_pool.acquire() as conn:
            rows = await repository.list_products(
                conn,
                category_id=category_id,
                seller_id=seller_id,
                q=q,
                is_active=is_active,
                sort=sort,
                after=after,
                limit=page.limit,
            )
        caller = request.user
        offers = config_store.snapshot.offers  # which products other sellers offer: no query (docs/offers.md)
        return ok(
            page_of(
                rows,
                order.cursor_name,
                limit=page.limit,
                key=lambda r: tuple(r["sort_key"]),
                item=lambda r: service.with_offer_count(
                    service.as_seen_by(service.product_from_row(r), caller), offers
                ),
            )
        )

    @get(
        "/{product_id:uuid}",
        summary="Get a product with its reserved and available units (min_price and cost_price for admins and "
        "service keys)",
    )
    async def get_product(
        self,
        product_id: FromPath[UUID],
        pool: PoolDep,
        request: AuthedRequest,
    ) -> Envelope[Product]:
        product = await service.get_product(pool, product_id)
        owned_by(request.user, product.seller_id, f"product {product_id}")
        now = request.app.state.quote_clock()  # holds expire by the quotes' clock (docs/reservations.md)
        async with pool.acquire() as conn:
            reserved = (await repository.held_units(conn, product_ids=[product_id], now=now)).get(product_id, 0)
        product = msgspec.structs.replace(product, reserved=reserved, available=max(0, product.stock - reserved))
        return ok(service.as_seen_by(product, request.user))

    @put("/{product_id:uuid}", guards=[admin_only], summary="Replace a product's fields")
    async def replace(
        self,
        product_id: FromPath[UUID],
        data: JSONBody[ProductUpdate],
        admin_pool: AdminPoolDep,
        product_cache: ProductCacheDep,
        config_store: ConfigStoreDep,
        request: AuthedRequest,
    ) -> Envelope[Product]:
        product = await service.update_product(admin_pool, product_id, data, actor=actor_of(request))
        await product_cache.invalidate([product_id])
        if data.quantity_rules is not msgspec.UNSET:
            await config_store.follow(_RULES)
        return ok(product, "Product updated")

    @patch(
        "/{product_id:uuid}",
        guards=[admin_or_seller],
        summary="Change some of a product's fields (a seller: its own product's prices, docs/sellers.md)",
    )
    async def update(
        self,
        product_id: FromPath[UUID],
        data: JSONBody[ProductPatch],
        pool: PoolDep,
        admin_pool: AdminPoolDep,
        product_cache: ProductCacheDep,
        settings: NamedDependency[Settings],
        config_store: ConfigStoreDep,
        request: AuthedRequest,
    ) -> Envelope[Product]:
        if own_seller(request.user) is not None:
            product = await seller_moves.patch(pool, admin_pool, request, product_id, data, settings)
        else:
            if data.stock is not msgspec.UNSET:
                raise invalid("stock", "changes only through POST /api/v1/products/{id}/stock")
            replaying = changes.replaying(request)
            # An approved seller's change request keeps its price history source (docs/sellers.md).
            by_seller = replaying is not None and replaying.author.get("kind") == "seller"
            product = await service.update_product(
                admin_pool, product_id, data, actor=actor_of(request), source="seller" if by_seller else "manual"
            )
        await product_cache.invalidate([product_id])
        if data.quantity_rules is not msgspec.UNSET:
            await config_store.follow(_RULES)
        return ok(product, "Product updated")

    @delete("/{product_id:uuid}", status_code=200, guards=[admin_only], summary="Deactivate a product")
    async def deactivate(
        self,
        product_id: FromPath[UUID],
        admin_pool: AdminPoolDep,
        product_cache: ProductCacheDep,
        request: AuthedRequest,
    ) -> Envelope[Product]:
        product = await service.update_product(admin_pool, product_id, {"is_active": False}, actor=actor_of(request))
        await product_cache.invalidate([product_id])
        return ok(product, "Product deactivated")

    @get("/{product_id:uuid}/price-history", summary="Price changes, newest first")
    async def price_history(
        self,
        product_id: FromPath[UUID],
        read_pool: ReadPoolDep,
        request: AuthedRequest,
        page: PageDep,
    ) -> Envelope[Page[PriceChange]]:
        before = decode_cursor(page.cursor, tuple[datetime, int], "price-history")
        async with read_pool.acquire() as conn:
            product = await repository.get_product(conn, product_id=product_id)
            product = found(product, f"product {product_id}")
            owned_by(request.user, product["seller_id"], f"product {product_id}")
            rows = await repository.list_price_history(conn, product_id=product_id, before=before, limit=page.limit)
        currency = product["currency"]
        return ok(
            page_of(
                rows,
                "price-history",
                limit=page.limit,
                key=lambda r: (r["changed_at"], r["id"]),
                item=lambda r: service.price_change_from_row(r, currency),
            )
        )

    @put(
        "/{product_id:uuid}/price",
        guards=[admin_or_seller],
        summary="Move the current price by hand (floor and move limit checked; price history source manual; "
        "a seller's own product: docs/sellers.md)",
    )
    async def set_price(
        self,
        product_id: FromPath[UUID],
        data: JSONBody[ManualPrice],
        pool: PoolDep,
        admin_pool: AdminPoolDep,
        product_cache: ProductCacheDep,
        settings: NamedDependency[Settings],
        config_store: ConfigStoreDep,
        request: AuthedRequest,
    ) -> Envelope[Product]:
        if own_seller(request.user) is not None:
            product = await seller_moves.set_price(pool, admin_pool, request, product_id, data, settings)
        else:
            limit = Decimal(str(settings.max_price_change_percent))
            product = await service.set_price(
                admin_pool, product_id, data, actor=actor_of(request), max_change_percent=limit
            )
        await product_cache.invalidate([product_id])
        return ok(product, "Price changed")

    @post(
        "/{product_id:uuid}/stock",
        status_code=200,
        guards=[admin_or_seller],
        summary="Adjust stock atomically (a seller: its own product's)",
    )
    async def adjust_stock(
        self,
        product_id: FromPath[UUID],
        data: JSONBody[StockAdjust],
        pool: PoolDep,
        admin_pool: AdminPoolDep,
        product_cache: ProductCacheDep,
        request: AuthedRequest,
    ) -> Envelope[StockLevel]:
        if own_seller(request.user) is not None:
            await seller_moves.owned_product(pool, request, product_id)
        level = await service.adjust_stock(admin_pool, product_id, data, actor=actor_of(request))
        # The change may have repriced the product (inventory repricing, in the same transaction).
        await product_cache.invalidate([product_id])
        return ok(level, "Stock adjusted")

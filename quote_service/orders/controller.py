"""HTTP: /api/v1/orders — confirm a stored quote (idempotent), read orders."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.auth.guards import any_caller
from quote_service.clock import utcnow
from quote_service.flash_sales.purchases import Purchases
from quote_service.orders import service
from quote_service.orders.schemas import Order, OrderCreate
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor
from quote_service.quotes.store import QuoteStore
from quote_service.web.deps import (
    AuthedRequest,
    IdempotencyKey,
    PoolDep,
    ProductCacheDep,
    ReadPoolsDep,
    RedisDep,
    actor_of,
    check_idempotency_key,
)
from quote_service.web.envelope import Envelope, ok


class OrderController(Controller):
    path = "/api/v1/orders"
    tags = ["orders"]
    guards = [any_caller]

    @post("/", summary="Confirm a stored quote as an order (requires Idempotency-Key)")
    async def place(
        self,
        data: JSONBody[OrderCreate],
        idempotency_key: IdempotencyKey,
        pool: PoolDep,
        redis: RedisDep,
        quote_store: NamedDependency[QuoteStore],
        purchases: NamedDependency[Purchases],
        product_cache: ProductCacheDep,
        request: AuthedRequest,
    ) -> Envelope[Order]:
        check_idempotency_key(idempotency_key)
        order, replayed = await service.place_order(
            pool,
            redis,
            quote_store,
            purchases,
            data,
            principal=request.user,
            actor=actor_of(request),
            idempotency_key=idempotency_key,
            now=utcnow(),
        )
        if not replayed:
            # Taking stock may have repriced a product (inventory repricing, in the order's transaction).
            await product_cache.invalidate(
                {line.product_id for line in order.items if line.price_source in ("catalog", "price_list")}
            )
        return ok(order, "Order already placed with this Idempotency-Key" if replayed else "Order placed")

    @get("/", summary="Orders, newest first (own orders; admins see all)")
    async def list_orders(
        self,
        pool: PoolDep,
        read_pools: ReadPoolsDep,
        request: AuthedRequest,
        customer_id: FromQuery[str | None] = None,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Envelope[Page[Order]]:
        before = decode_cursor(cursor, tuple[datetime, UUID], "orders")
        # A customer's list must show the order just placed: the primary. The admins' list of
        # everyone's orders may lag the replica's bound (docs/deployment.md).
        source = read_pools.for_read() if request.user.role == "admin" else pool
        page = await service.list_orders(
            source, principal=request.user, customer_id=customer_id, before=before, limit=limit
        )
        return ok(page)

    @get("/{order_id:uuid}", summary="One order (its customer, the client that placed it, or an admin)")
    async def get_order(self, order_id: FromPath[UUID], pool: PoolDep, request: AuthedRequest) -> Envelope[Order]:
        return ok(await service.get_order(pool, order_id, principal=request.user))

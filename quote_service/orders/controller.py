"""HTTP: /api/v1/orders — confirm a stored quote (idempotent), read orders."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.auth.guards import any_caller, requires_role
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import invalid
from quote_service.flash_sales.purchases import Purchases
from quote_service.orders import payments, refunds, service
from quote_service.orders.schemas import (
    ORDER_STATUSES,
    CancelCreate,
    Order,
    OrderCreate,
    Payment,
    PaymentCreate,
    Refund,
    RefundCreate,
)
from quote_service.orders.terms import TermsRecorder
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor
from quote_service.periods import instant_bounds
from quote_service.pricing.local_time import zone
from quote_service.pricing.quote import STOCKED_SOURCES
from quote_service.quotes.store import QuoteStore
from quote_service.resource import Resource
from quote_service.web.deps import (
    AuthedRequest,
    ConfigStoreDep,
    IdempotencyKey,
    PoolDep,
    ProductCacheDep,
    ReadPoolsDep,
    RedisDep,
    actor_of,
    check_idempotency_key,
    refuse_unknown,
)
from quote_service.web.envelope import Envelope, ok
from quote_service.web.replay import answered_again, first_answer

LIST_FILTERS = frozenset({"seller_id", "customer_id", "status", "from", "to", "limit", "cursor"})


async def _follow_coupon_limits(order: Order, config_store: ConfigStoreDep) -> None:
    """An order or cancel that may have used a coupon up, or given it back, changed the
    configuration: this process prices with that before it answers, the others a moment later."""
    if service.may_use_up_coupons(order, config_store.snapshot.coupons):
        await config_store.follow("orders")


class OrderController(Resource):
    path = "/api/v1/orders"
    # Sellers read the orders holding their lines (docs/sellers.md); every other route is any_caller's.
    # An agent key places and reads the orders of its quotes as a service key does (docs/agents.md).
    guards = [requires_role("admin", "user", "service", "seller", "agent")]

    @post("/", guards=[any_caller], summary="Confirm a stored quote as an order (requires Idempotency-Key)")
    async def place(
        self,
        data: JSONBody[OrderCreate],
        idempotency_key: IdempotencyKey,
        pool: PoolDep,
        redis: RedisDep,
        quote_store: NamedDependency[QuoteStore],
        purchases: NamedDependency[Purchases],
        product_cache: ProductCacheDep,
        config_store: ConfigStoreDep,
        settings: NamedDependency[Settings],
        order_terms: NamedDependency[TermsRecorder],
        request: AuthedRequest,
    ) -> Response[Envelope[Order]]:
        check_idempotency_key(idempotency_key)
        reply = first_answer(request, "Order placed", status=201)
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
            commission_tax_rate=settings.commission_tax_rate,
            terms=order_terms,
            reply=reply,
        )
        if replayed:  # placed before its answer was kept (web/replay.py)
            return answered_again(ok(order, "Order already placed with this Idempotency-Key"), status=201)
        # Taking stock may have repriced a product (inventory repricing, in the order's transaction).
        await product_cache.invalidate(
            {line.product_id for line in order.items if line.price_source in STOCKED_SOURCES}
        )
        await _follow_coupon_limits(order, config_store)
        return reply.response()

    @get("/", summary="Orders, newest first, filtered (own orders; admins see all; a seller its part of its orders)")
    async def list_orders(
        self,
        pool: PoolDep,
        read_pools: ReadPoolsDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
        customer_id: FromQuery[str | None] = None,
        seller_id: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        to: FromQuery[str | None] = None,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Envelope[Page[Order]]:
        refuse_unknown(request, LIST_FILTERS)
        if status is not None and status not in ORDER_STATUSES:
            raise invalid("status", "must be one of " + ", ".join(ORDER_STATUSES))
        # `from` is a Python keyword: read from the query itself. Local dates are BUSINESS_TIMEZONE's.
        since, until = instant_bounds(request.query_params.get("from"), to, zone(settings.business_timezone))
        before = decode_cursor(cursor, tuple[datetime, UUID], "orders")
        # A customer's list must show the order just placed: the primary. The admins' list of
        # everyone's orders may lag the replica's bound (docs/deployment.md).
        source = read_pools.for_read() if request.user.role == "admin" else pool
        page = await service.list_orders(
            source,
            principal=request.user,
            filters=service.OrderFilters(
                customer_id=customer_id, seller_id=seller_id, status=status, since=since, until=until
            ),
            before=before,
            limit=limit,
        )
        return ok(page)

    @get(
        "/{order_id:uuid}",
        summary="One order (its customer, the client that placed it, or an admin; a seller its part of it)",
    )
    async def get_order(self, order_id: FromPath[UUID], pool: PoolDep, request: AuthedRequest) -> Envelope[Order]:
        return ok(await service.get_order(pool, order_id, principal=request.user))

    @post(
        "/{order_id:uuid}/cancel",
        status_code=200,
        guards=[any_caller],
        summary="Cancel an order: everything refunded, fees too, coupons released (requires Idempotency-Key)",
    )
    async def cancel(
        self,
        order_id: FromPath[UUID],
        idempotency_key: IdempotencyKey,
        pool: PoolDep,
        redis: RedisDep,
        product_cache: ProductCacheDep,
        config_store: ConfigStoreDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
        data: JSONBody[CancelCreate | None] = None,
    ) -> Response[Envelope[Order]]:
        check_idempotency_key(idempotency_key)
        reply = first_answer(request, "Order cancelled", status=200)
        order, replayed = await refunds.cancel(
            pool,
            redis,
            order_id,
            data or CancelCreate(),
            principal=request.user,
            actor=actor_of(request),
            idempotency_key=idempotency_key,
            now=utcnow(),
            window=timedelta(minutes=settings.cancel_window_minutes),
            reply=reply,
        )
        if replayed:  # cancelled before its answer was kept (web/replay.py)
            return answered_again(ok(order, "Order already cancelled with this Idempotency-Key"), status=200)
        # Stock came back: inventory repricing may have moved a price.
        await product_cache.invalidate({line.product_id for line in order.items if line.price_source != "request"})
        await _follow_coupon_limits(order, config_store)
        return reply.response()

    @post(
        "/{order_id:uuid}/refunds",
        guards=[requires_role("admin", "service")],
        summary="Refund units of an order's lines (and its fees, once) (requires Idempotency-Key)",
    )
    async def refund(
        self,
        order_id: FromPath[UUID],
        data: JSONBody[RefundCreate],
        idempotency_key: IdempotencyKey,
        pool: PoolDep,
        redis: RedisDep,
        product_cache: ProductCacheDep,
        request: AuthedRequest,
    ) -> Response[Envelope[Refund]]:
        check_idempotency_key(idempotency_key)
        reply = first_answer(request, "Refund made", status=201)
        made, replayed = await refunds.refund(
            pool,
            order_id,
            data,
            principal=request.user,
            actor=actor_of(request),
            idempotency_key=idempotency_key,
            redis=redis,
            reply=reply,
        )
        if replayed:  # made before its answer was kept (web/replay.py)
            return answered_again(ok(made, "Refund already made with this Idempotency-Key"), status=201)
        await product_cache.invalidate({line.product_id for line in made.lines})
        return reply.response()

    @post(
        "/{order_id:uuid}/payments",
        guards=[requires_role("admin", "service")],
        summary="Record a payment of the money an order's edits made due (requires Idempotency-Key)",
    )
    async def pay(
        self,
        order_id: FromPath[UUID],
        data: JSONBody[PaymentCreate],
        idempotency_key: IdempotencyKey,
        pool: PoolDep,
        request: AuthedRequest,
    ) -> Response[Envelope[Payment]]:
        check_idempotency_key(idempotency_key)
        reply = first_answer(request, "Payment recorded", status=201)
        made, replayed = await payments.record(
            pool,
            order_id,
            data,
            principal=request.user,
            actor=actor_of(request),
            idempotency_key=idempotency_key,
            reply=reply,
        )
        if replayed:  # the key's payment is on record without a kept answer (past retention): as it is now
            return answered_again(ok(made, "Payment already recorded with this Idempotency-Key"), status=201)
        return reply.response()

    @get(
        "/{order_id:uuid}/refunds",
        guards=[any_caller],
        summary="An order's refunds, oldest first (whoever may see the order)",
    )
    async def list_refunds(
        self, order_id: FromPath[UUID], pool: PoolDep, request: AuthedRequest
    ) -> Envelope[list[Refund]]:
        return ok(await refunds.list_refunds(pool, order_id, principal=request.user))

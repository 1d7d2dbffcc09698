"""HTTP: /api/v1/flash-sales — admin CRUD and lifecycle, reads, purchases (docs/flash-sales.md)."""

from __future__ import annotations

import contextlib
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from redis.exceptions import RedisError

from quote_service.auth.guards import admin_only, any_caller
from quote_service.clock import utcnow
from quote_service.db.idempotency import Replayed
from quote_service.errors import Conflict, NotFound, ServiceError
from quote_service.flash_sales import repository
from quote_service.flash_sales.purchases import Purchases, customer_of
from quote_service.flash_sales.schemas import (
    CustomerPurchases,
    FlashSale,
    FlashSaleCreate,
    FlashSaleUpdate,
    OwnPurchase,
    Purchase,
    PurchaseCreate,
    ReconcileReport,
    SaleStats,
)
from quote_service.flash_sales.service import (
    FlashSales,
    own_purchase_from_row,
    purchase_from_row,
    state_conflict,
    stats_from_row,
)
from quote_service.observability.metrics import count_purchase
from quote_service.pagination import NEWEST_FIRST, Page, decode_cursor, fetch_page, page_of
from quote_service.pricing.flash import SaleStatus
from quote_service.web.deps import AdminPoolDep, AuthedRequest, IdempotencyKey, PageDep, actor_of, check_idempotency_key
from quote_service.web.envelope import Envelope, ok
from quote_service.web.errors import render
from quote_service.web.replay import answered_again, first_answer
from quote_service.web.request import EDGE_ERROR

SalesDep = NamedDependency[FlashSales]
PurchasesDep = NamedDependency[Purchases]


class FlashSaleController(Controller):
    path = "/api/v1/flash-sales"
    tags = ["flash sales"]
    guards = [any_caller]

    @post("/", guards=[admin_only], summary="Create a flash sale (allocates stock from each product)")
    async def create(
        self, data: JSONBody[FlashSaleCreate], flash_sales: SalesDep, admin_pool: AdminPoolDep, request: AuthedRequest
    ) -> Envelope[FlashSale]:
        return ok(await flash_sales.create(data, actor=actor_of(request), pool=admin_pool), "Flash sale created")

    @get("/", summary="Flash sales, latest start first (status as the clock gives it)")
    async def list_sales(
        self,
        flash_sales: SalesDep,
        page: PageDep,
        status: FromQuery[SaleStatus | None] = None,
    ) -> Envelope[Page[FlashSale]]:
        before = decode_cursor(page.cursor, tuple[datetime, UUID], "flash-sales")
        return ok(await flash_sales.list_sales(status=status, before=before, limit=page.limit))

    @get("/{sale_id:uuid}", summary="One flash sale with live remaining stock (counts the caller as a viewer)")
    async def get_sale(
        self,
        sale_id: FromPath[UUID],
        flash_sales: SalesDep,
        request: AuthedRequest,
        customer_id: FromQuery[str | None] = None,
    ) -> Envelope[FlashSale]:
        sale = await flash_sales.get(sale_id)
        viewer = str(request.user.id) if request.user.role == "user" else customer_id
        if viewer and request.user.role != "admin":
            with contextlib.suppress(RedisError):  # a lost view must not cost the shopper the page
                await flash_sales.counters.add_viewer(sale_id, viewer)
        return ok(sale)

    @put("/{sale_id:uuid}", guards=[admin_only], summary="Change a sale (while scheduled; ends_at also while active)")
    async def update(
        self,
        sale_id: FromPath[UUID],
        data: JSONBody[FlashSaleUpdate],
        flash_sales: SalesDep,
        admin_pool: AdminPoolDep,
        request: AuthedRequest,
    ) -> Envelope[FlashSale]:
        return ok(
            await flash_sales.update(sale_id, data, actor=actor_of(request), pool=admin_pool), "Flash sale updated"
        )

    @delete("/{sale_id:uuid}", guards=[admin_only], status_code=200, summary="Delete a scheduled sale")
    async def remove(
        self, sale_id: FromPath[UUID], flash_sales: SalesDep, admin_pool: AdminPoolDep, request: AuthedRequest
    ) -> Envelope[None]:
        await flash_sales.delete(sale_id, actor=actor_of(request), pool=admin_pool)
        return ok(None, "Flash sale deleted; its allocation went back to the products")

    @post("/{sale_id:uuid}/activate", guards=[admin_only], status_code=200, summary="Start a scheduled sale now")
    async def activate(
        self, sale_id: FromPath[UUID], flash_sales: SalesDep, admin_pool: AdminPoolDep, request: AuthedRequest
    ) -> Envelope[FlashSale]:
        if not await flash_sales.activate(sale_id, actor=actor_of(request), pool=admin_pool):
            raise state_conflict("Only a scheduled flash sale can be activated")
        return ok(await flash_sales.get(sale_id, committed=True), "Flash sale activated")

    @post("/{sale_id:uuid}/end", guards=[admin_only], status_code=200, summary="End a sale now (unsold units return)")
    async def end(
        self, sale_id: FromPath[UUID], flash_sales: SalesDep, admin_pool: AdminPoolDep, request: AuthedRequest
    ) -> Envelope[FlashSale]:
        if not await flash_sales.end(sale_id, actor=actor_of(request), pool=admin_pool):
            raise state_conflict("The flash sale has already ended")
        return ok(await flash_sales.get(sale_id, committed=True), "Flash sale ended")

    @post("/{sale_id:uuid}/purchases", summary="Buy at the flash price (requires Idempotency-Key)")
    async def purchase(
        self,
        sale_id: FromPath[UUID],
        data: JSONBody[PurchaseCreate],
        idempotency_key: IdempotencyKey,
        purchases: PurchasesDep,
        request: AuthedRequest,
    ) -> Response[Envelope[Purchase]]:
        if (edge_failure := request.scope["state"].get(EDGE_ERROR)) is not None:  # raised on the lean edge
            raise edge_failure
        check_idempotency_key(idempotency_key)
        reply = first_answer(request, "Purchase confirmed", status=201)
        try:
            purchase, replayed = await purchases.purchase(
                sale_id, data, principal=request.user, idempotency_key=idempotency_key, now=utcnow(), reply=reply
            )
        except Conflict as refused:
            # A storm is mostly refusals: answered here, the same envelope as the exception
            # handler builds, without unwinding through the middleware stack.
            count_purchase(refused.code)
            refusal: Response[Any] = render(refused)  # its schema is every route's error answer's
            return refusal
        except ServiceError as failed:
            count_purchase(failed.code)
            raise
        except Replayed:  # answered by its exception handler: the key's first answer
            count_purchase("replayed")
            raise
        count_purchase("replayed" if replayed else "confirmed")
        if replayed:  # made before its answer was kept (web/replay.py)
            return answered_again(ok(purchase, "Purchase already made with this Idempotency-Key"), status=201)
        return reply.response()

    @get("/purchases/me", summary="The customer's own purchases in every sale, newest first")
    async def own_purchases(
        self,
        flash_sales: SalesDep,
        request: AuthedRequest,
        page: PageDep,
        customer_id: FromQuery[str | None] = None,
    ) -> Envelope[Page[OwnPurchase]]:
        customer = customer_of(request.user, customer_id)
        # The primary: the list shows the purchase just made.
        fetch = partial(repository.list_own_purchases, customer_id=customer)
        return ok(
            await fetch_page(flash_sales.pool, "own-flash-purchases", fetch, page, own_purchase_from_row, NEWEST_FIRST)
        )

    @get("/{sale_id:uuid}/purchases/me", summary="What the customer bought and may still buy")
    async def mine(
        self,
        sale_id: FromPath[UUID],
        purchases: PurchasesDep,
        request: AuthedRequest,
        customer_id: FromQuery[str | None] = None,
    ) -> Envelope[CustomerPurchases]:
        return ok(await purchases.mine(sale_id, principal=request.user, customer_id=customer_id))

    @get("/{sale_id:uuid}/purchases", guards=[admin_only], summary="The sale's purchases, newest first")
    async def list_purchases(
        self,
        sale_id: FromPath[UUID],
        flash_sales: SalesDep,
        page: PageDep,
    ) -> Envelope[Page[Purchase]]:
        before = decode_cursor(page.cursor, tuple[datetime, UUID], "flash-sale-purchases")
        async with flash_sales.reads.for_read().acquire() as conn:
            if await repository.get_sale(conn, sale_id=sale_id) is None:
                raise NotFound(f"flash sale {sale_id} not found")
            rows = await repository.list_purchases(conn, sale_id=sale_id, before=before, limit=page.limit)
        return ok(
            page_of(
                rows,
                "flash-sale-purchases",
                limit=page.limit,
                key=lambda r: (r["created_at"], r["id"]),
                item=purchase_from_row,
            )
        )

    @post("/{sale_id:uuid}/reconcile", guards=[admin_only], status_code=200, summary="Rebuild counters from the ledger")
    async def reconcile(self, sale_id: FromPath[UUID], flash_sales: SalesDep) -> Envelope[ReconcileReport]:
        report = await flash_sales.reconcile(sale_id)
        message = f"{len(report.corrections)} counter(s) corrected" if report.corrections else "No drift"
        return ok(report, message)

    @get("/{sale_id:uuid}/stats", guards=[admin_only], summary="Background summary of a sale (from the ledger)")
    async def stats(self, sale_id: FromPath[UUID], flash_sales: SalesDep) -> Envelope[SaleStats]:
        async with flash_sales.pool.acquire() as conn:
            if await repository.get_sale(conn, sale_id=sale_id) is None:
                raise NotFound(f"flash sale {sale_id} not found")
            row = await repository.get_stats(conn, sale_id=sale_id)
        if row is None:
            await flash_sales.refresh_summaries(sale_id)
            async with flash_sales.pool.acquire() as conn:
                row = await repository.get_stats(conn, sale_id=sale_id)
        assert row is not None
        return ok(stats_from_row(row))

"""HTTP: /api/v1/orders/{id}/edits — preview an order edit, and commit it (idempotent)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from quote_service.auth.guards import requires_role
from quote_service.clock import utcnow
from quote_service.order_edits.schemas import EditCommit, EditCreate, EditPreview
from quote_service.order_edits.service import OrderEdits
from quote_service.orders.schemas import Order
from quote_service.web.deps import (
    AuthedRequest,
    ConfigStoreDep,
    IdempotencyKey,
    ProductCacheDep,
    actor_of,
    check_idempotency_key,
)
from quote_service.web.envelope import Envelope, ok
from quote_service.web.replay import answered_again, first_answer


class OrderEditController(Controller):
    path = "/api/v1/orders/{order_id:uuid}/edits"
    tags = ["orders"]
    # The order's customer, the client that placed it, or an admin (docs/orders-and-refunds.md#who-may-edit).
    guards = [requires_role("admin", "user", "service")]

    @post("/", summary="Preview an edit of an order (add, remove, replace, shipping), priced under the order's terms")
    async def preview(
        self,
        order_id: FromPath[UUID],
        data: JSONBody[EditCreate],
        order_edits: NamedDependency[OrderEdits],
        request: AuthedRequest,
    ) -> Envelope[EditPreview]:
        preview = await order_edits.preview(
            order_id, data, principal=request.user, actor=actor_of(request), now=utcnow()
        )
        return ok(preview, "Edit previewed")

    @post(
        "/{edit_id:uuid}/commit",
        status_code=200,
        summary="Commit a previewed edit: the order's next revision (requires Idempotency-Key)",
    )
    async def commit(
        self,
        order_id: FromPath[UUID],
        edit_id: FromPath[UUID],
        idempotency_key: IdempotencyKey,
        order_edits: NamedDependency[OrderEdits],
        product_cache: ProductCacheDep,
        config_store: ConfigStoreDep,
        request: AuthedRequest,
        data: JSONBody[EditCommit | None] = None,
    ) -> Response[Envelope[Order]]:
        check_idempotency_key(idempotency_key)
        reply = first_answer(request, "Order edited", status=200)
        order, replayed = await order_edits.commit(
            order_id, edit_id, principal=request.user, actor=actor_of(request), key=idempotency_key, now=utcnow(),
            reply=reply,
        )  # fmt: skip
        if replayed:  # committed before its answer was kept (web/replay.py)
            return answered_again(ok(order, "Edit already committed with this Idempotency-Key"), status=200)
        # Stock moved (inventory repricing may have moved a price); a promotion's budget may have too.
        await product_cache.invalidate({line.product_id for line in order.items if line.price_source != "request"})
        await config_store.follow("order_edits")
        return reply.response()

"""HTTP: /api/v1/webhooks (admin): subscriptions, secret rotation, deliveries and their retry."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.auth.guards import AdminController
from quote_service.config import Settings
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, PageQuery, decode_cursor, fetch_page, page_of
from quote_service.periods import instant_bounds
from quote_service.pricing.local_time import zone
from quote_service.web.deps import AdminPoolDep, AuthedRequest, PoolDep, actor_of
from quote_service.web.envelope import Envelope, ok
from quote_service.webhooks import repository, service
from quote_service.webhooks.schemas import (
    Delivery,
    DeliveryStatus,
    Replayed,
    ReplayRequest,
    TestResult,
    Webhook,
    WebhookCreate,
    WebhookPatch,
    WebhookWithSecret,
)
from quote_service.webhooks.transport import Sender

SettingsDep = NamedDependency[Settings]


def _look_now(state: State) -> None:
    """Deliveries are due now: this process's sender looks at once (no wait for its next pass)."""
    dispatcher: Any = state.get("webhook_dispatcher")
    if dispatcher is not None:
        dispatcher.wake()


class WebhookController(AdminController):
    path = "/api/v1/webhooks"

    @post("/", summary="Subscribe a URL to events (the answer carries the signing secret, shown this once)")
    async def create(
        self, data: JSONBody[WebhookCreate], admin_pool: AdminPoolDep, settings: SettingsDep, request: AuthedRequest
    ) -> Envelope[WebhookWithSecret]:
        created = await service.create_webhook(
            admin_pool, data, actor=actor_of(request), allow_private=settings.webhook_allow_private
        )
        return ok(created, "Webhook created: store its secret now, it is not shown again")

    @get("/", summary="Webhook subscriptions, oldest first (keyset-paginated)")
    async def list_webhooks(
        self, pool: PoolDep, limit: FromQuery[Limit] = DEFAULT_LIMIT, cursor: FromQuery[str | None] = None
    ) -> Envelope[Page[Webhook]]:
        page = PageQuery(limit, cursor)
        return ok(await fetch_page(pool, "webhooks", repository.list_webhooks, page, service.webhook_from_row))

    @get("/{webhook_id:uuid}", summary="One webhook subscription (never its secret)")
    async def get_webhook(self, webhook_id: FromPath[UUID], pool: PoolDep) -> Envelope[Webhook]:
        return ok(await service.get_webhook(pool, webhook_id))

    @put("/{webhook_id:uuid}", summary="Replace a subscription's url, events, description and is_active")
    async def replace(
        self,
        webhook_id: FromPath[UUID],
        data: JSONBody[WebhookCreate],
        admin_pool: AdminPoolDep,
        settings: SettingsDep,
        request: AuthedRequest,
    ) -> Envelope[Webhook]:
        updated = await service.replace_webhook(
            admin_pool, webhook_id, data, actor=actor_of(request), allow_private=settings.webhook_allow_private
        )
        return ok(updated, "Webhook updated")

    @patch("/{webhook_id:uuid}", summary="Change the fields sent")
    async def change(
        self,
        webhook_id: FromPath[UUID],
        data: JSONBody[WebhookPatch],
        admin_pool: AdminPoolDep,
        settings: SettingsDep,
        request: AuthedRequest,
    ) -> Envelope[Webhook]:
        updated = await service.patch_webhook(
            admin_pool, webhook_id, data, actor=actor_of(request), allow_private=settings.webhook_allow_private
        )
        return ok(updated, "Webhook updated")

    @delete("/{webhook_id:uuid}", status_code=200, summary="Delete a subscription and its deliveries")
    async def remove(self, webhook_id: FromPath[UUID], admin_pool: AdminPoolDep) -> Envelope[Webhook]:
        return ok(await service.delete_webhook(admin_pool, webhook_id), "Webhook deleted")

    @post(
        "/{webhook_id:uuid}/rotate-secret",
        status_code=200,
        summary="Issue a new signing secret; the previous one keeps signing for WEBHOOK_SECRET_OVERLAP",
    )
    async def rotate(
        self, webhook_id: FromPath[UUID], admin_pool: AdminPoolDep, settings: SettingsDep, request: AuthedRequest
    ) -> Envelope[WebhookWithSecret]:
        rotated = await service.rotate_secret(
            admin_pool, webhook_id, actor=actor_of(request), overlap_seconds=settings.webhook_secret_overlap
        )
        return ok(rotated, "Secret rotated: store the new one now, it is not shown again")

    @get("/{webhook_id:uuid}/deliveries", summary="A subscription's deliveries, newest first")
    async def deliveries(
        self,
        webhook_id: FromPath[UUID],
        pool: PoolDep,
        settings: SettingsDep,
        status: FromQuery[DeliveryStatus | None] = None,
        type: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Envelope[Page[Delivery]]:
        before = decode_cursor(cursor, tuple[datetime, UUID], "webhook-deliveries")
        # `since`/`until` as every list's time filter: a local date or an RFC 3339 instant, never a number.
        start, end = instant_bounds(since, until, zone(settings.business_timezone), names=("since", "until"))
        await service.get_webhook(pool, webhook_id)  # 404 for an unknown subscription
        async with pool.acquire() as conn:
            rows = await repository.list_deliveries(
                conn,
                webhook_id=webhook_id,
                status=status,
                event_type=type,
                since=start,
                until=end,
                before=before,
                limit=limit,
            )
        key = lambda r: (r["created_at"], r["id"])  # noqa: E731
        return ok(page_of(rows, "webhook-deliveries", limit=limit, key=key, item=service.delivery_from_row))

    @post(
        "/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/retry",
        status_code=200,
        summary="Send a failed (or delivered) delivery again, under the same webhook-id",
    )
    async def retry(
        self, webhook_id: FromPath[UUID], delivery_id: FromPath[UUID], pool: PoolDep, state: State
    ) -> Envelope[Delivery]:
        delivery = await service.send_again(pool, webhook_id, delivery_id)
        _look_now(state)
        return ok(delivery, "Delivery queued to be sent again")

    @post(
        "/{webhook_id:uuid}/replay",
        status_code=200,
        summary="Send again every committed event of a window, under the original webhook-ids",
    )
    async def replay(
        self, webhook_id: FromPath[UUID], data: JSONBody[ReplayRequest], pool: PoolDep, state: State
    ) -> Envelope[Replayed]:
        replayed = await service.replay(pool, webhook_id, data)
        _look_now(state)
        return ok(replayed, f"{replayed.replayed} deliveries queued to be sent again")

    @post("/{webhook_id:uuid}/test", status_code=200, summary="Send a webhook.test ping now; the receiver's answer")
    async def test(
        self, webhook_id: FromPath[UUID], pool: PoolDep, settings: SettingsDep, state: State
    ) -> Envelope[TestResult]:
        dispatcher: Any = state.get("webhook_dispatcher")
        if dispatcher is not None:
            result = await service.send_test(pool, webhook_id, dispatcher.sender)
        else:
            sender = Sender(
                timeout=settings.webhook_timeout, allow_private=settings.webhook_allow_private, max_connections=1
            )
            try:
                result = await service.send_test(pool, webhook_id, sender)
            finally:
                await sender.close()
        answered = f"HTTP {result.status_code}" if result.status_code is not None else result.error
        return ok(result, f"The receiver answered the ping: {answered}")

"""How webhook deliveries behave when receivers misbehave (docs/webhooks.md#delivery): retries
under one webhook-id, `failed`, sending again, redirects, slow receivers, rotated secrets,
addresses checked again at delivery time, the deliveries listing, metrics."""

from __future__ import annotations

import time
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from quote_service.app import create_app
from quote_service.config import Settings
from quote_service.webhooks.dispatcher import WebhookDispatcher
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import buy, new_sale
from tests.integration.webhooks.test_webhooks_api import (
    WEBHOOKS,
    deliveries,
    place_order,
    receiver,
    settings,
    subscribe,
)
from tests.waiting import until
from tests.webhook_receiver import Receiver, receiving

Client = AsyncTestClient[Litestar]
__all__ = ["receiver", "settings"]  # the fixtures, shared with test_webhooks_api


async def coupon_created(client: Client, admin: Caller, code: str) -> None:
    body = {"code": code, "type": "PERCENTAGE", "value": "5", "valid_from": "2024-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=body, headers=admin.headers), 201)


async def only_delivery(client: Client, admin: Caller, webhook_id: str) -> dict[str, Any]:
    [row] = (await deliveries(client, admin, webhook_id))["items"]
    return dict(row)


async def test_a_refused_delivery_is_retried_under_one_id_then_failed_and_sent_again_by_hand(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    receiver.status = 500
    receiver.answer = b"Traceback: db password hunter2 at 10.0.0.7"
    hook = await subscribe(client, admin, receiver.url(), ["config.changed"])
    await coupon_created(client, admin, "RETRY1")

    async def failed() -> bool:
        return bool((await only_delivery(client, admin, hook["id"]))["status"] == "failed")

    await until(failed, "the delivery failed after the last attempt of WEBHOOK_RETRY_SCHEDULE")
    row = await only_delivery(client, admin, hook["id"])
    assert (row["attempts"], row["last_status_code"], row["next_attempt_at"]) == (3, 500, None)
    assert row["last_error"] == "HTTP 500 Internal Server Error", "the status and its reason, not the receiver's body"
    assert len(receiver.snapshot()) == 3
    assert {r.webhook_id for r in receiver.snapshot()} == {row["id"]}
    listed = await deliveries(client, admin, hook["id"], status="failed")
    assert [d["id"] for d in listed["items"]] == [row["id"]]
    assert (await deliveries(client, admin, hook["id"], status="pending"))["items"] == []

    receiver.status = 200
    again = expect_ok(await client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{row['id']}/retry", headers=admin.headers))
    assert again["status"] == "pending"

    async def delivered() -> bool:
        return bool((await only_delivery(client, admin, hook["id"]))["status"] == "delivered")

    await until(delivered, "the delivery sent again")
    row = await only_delivery(client, admin, hook["id"])
    assert (row["attempts"], row["total_attempts"], row["last_status_code"], row["last_error"]) == (1, 4, 200, None), (
        "sent again by hand: a fresh count of attempts"
    )
    received = receiver.snapshot()
    assert len(received) == 4
    assert {r.webhook_id for r in received} == {row["id"]}, "one webhook-id across every attempt"
    assert len({r.body for r in received}) == 1, "the same body every time"
    payloads = receiver.verified(hook["secret"])
    data = payloads[-1]["data"]
    assert data == {"sequence": data["sequence"], "entity_type": "coupon", "entity_id": "RETRY1", "action": "create"}


async def test_a_redirect_is_not_followed(client: Client, admin: Caller, receiver: Receiver) -> None:
    with receiving() as elsewhere:
        receiver.status, receiver.location = 302, elsewhere.url()
        hook = await subscribe(client, admin, receiver.url(), ["config.changed"])
        await coupon_created(client, admin, "MOVED1")

        async def failed() -> bool:
            return bool((await only_delivery(client, admin, hook["id"]))["status"] == "failed")

        await until(failed, "the redirected delivery failed")
        assert (await only_delivery(client, admin, hook["id"]))["last_status_code"] == 302
        assert elsewhere.snapshot() == []


async def test_a_hanging_receiver_holds_back_neither_orders_nor_other_subscriptions(
    settings: Settings, admin: Caller
) -> None:
    slow_settings = msgspec.structs.replace(
        settings, webhook_timeout=20.0, webhook_lease_seconds=30.0, webhook_endpoint_concurrency=2
    )
    with receiving() as hanging, receiving() as healthy:
        hanging.hold()
        async with AsyncTestClient(app=create_app(slow_settings)) as client:
            key = expect_ok(await client.post("/api/v1/api-keys", json={"name": "co"}, headers=admin.headers), 201)
            service_key = {"X-API-Key": key["key"]}
            await subscribe(client, admin, hanging.url(), ["order.created"])
            hook = await subscribe(client, admin, healthy.url(), ["order.created"])
            started = time.monotonic()
            for _ in range(6):
                await place_order(client, admin, service_key)
            await until(lambda: len(healthy.snapshot()) == 6, "every order at the healthy receiver", within=10)
            took = time.monotonic() - started
            assert len(hanging.snapshot()) == 2, "WEBHOOK_ENDPOINT_CONCURRENCY requests held open, no more"
            assert took < slow_settings.webhook_timeout, "nothing waited for the hanging receiver"
            assert len(healthy.verified(hook["secret"])) == 6
            hanging.release()


async def test_during_a_rotation_both_secrets_sign(client: Client, admin: Caller, receiver: Receiver) -> None:
    hook = await subscribe(client, admin, receiver.url(), ["config.changed"])
    rotated = expect_ok(await client.post(f"{WEBHOOKS}/{hook['id']}/rotate-secret", headers=admin.headers))
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != hook["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    await coupon_created(client, admin, "ROTATE1")
    await until(lambda: len(receiver.snapshot()) == 1, "the delivery")
    [got] = receiver.snapshot()
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert receiver.verified(hook["secret"]) == receiver.verified(rotated["secret"])
    shown = expect_ok(await client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin.headers))
    assert "secret" not in shown
    assert shown["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]


async def test_without_an_overlap_only_the_new_secret_signs(
    settings: Settings, admin: Caller, receiver: Receiver
) -> None:
    async with AsyncTestClient(app=create_app(msgspec.structs.replace(settings, webhook_secret_overlap=0))) as client:
        hook = await subscribe(client, admin, receiver.url(), ["config.changed"])
        rotated = expect_ok(await client.post(f"{WEBHOOKS}/{hook['id']}/rotate-secret", headers=admin.headers))
        assert rotated["previous_secret_expires_at"] is None
        await coupon_created(client, admin, "ROTATE2")
        await until(lambda: len(receiver.snapshot()) == 1, "the delivery")
    assert len(receiver.verified(rotated["secret"])) == 1
    [got] = receiver.snapshot()
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(hook["secret"]).verify(got.body, got.headers)


async def test_addresses_are_checked_again_at_delivery_and_a_pending_delivery_is_not_sent_twice_by_hand(
    settings: Settings, admin: Caller, receiver: Receiver, pool: asyncpg.Pool
) -> None:
    """A name allowed when saved that now resolves to a loopback address (as with DNS rebinding)
    is refused when the delivery is sent, and retried; nothing reaches the receiver."""
    quiet = msgspec.structs.replace(settings, webhook_poll_interval=0)
    async with AsyncTestClient(app=create_app(quiet)) as client:
        hook = await subscribe(client, admin, f"http://localhost:{receiver.port}/hook", ["config.changed"])
        await coupon_created(client, admin, "REBIND1")
        row = await only_delivery(client, admin, hook["id"])
        refused = expect_error(
            await client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{row['id']}/retry", headers=admin.headers),
            409,
            "WEBHOOK_DELIVERY_PENDING",
        )
        assert row["id"] in refused["message"]
        strict = WebhookDispatcher(pool, msgspec.structs.replace(settings, webhook_allow_private=False))
        strict.start()
        try:

            async def refused_at_delivery() -> bool:
                return (await only_delivery(client, admin, hook["id"]))["last_error"] is not None

            await until(refused_at_delivery, "the attempt refused")
        finally:
            await strict.stop()
        row = await only_delivery(client, admin, hook["id"])
        assert row["last_error"] == "address refused: localhost resolves to a loopback address", (
            "the kind of address, never the address a name resolved to"
        )
        assert row["last_status_code"] is None
        assert receiver.snapshot() == []


async def test_the_deliveries_listing_pages_and_filters(client: Client, admin: Caller, receiver: Receiver) -> None:
    hook = await subscribe(client, admin, receiver.url(), ["*"])
    for n in range(3):
        await coupon_created(client, admin, f"PAGE{n}")
    await until(lambda: len(receiver.snapshot()) == 3, "three deliveries")
    first = await deliveries(client, admin, hook["id"], limit=2)
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = await deliveries(client, admin, hook["id"], limit=2, cursor=first["next_cursor"])
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    ids = [d["id"] for d in first["items"] + second["items"]]
    assert len(set(ids)) == 3
    created = [d["created_at"] for d in first["items"] + second["items"]]
    assert created == sorted(created, reverse=True), "newest first"
    assert len((await deliveries(client, admin, hook["id"], type="config.changed"))["items"]) == 3
    assert (await deliveries(client, admin, hook["id"], type="order.created"))["items"] == []
    bad_cursor = await client.get(
        f"{WEBHOOKS}/{hook['id']}/deliveries", params={"cursor": "nope"}, headers=admin.headers
    )
    assert field_errors(expect_error(bad_cursor, 422, "VALIDATION_FAILED")) == {
        "cursor": "not a cursor returned by this list"
    }
    bad_status = await client.get(
        f"{WEBHOOKS}/{hook['id']}/deliveries", params={"status": "lost"}, headers=admin.headers
    )
    assert "status" in field_errors(expect_error(bad_status, 422, "VALIDATION_FAILED"))


async def test_sold_out_flash_items_and_rolled_back_experiments_are_announced(
    client: Client, admin: Caller, shopper: Caller, receiver: Receiver, pool: asyncpg.Pool
) -> None:
    hook = await subscribe(client, admin, receiver.url(), ["flash_sale.sold_out", "experiment.rolled_back"])
    sale, product = await new_sale(client, admin, item={"allocated_stock": 2, "per_user_limit": 2})
    expect_ok(await buy(client, shopper.headers, sale, quantity=1), 201)
    expect_ok(await buy(client, shopper.headers, sale, quantity=1), 201)
    flag = {"key": "checkout-test", "name": "Checkout test", "type": "BOOLEAN", "value": True}
    created = expect_ok(await client.post("/api/v1/feature-flags", json=flag, headers=admin.headers), 201)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('quote_service.flag_change_reason', 'guardrail: revenue', true)")
        await conn.execute("UPDATE feature_flags SET rolled_back_at = now() WHERE id = $1", uuid.UUID(created["id"]))
    await until(lambda: len(receiver.snapshot()) == 2, "both events")
    by_type = {p["type"]: p["data"] for p in receiver.verified(hook["secret"])}
    sold_out = by_type["flash_sale.sold_out"]
    assert (sold_out["flash_sale_id"], sold_out["product_id"], sold_out["sold"]) == (sale["id"], product["id"], 2)
    rolled_back = by_type["experiment.rolled_back"]
    assert (rolled_back["key"], rolled_back["reason"]) == ("checkout-test", "guardrail: revenue")


def series_value(text: str, series: str) -> float:
    """The value of one series in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_deliveries_and_the_oldest_pending_age(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    delivered = 'qs_webhook_deliveries_total{result="delivered"}'
    before = series_value((await client.get("/metrics", headers=admin.headers)).text, delivered)
    await subscribe(client, admin, receiver.url(), ["config.changed"])
    await coupon_created(client, admin, "METRIC1")
    await until(lambda: len(receiver.snapshot()) == 1, "the delivery")

    async def counted() -> bool:
        text = (await client.get("/metrics", headers=admin.headers)).text
        return series_value(text, delivered) == before + 1

    await until(counted, "the delivery counted")
    text = (await client.get("/metrics", headers=admin.headers)).text
    for series in ('qs_webhook_attempts_total{result="delivered"}', "qs_webhook_oldest_pending_seconds"):
        assert series in text

"""Webhooks over HTTP (docs/webhooks.md), on real PostgreSQL and Redis, sent to a real receiver.

Every delivery a test looks at is checked by the `standardwebhooks` library itself against the
secret the API handed out (tests/webhook_receiver.py), never by a signature computed here.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from quote_service.webhooks import events
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.waiting import until
from tests.webhook_receiver import Receiver, receiving

Client = AsyncTestClient[Litestar]
WEBHOOKS = "/api/v1/webhooks"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Receivers on 127.0.0.1, and retries fast enough for a test to watch them."""
    return msgspec.structs.replace(
        settings,
        webhook_allow_private=True,
        webhook_poll_interval=0.05,
        webhook_timeout=1.0,
        webhook_lease_seconds=3.0,
        webhook_retry_schedule="0,0.05,0.1",
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


async def subscribe(client: Client, admin: Caller, url: str, types: list[str], **more: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(
        await client.post(WEBHOOKS, json={"url": url, "events": types, **more}, headers=admin.headers), 201
    )
    return data


async def place_order(client: Client, admin: Caller, buyer: dict[str, str], quantity: int = 1) -> dict[str, Any]:
    product = await create_product(client, admin, stock=100)
    body = {
        "customer_id": "c-1",
        "currency": "TRY",
        "items": [{"product_id": product["id"], "quantity": quantity}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=buyer))
    headers = {**buyer, "Idempotency-Key": uuid.uuid4().hex}
    order: dict[str, Any] = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers), 201
    )
    return order


async def deliveries(client: Client, admin: Caller, webhook_id: str, **query: Any) -> dict[str, Any]:
    page: dict[str, Any] = expect_ok(
        await client.get(f"{WEBHOOKS}/{webhook_id}/deliveries", params=query, headers=admin.headers)
    )
    return page


# --- subscriptions ---------------------------------------------------------------------------


async def test_a_subscription_shows_its_secret_once_in_the_standard_webhooks_format(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    created = await subscribe(client, admin, receiver.url(), ["order.created"], description="ERP")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert created["events"] == ["order.created"]
    assert created["is_active"] is True
    assert created["previous_secret_expires_at"] is None

    shown = expect_ok(await client.get(f"{WEBHOOKS}/{created['id']}", headers=admin.headers))
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    listed = expect_ok(await client.get(WEBHOOKS, headers=admin.headers))
    assert [w["id"] for w in listed["items"]] == [created["id"]]
    assert "secret" not in listed["items"][0]

    replaced = expect_ok(
        await client.put(
            f"{WEBHOOKS}/{created['id']}",
            json={"url": receiver.url("/v2"), "events": ["*"], "is_active": False},
            headers=admin.headers,
        )
    )
    assert (replaced["url"], replaced["events"], replaced["is_active"]) == (receiver.url("/v2"), ["*"], False)
    assert replaced["description"] is None
    patched = expect_ok(
        await client.patch(f"{WEBHOOKS}/{created['id']}", json={"is_active": True}, headers=admin.headers)
    )
    assert (patched["url"], patched["is_active"]) == (receiver.url("/v2"), True)

    expect_ok(await client.delete(f"{WEBHOOKS}/{created['id']}", headers=admin.headers))
    expect_error(await client.get(f"{WEBHOOKS}/{created['id']}", headers=admin.headers), 404, "NOT_FOUND")


async def test_bad_subscriptions_are_refused_naming_the_field(client: Client, admin: Caller) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": "ftp://example.com/hook", "events": ["order.created"]}, "url"),
        ({"url": "not a url", "events": ["order.created"]}, "url"),
        ({"url": "https://user:pw@example.com/hook", "events": ["order.created"]}, "url"),
        ({"url": "https://example.com/hook", "events": ["order.shipped"]}, "events[0]"),
        ({"url": "https://example.com/hook", "events": ["order.created", "nope"]}, "events[1]"),
    ]
    for body, field in cases:
        refused = expect_error(await client.post(WEBHOOKS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
        assert field in field_errors(refused), (body, refused)
    empty = await client.post(WEBHOOKS, json={"url": "https://example.com/h", "events": []}, headers=admin.headers)
    assert empty.status_code == 422, empty.text
    unknown_field = await client.post(
        WEBHOOKS, json={"url": "https://example.com/h", "events": ["*"], "secret": "x"}, headers=admin.headers
    )
    assert unknown_field.status_code in (400, 422), unknown_field.text
    missing = uuid.uuid4()
    expect_error(await client.get(f"{WEBHOOKS}/{missing}", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.post(f"{WEBHOOKS}/{missing}/rotate-secret", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(
        await client.post(f"{WEBHOOKS}/{missing}/deliveries/{uuid.uuid4()}/retry", headers=admin.headers),
        404,
        "NOT_FOUND",
    )
    expect_error(await client.get(f"{WEBHOOKS}/{missing}/deliveries", headers=admin.headers), 404, "NOT_FOUND")


async def test_only_admins_manage_webhooks(client: Client, shopper: Caller, service_key: dict[str, str]) -> None:
    for headers in (shopper.headers, service_key):
        expect_error(await client.get(WEBHOOKS, headers=headers), 403, "FORBIDDEN")
        body = {"url": "https://example.com/hook", "events": ["*"]}
        expect_error(await client.post(WEBHOOKS, json=body, headers=headers), 403, "FORBIDDEN")


async def test_a_private_target_is_refused_unless_the_deployment_allows_it(
    client: Client, settings: Settings, admin: Caller
) -> None:
    """WEBHOOK_ALLOW_PRIVATE reaches the API (which addresses are private, in every spelling, is
    the unit tests' part: tests/unit/webhooks/)."""
    url = "http://127.0.0.1:9/hook"
    strict = msgspec.structs.replace(settings, webhook_allow_private=False, webhook_poll_interval=0)
    async with AsyncTestClient(app=create_app(strict)) as strict_client:
        refused = expect_error(
            await strict_client.post(WEBHOOKS, json={"url": url, "events": ["*"]}, headers=admin.headers),
            422,
            "VALIDATION_FAILED",
        )
        assert "WEBHOOK_ALLOW_PRIVATE" in field_errors(refused)["url"]
    assert (await subscribe(client, admin, url, ["*"]))["url"] == url  # this module's settings allow it


# --- deliveries ------------------------------------------------------------------------------


async def test_an_order_is_delivered_signed_and_verifiable_by_standard_webhooks(
    client: Client, admin: Caller, service_key: dict[str, str], receiver: Receiver
) -> None:
    hook = await subscribe(client, admin, receiver.url(), ["order.created"])
    other = await subscribe(client, admin, receiver.url("/prices"), ["product.price_changed"])
    order = await place_order(client, admin, service_key, quantity=2)

    await until(lambda: len(receiver.snapshot()) >= 1, "the order.created delivery")
    [payload] = receiver.verified(hook["secret"])
    assert payload["type"] == "order.created"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"]["order"]["id"] == order["id"]
    assert payload["data"]["order"]["total_amount"] == order["total_amount"]
    assert payload["data"]["order"]["items"][0]["quantity"] == 2
    [got] = receiver.snapshot()
    assert got.path == "/hook"
    assert got.headers["content-type"] == "application/json"

    async def delivered() -> bool:
        page = await deliveries(client, admin, hook["id"])
        return bool(page["items"]) and page["items"][0]["status"] == "delivered"

    await until(delivered, "the delivery recorded as delivered")
    [row] = (await deliveries(client, admin, hook["id"]))["items"]
    assert row["id"] == got.webhook_id
    assert (row["type"], row["attempts"], row["last_status_code"], row["next_attempt_at"]) == (
        "order.created",
        1,
        200,
        None,
    )
    assert (await deliveries(client, admin, other["id"]))["items"] == [], "no price moved"


async def test_a_rolled_back_change_sends_nothing(
    client: Client, admin: Caller, receiver: Receiver, pool: asyncpg.Pool, settings: Settings
) -> None:
    await subscribe(client, admin, receiver.url(), ["*"])
    product = await create_product(client, admin)

    class Abandoned(Exception):
        pass

    async def change_then_roll_back() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await events.emit(conn, "order.created", {"order": {"id": "never"}})
            await conn.fetchval("SELECT move_price($1, 30.00, 'manual', 'try', 'test', NULL)", uuid.UUID(product["id"]))
            assert await conn.fetchval("SELECT count(*) FROM webhook_deliveries") == 2
            raise Abandoned

    with pytest.raises(Abandoned):
        await change_then_roll_back()
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 0
    assert await pool.fetchval("SELECT count(*) FROM webhook_events") == 0
    assert receiver.snapshot() == []


async def test_each_event_type_reaches_the_subscriptions_that_asked_for_it(
    client: Client, admin: Caller, service_key: dict[str, str], receiver: Receiver, pool: asyncpg.Pool
) -> None:
    everything = await subscribe(client, admin, receiver.url("/all"), ["*"])
    orders_only = await subscribe(client, admin, receiver.url("/orders"), ["order.created", "order.cancelled"])
    order = await place_order(client, admin, service_key)
    cancel = await client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={}, headers={**admin.headers, "Idempotency-Key": "c1"}
    )
    expect_ok(cancel)
    refunded = await place_order(client, admin, service_key, quantity=2)
    product_id = refunded["items"][0]["product_id"]
    refund = await client.post(
        f"/api/v1/orders/{refunded['id']}/refunds",
        json={"lines": [{"product_id": product_id, "quantity": 1}], "reason": "damaged"},
        headers={**admin.headers, "Idempotency-Key": "r1"},
    )
    refund_data = expect_ok(refund, 201)
    coupon = {"code": "HOOK10", "type": "PERCENTAGE", "value": "10", "valid_from": "2024-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=coupon, headers=admin.headers), 201)
    expect_ok(await client.delete("/api/v1/coupons/HOOK10", headers=admin.headers))
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT move_price($1, 27.00, 'campaign', 'spring', 'test', NULL)", uuid.UUID(product_id))
        await conn.execute(
            """INSERT INTO reservations (quote_id, customer_id, principal_kind, principal_id, expires_at, lines)
               VALUES ($1, 'c-9', 'user', $1, now() - interval '1 second', '[]'::jsonb)""",
            uuid.uuid4(),
        )
        await conn.execute("UPDATE reservations SET status = 'expired', closed_at = now()")

    expected = {
        "order.created": 2,
        "order.cancelled": 1,
        "order.refunded": 1,
        "product.price_changed": 1,
        "config.changed": 2,
        "reservation.expired": 1,
    }

    def at(path: str) -> list[Any]:
        return [r for r in receiver.snapshot() if r.path == path]

    await until(lambda: len(at("/all")) >= sum(expected.values()) and len(at("/orders")) >= 3, "every event")
    all_payloads = receiver.verified(everything["secret"], path="/all")
    assert len(receiver.verified(orders_only["secret"], path="/orders")) == 3
    counts: dict[str, int] = {}
    for payload in all_payloads:
        counts[payload["type"]] = counts.get(payload["type"], 0) + 1
    assert counts == expected
    by_type = {p["type"]: p["data"] for p in all_payloads}
    assert by_type["order.cancelled"]["order"]["status"] == "cancelled"
    assert by_type["order.refunded"]["refund"]["id"] == refund_data["id"]
    assert by_type["order.refunded"]["order"]["status"] == "partially_refunded"
    moved = by_type["product.price_changed"]
    assert (moved["product_id"], moved["new_price"], moved["source"], moved["reason"]) == (
        product_id,
        "27.00",
        "campaign",
        "spring",
    )
    # Up to 4 deliveries to one subscription are in flight at once: they can arrive in any order,
    # and `data.sequence` orders one resource's events (docs/webhooks.md#the-order-of-events).
    changes = [p["data"] for p in all_payloads if p["type"] == "config.changed"]
    changes = [{k: v for k, v in c.items() if k != "sequence"} for c in sorted(changes, key=lambda c: c["sequence"])]
    assert changes == [
        {"entity_type": "coupon", "entity_id": "HOOK10", "action": "create"},
        {"entity_type": "coupon", "entity_id": "HOOK10", "action": "delete"},
    ]
    assert by_type["reservation.expired"]["customer_id"] == "c-9"
    assert sorted(msgspec.json.decode(r.body)["type"] for r in at("/orders")) == [
        "order.cancelled",
        "order.created",
        "order.created",
    ]

"""The receiver's tools (docs/webhooks.md#a-receiver-that-was-down): the test ping, replay's
refusals, and the deliveries listing by time. Replay itself, disabling and the retry schedule are
walked through in test_long_outage.py."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.webhooks.test_webhooks_api import WEBHOOKS, deliveries, receiver, settings, subscribe
from tests.webhook_receiver import Receiver

Client = AsyncTestClient[Litestar]
__all__ = ["receiver", "settings"]


async def test_the_test_ping_is_sent_at_once_signed_and_answers_with_the_receivers_status(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    receiver.status = 204
    hook = await subscribe(client, admin, receiver.url(), ["order.created"], is_active=False)
    answer = expect_ok(await client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=admin.headers))
    assert (answer["delivered"], answer["status_code"], answer["error"]) == (True, 204, None)
    [ping] = receiver.verified(hook["secret"])
    assert ping["type"] == "webhook.test"
    assert ping["data"] == {"webhook_id": hook["id"]}
    assert receiver.snapshot()[0].webhook_id == answer["message_id"]
    assert (await deliveries(client, admin, hook["id"]))["items"] == [], "a ping is no delivery"

    receiver.status = 410
    receiver.answer = b"endpoint retired; internal host erp-7.corp:8443"
    refused = expect_ok(await client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=admin.headers))
    assert (refused["delivered"], refused["status_code"], refused["error"]) == (False, 410, "HTTP 410 Gone"), (
        "the status and its reason, never the receiver's body"
    )
    receiver.stop()
    down = expect_ok(await client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=admin.headers))
    assert (down["delivered"], down["status_code"], down["error"]) == (False, None, "connection refused"), (
        "a reason in a few words, not the OS error naming the address it tried"
    )
    missing = "00000000-0000-0000-0000-000000000000"
    expect_error(await client.post(f"{WEBHOOKS}/{missing}/test", headers=admin.headers), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"since": "2026-01-01T00:00:00Z", "types": ["order.exploded"]}, "types[0]"),
        ({"since": "2026-01-01T00:00:00Z", "types": ["order.created", "product.price_changed"]}, "types[1]"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"since": 1}, "since"),
        ({}, "since"),
        ({"since": "2026-01-01T00:00:00Z", "extra": True}, "extra"),
    ],
)
async def test_a_replay_that_cannot_be_made_is_refused_naming_the_field_and_sends_nothing(
    client: Client, admin: Caller, receiver: Receiver, body: dict[str, Any], field: str
) -> None:
    hook = await subscribe(client, admin, receiver.url(), ["order.created"])
    refused = expect_error(
        await client.post(f"{WEBHOOKS}/{hook['id']}/replay", json=body, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert field in field_errors(refused), refused
    assert (await deliveries(client, admin, hook["id"]))["items"] == []


async def test_the_deliveries_listing_refuses_a_time_that_is_a_number(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    hook = await subscribe(client, admin, receiver.url(), ["order.created"])
    for name in ("since", "until"):
        refused = expect_error(
            await client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", params={name: "1"}, headers=admin.headers),
            422,
            "VALIDATION_FAILED",
        )
        assert name in field_errors(refused)
    page = expect_ok(
        await client.get(
            f"{WEBHOOKS}/{hook['id']}/deliveries",
            params={"since": "2026-01-01", "until": "2026-01-02T00:00:00Z"},
            headers=admin.headers,
        )
    )
    assert page["items"] == []

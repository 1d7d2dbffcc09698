"""An agent key's order events (docs/agents.md#order-events): ACP `order_create` / `order_update`
(validated with the `agentic-commerce-protocol` package's WebhookEvent) reach its webhook URL through
the outbox, once per change and retried until delivered, signed `Merchant-Signature` with the secret
shown at creation; another key's orders send it nothing."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from agentic_commerce_protocol.models.webhook_event import WebhookEvent
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.agent_signing import merchant_signature_valid
from tests.integration.agents.test_agent_keys import agent
from tests.integration.agents.test_agent_orders import placed
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.orders.test_refunds_api import cancel, refund
from tests.integration.price_lists.test_price_list_quotes import basket, key_headers, make_product, priced
from tests.waiting import until
from tests.webhook_receiver import Received, Receiver, receiving

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings, webhook_allow_private=True, webhook_poll_interval=0.05, webhook_retry_schedule="0,0.2,0.2,0.2"
    )


def header(request: Received, name: str) -> str:
    return next(value for key, value in request.headers.items() if key.lower() == name)


async def events(receiver: Receiver, count: int, secret: str) -> list[WebhookEvent]:
    """The `count` events the receiver got, each signed with `secret` and a WebhookEvent, in the order
    they were written (`data.sequence`: deliveries may arrive in another)."""
    await until(lambda: len(receiver.snapshot()) >= count, f"{count} order events delivered")
    got = receiver.snapshot()
    assert len(got) == count
    for request in got:
        assert merchant_signature_valid(header(request, "merchant-signature"), request.body, secret)
    got.sort(key=lambda r: msgspec.json.decode(r.body)["data"]["sequence"])
    return [WebhookEvent.model_validate_json(request.body) for request in got]


async def test_an_agents_orders_send_signed_acp_events_once_each(client: Client, admin: Caller) -> None:
    product = await make_product(client, admin)
    with receiving() as receiver:
        made = await agent(client, admin, webhook_url=receiver.url("/acp/events"))
        headers = {"X-API-Key": made["key"]}
        quote = await priced(client, headers, basket("c-1", product, quantity=3))
        order = await placed(client, headers, quote["quote_id"], "order-1")

        [created] = await events(receiver, 1, made["webhook_secret"])
        assert created.type.value == "order_create"
        assert (created.data.type, created.data.status.value) == ("order", "created")
        assert created.data.checkout_session_id == order["id"]  # placed without a session
        assert created.data.permalink_url == f"/api/v1/orders/{order['id']}"
        assert created.data.refunds == []

        one = {"lines": [{"product_id": product, "quantity": 1}], "reason": "damaged"}
        refunded = expect_ok(await refund(client, admin.headers, order["id"], one), 201)
        second = await placed(
            client, headers, (await priced(client, headers, basket("c-1", product)))["quote_id"], "o-2"
        )
        expect_ok(await cancel(client, admin.headers, second["id"]))
        _, update, created_too, canceled = await events(receiver, 4, made["webhook_secret"])

        assert (update.type.value, update.data.status.value) == ("order_update", "confirmed")
        assert update.data.checkout_session_id == order["id"]
        assert [(r.type.value, r.amount) for r in update.data.refunds] == [
            ("original_payment", int(refunded["total_refunded"].replace(".", "")))
        ]
        assert (created_too.type.value, created_too.data.checkout_session_id) == ("order_create", second["id"])
        assert (canceled.type.value, canceled.data.status.value) == ("order_update", "canceled")
        assert canceled.data.refunds[0].amount == int(second["total_amount"].replace(".", ""))  # all given back
        assert len({header(r, "webhook-id") for r in receiver.snapshot()}) == 4

        # Another key's order is not this agent's to hear of.
        service = await key_headers(client, admin)
        await placed(client, service, (await priced(client, service, basket("c-2", product)))["quote_id"], "o-3")
        assert len(receiver.snapshot()) == 4


async def test_an_event_the_agent_refused_is_sent_again_under_the_same_id(client: Client, admin: Caller) -> None:
    product = await make_product(client, admin)
    with receiving() as receiver:
        receiver.status = 503
        made = await agent(client, admin, webhook_url=receiver.url("/acp/events"))
        headers = {"X-API-Key": made["key"]}
        await placed(client, headers, (await priced(client, headers, basket("c-1", product)))["quote_id"], "o-1")
        await until(lambda: len(receiver.snapshot()) >= 2, "the event refused twice")
        receiver.status = 200

        async def answered() -> Any:
            rows = await client.get("/api/v1/webhooks", headers=admin.headers)
            [hook] = [w for w in expect_ok(rows)["items"] if w["url"] == receiver.url("/acp/events")]
            listed = expect_ok(await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin.headers))
            return listed["items"][0]["status"] == "delivered"

        await until(answered, "the event delivered once the agent answers")

    attempts = receiver.snapshot()
    assert len({header(r, "webhook-id") for r in attempts}) == 1
    assert {r.body for r in attempts} == {attempts[0].body}
    assert all(
        merchant_signature_valid(header(r, "merchant-signature"), r.body, made["webhook_secret"]) for r in attempts
    )

"""A completed checkout session's ACP order event (docs/agents.md#order-events): the agent's webhook URL, a
real HTTP receiver, gets `order_create` for the session's order exactly once, naming the session, however
often the complete is sent again."""

from __future__ import annotations

import msgspec
import pytest
from agentic_commerce_protocol.models.webhook_event import WebhookEvent

from quote_service.config import Settings
from tests.agent_signing import merchant_signature_valid
from tests.integration.agents.test_agent_keys import agent
from tests.integration.checkout_sessions.setup import ADDRESS, Agent, Client, acp_session, market
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.waiting import until
from tests.webhook_receiver import receiving


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings, webhook_allow_private=True, webhook_poll_interval=0.05, webhook_retry_schedule="0,0.2,0.2,0.2"
    )


async def test_a_completed_session_sends_order_create_once(client: Client, admin: Caller) -> None:
    goods = await market(client, admin)
    with receiving() as receiver:
        made = await agent(client, admin, webhook_url=receiver.url("/acp/events"))
        buyer = Agent(client, {"X-API-Key": made["key"]})
        body = {"items": [{"id": goods["a"]["id"], "quantity": 1}], "fulfillment_address": ADDRESS}
        session = acp_session(await buyer.create(body), 201)
        acp_session(await buyer.update(session["id"], {"fulfillment_option_id": "standard"}))
        payment = {"payment_data": {"token": "spt_1", "provider": "stripe"}}
        done = acp_session(await buyer.complete(session["id"], payment, key="complete-1"))
        for _ in range(3):  # replays: the kept answer, no second order nor event
            assert (await buyer.complete(session["id"], payment, key="complete-1")).json() == done

        await until(lambda: len(receiver.snapshot()) >= 1, "the order event delivered")
        orders = expect_ok(await client.get("/api/v1/orders", headers=admin.headers))["items"]
        assert [o["id"] for o in orders] == [done["order"]["id"]]  # one order: one order_create
        [request] = receiver.snapshot()
        event = WebhookEvent.model_validate_json(request.body)
        signature = next(v for k, v in request.headers.items() if k.lower() == "merchant-signature")
        assert merchant_signature_valid(signature, request.body, made["webhook_secret"])
        assert (event.type.value, event.data.status.value) == ("order_create", "created")
        assert event.data.checkout_session_id == session["id"]
        assert event.data.permalink_url.endswith(done["order"]["id"])

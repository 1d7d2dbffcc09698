"""A flash-sale purchase an agent key makes carries the agent as an order placed from its quote does
(docs/agents.md#quotes-and-orders): its order says `channel: agent` and `agent: {name, key_id}`, the agent's
webhook gets its ACP `order_create`, and the agents' analytics count it (docs/agents.md#analytics); a purchase
by any other caller reads as it always did."""

from __future__ import annotations

import msgspec
import pytest
from agentic_commerce_protocol.models.webhook_event import WebhookEvent

from quote_service.config import Settings
from tests.integration.agents.test_agent_keys import agent
from tests.integration.conftest import Caller, maker_of
from tests.integration.expect import expect_ok
from tests.integration.flash import Client, buy, new_sale
from tests.waiting import until
from tests.webhook_receiver import receiving


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings, webhook_allow_private=True, webhook_poll_interval=0.05, webhook_retry_schedule="0,0.2,0.2,0.2"
    )


async def test_an_agents_purchase_is_its_order_event_and_counted_per_agent(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    sale, _ = await new_sale(client, admin)
    with receiving() as receiver:
        made = await agent(client, admin, name="flash-agent", webhook_url=receiver.url("/acp/events"))
        headers = {"X-API-Key": made["key"]}
        _, key_id = await maker_of(client, headers)
        bought = expect_ok(await buy(client, headers, sale, quantity=2, customer_id="agent-shopper"), 201)
        order = expect_ok(await client.get(f"/api/v1/orders/{bought['order_id']}", headers=admin.headers))
        assert (order["channel"], order["agent"]) == ("agent", {"name": "flash-agent", "key_id": str(key_id)})
        assert order["purchase_id"] == bought["purchase_id"]

        await until(lambda: len(receiver.snapshot()) >= 1, "the purchase's order event delivered")
        [request] = receiver.snapshot()
        event = WebhookEvent.model_validate_json(request.body)
        assert (event.type.value, event.data.status.value) == ("order_create", "created")
        assert event.data.permalink_url.endswith(bought["order_id"])

    # Another caller's purchase: no channel, no agent.
    other = expect_ok(await buy(client, service_key, sale, customer_id="service-shopper"), 201)
    plain = expect_ok(await client.get(f"/api/v1/orders/{other['order_id']}", headers=admin.headers))
    assert "agent" not in plain
    assert "channel" not in plain

    report = expect_ok(await client.get("/api/v1/analytics/agents", headers=admin.headers))
    [row] = [row for row in report["agents"] if row["key_id"] == str(key_id)]
    assert row == {
        "key_id": str(key_id),
        "name": "flash-agent",
        "created": 0,
        "completed": 0,
        "abandoned": 0,
        "expired": 0,
        "conversion": "0.0000",
        "orders": 1,
        "flash_purchases": 1,
    }

"""An agent key's quotes and orders say whose they are (docs/agents.md#quotes-and-orders): `channel:
agent` and `agent: {name, key_id}` on the stored quote and on the order, priced for the channel
`agent` (a price list may target it); a service key's read exactly as before."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.agents.test_agent_keys import agent
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.price_lists.test_price_list_quotes import basket, key_headers, make_product, one_price, priced

Client = AsyncTestClient[Litestar]
ORDERS = "/api/v1/orders"


async def placed(client: Client, headers: dict[str, str], quote_id: str, key: str) -> dict[str, Any]:
    body = {"quote_id": quote_id}
    order: dict[str, Any] = expect_ok(
        await client.post(ORDERS, json=body, headers={**headers, "Idempotency-Key": key}), 201
    )
    return order


async def test_an_agents_quote_and_order_record_the_agent_and_a_service_keys_do_not(
    client: Client, admin: Caller
) -> None:
    product = await make_product(client, admin)
    made = await agent(client, admin, name="shopping-agent")
    headers = {"X-API-Key": made["key"]}
    recorded = {"name": "shopping-agent", "key_id": made["id"]}

    quote = await priced(client, headers, basket("c-1", product, channel="web"))

    assert (quote["channel"], quote["agent"]) == ("agent", recorded)
    stored = expect_ok(await client.get(f"/api/v1/quotes/{quote['quote_id']}", headers=headers))
    assert (stored["channel"], stored["agent"]) == ("agent", recorded)
    order = await placed(client, headers, quote["quote_id"], "agent-order-1")
    assert (order["channel"], order["agent"]) == ("agent", recorded)
    for shown in (
        expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=headers)),
        expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=admin.headers)),
    ):
        assert (shown["channel"], shown["agent"]) == ("agent", recorded)

    service = await key_headers(client, admin)
    plain = await priced(client, service, basket("c-1", product))
    assert "channel" not in plain
    assert "agent" not in plain
    plain_order = await placed(client, service, plain["quote_id"], "service-order-1")
    assert "channel" not in plain_order
    assert "agent" not in plain_order


async def test_a_price_list_for_the_agent_channel_prices_agents_quotes_only(client: Client, admin: Caller) -> None:
    product = await make_product(client, admin)
    for_agents = await one_price(client, admin, product, "20.00", name="Agents", channels=["agent"])
    headers = {"X-API-Key": (await agent(client, admin))["key"]}
    service = await key_headers(client, admin)

    theirs = await priced(client, headers, basket("c-1", product))
    others = await priced(client, service, basket("c-1", product))

    assert (theirs["items"][0]["price_list_id"], theirs["subtotal"]) == (for_agents, "40.00")
    assert others["items"][0]["price_source"] == "catalog"
    assert others["subtotal"] == "51.00"

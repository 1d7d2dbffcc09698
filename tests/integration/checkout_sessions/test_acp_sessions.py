"""ACP checkout sessions over HTTP (docs/agents.md): a three-seller basket priced by the quote, per-seller
options and the combined option, codes, status, complete with an allowance, idempotent replays."""

from __future__ import annotations

from typing import Any

from tests.integration.checkout_sessions.setup import ADDRESS, Agent, Client, acp_session, market, totals_of
from tests.integration.conftest import Caller


async def test_a_three_seller_session_prices_as_the_quote_and_completes_once(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    goods = await market(client, admin)
    agent = Agent(client, service_key)
    items = [
        {"id": goods["a"]["id"], "quantity": 2},
        {"id": goods["offer"]["id"], "quantity": 1},
        {"id": goods["b"]["id"], "quantity": 1},
    ]
    created = acp_session(await agent.create({"items": items}), 201)

    assert created["status"] == "not_ready_for_payment"
    assert [line["seller_id"] for line in created["line_items"]] == ["seller-a", "seller-b", "seller-b"]
    sid = created["id"]
    addressed = acp_session(await agent.update(sid, {"fulfillment_address": ADDRESS}))
    assert addressed["status"] == "not_ready_for_payment"
    chosen = acp_session(await agent.update(sid, {"fulfillment_option_id": "standard"}))

    assert chosen["status"] == "ready_for_payment", chosen["messages"]
    totals = totals_of(chosen)
    assert totals["total"] == (
        totals["subtotal"] - totals["discount"] + totals["fulfillment"] + totals["tax"] + totals["fee"]
    )
    payment: dict[str, Any] = {"payment_data": {"token": "spt_123", "provider": "stripe"}}
    done = acp_session(await agent.complete(sid, payment, key="done-1"))
    assert done["status"] == "completed"
    again = await agent.complete(sid, payment, key="done-1")
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == (await agent.complete(sid, payment, key="done-1")).content


async def test_an_offer_id_names_its_offer_however_the_uuid_is_spelled(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """The id as the service writes it is looked up as it is; an uppercase or braced spelling is read as the
    UUID it is (both name seller B's offer of C's product); a product id names the product (C's own offer)."""
    goods = await market(client, admin)
    agent = Agent(client, service_key)
    offer_id = goods["offer"]["id"]
    for spelled in (offer_id, offer_id.upper(), "{" + offer_id + "}"):
        made = acp_session(await agent.create({"items": [{"id": spelled, "quantity": 1}]}), 201)
        assert [line["seller_id"] for line in made["line_items"]] == ["seller-b"], spelled
        assert made["line_items"][0]["item"]["id"] == spelled
    product = acp_session(await agent.create({"items": [{"id": goods["c"]["id"], "quantity": 1}]}), 201)
    assert [line["seller_id"] for line in product["line_items"]] == ["seller-c"]

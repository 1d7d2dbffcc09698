"""UCP checkout sessions driven by ucp-client (docs/agents.md): the profile, a three-seller session with one
fulfillment group per seller, PUT as a full replace, complete and cancel; every answer a `CheckoutResponse`."""

from __future__ import annotations

from typing import Any

import pytest
from ucp_client import UCPClient, UCPClientError
from ucp_sdk.models.schemas.shopping.checkout_create_req import CheckoutCreateRequest
from ucp_sdk.models.schemas.shopping.checkout_update_req import CheckoutUpdateRequest

from tests.integration.checkout_sessions.setup import Client, agent_key, market
from tests.integration.conftest import Caller

DESTINATION = {"street_address": "Istiklal Cd. 1", "address_locality": "Istanbul", "address_country": "TR"}


def ucp_client(client: Client, headers: dict[str, str]) -> UCPClient:
    """ucp-client with base_url <service>/ucp, its requests sent to the app under test."""
    ucp = UCPClient(base_url=str(client.base_url).rstrip("/") + "/ucp", api_key=headers["X-API-Key"])
    ucp._client = client  # the test transport: the app in this process
    return ucp


def lines(goods: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"item": {"id": goods["a"]["id"]}, "quantity": 2},
        {"item": {"id": goods["offer"]["id"]}, "quantity": 1},
        {"item": {"id": goods["c"]["id"]}, "quantity": 1},
    ]


def fulfillment(choices: dict[str, str]) -> dict[str, Any]:
    groups = [{"id": f"seller:{seller}", "selected_option_id": code} for seller, code in choices.items()]
    return {"methods": [{"type": "shipping", "destinations": [DESTINATION], "groups": groups}]}


async def test_ucp_client_checks_out_with_a_group_per_seller(client: Client, admin: Caller) -> None:
    goods = await market(client, admin)
    key = (await agent_key(client, admin))["Authorization"].removeprefix("Bearer ")
    ucp = ucp_client(client, {"X-API-Key": key})

    profile = await ucp.get_merchant_profile()
    assert profile.ucp.version.root == "2026-01-11"
    assert {c.name for c in profile.ucp.capabilities} >= {"dev.ucp.shopping.checkout", "dev.ucp.shopping.fulfillment"}
    assert (await client.get("/.well-known/ucp")).json() == (await client.get("/ucp/.well-known/ucp")).json()

    create = CheckoutCreateRequest.model_validate({"line_items": lines(goods), "currency": "TRY", "payment": {}})
    created = await ucp.create_checkout(create)
    assert created.status == "incomplete"
    extra: dict[str, Any] = created.model_extra or {}
    groups = extra["fulfillment"]["methods"][0]["groups"]
    assert [g["id"] for g in groups] == ["seller:seller-a", "seller:seller-b", "seller:seller-c"]
    totals = {t.type: t.amount for t in created.totals}
    assert totals["total"] == (
        totals["subtotal"]
        - totals["items_discount"]
        - totals["discount"]
        + totals["fulfillment"]
        + totals["tax"]
        + totals["fee"]
    )

    body = {
        "id": created.id,
        "line_items": lines(goods),
        "currency": "TRY",
        "payment": {},
        "fulfillment": fulfillment({"seller-a": "standard", "seller-b": "express", "seller-c": "standard"}),
    }
    ready = await ucp.update_checkout(created.id, CheckoutUpdateRequest.model_validate(body))
    assert ready.status == "ready_for_complete", ready.messages
    chosen = [g["selected_option_id"] for g in (ready.model_extra or {})["fulfillment"]["methods"][0]["groups"]]
    assert chosen == ["standard", "express", "standard"]

    # A full replace: the line and choices it leaves out are gone.
    body = {**body, "line_items": lines(goods)[:1], "fulfillment": fulfillment({"seller-a": "express"})}
    replaced = await ucp.update_checkout(created.id, CheckoutUpdateRequest.model_validate(body))
    assert [line.quantity for line in replaced.line_items] == [2]
    assert replaced.status == "ready_for_complete"

    total = {t.type: t.amount for t in replaced.totals}["total"]
    done = await ucp.complete_checkout(
        created.id, {"token": "tok_1", "provider": "stripe", "allowance": allowance(total)}, idempotency_key="c-1"
    )
    assert done.status == "completed"
    assert done.order is not None
    again = await ucp.complete_checkout(
        created.id, {"token": "tok_1", "provider": "stripe", "allowance": allowance(total)}, idempotency_key="c-1"
    )
    assert again.order == done.order
    with pytest.raises(UCPClientError) as refused:
        await ucp.cancel_checkout(created.id)
    assert (refused.value.status_code, (refused.value.response_data or {})["code"]) == (409, "session_completed")

    other = await ucp.create_checkout(create)
    canceled = await ucp.cancel_checkout(other.id)
    assert canceled.status == "canceled"
    assert (await ucp.get_checkout(other.id)).status == "canceled"


def allowance(max_amount: int) -> dict[str, Any]:
    return {"max_amount": max_amount, "currency": "TRY", "expires_at": "2099-01-01T00:00:00Z"}


async def test_a_request_without_ucp_agent_is_400(client: Client, admin: Caller) -> None:
    headers = await agent_key(client, admin)
    response = await client.post("/ucp/checkout-sessions", json={}, headers={**headers, "Idempotency-Key": "k"})
    assert response.status_code == 400
    assert response.json()["code"] == "ucp_agent_required"

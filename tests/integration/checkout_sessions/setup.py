"""A three-seller market for checkout sessions: each seller's product, a profile with two options each,
a second seller's offer of seller A's product, and an ACP caller whose requests and answers are validated
with the agentic-commerce-protocol models (flat lists put into the package's {type, data} shape)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from agentic_commerce_protocol import (
    CheckoutSession,
    CheckoutSessionCompleteRequest,
    CheckoutSessionCreateRequest,
    CheckoutSessionUpdateRequest,
)
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.offers.test_offers_api import make_offer
from tests.integration.shipping.test_shipping_profiles_api import create_profile, option

Client = AsyncTestClient[Litestar]
ACP = "/acp/checkout_sessions"
ADDRESS = {
    "name": "Ada Agent",
    "line_one": "Istiklal Cd. 1",
    "city": "Istanbul",
    "state": "Istanbul",
    "country": "TR",
    "postal_code": "34000",
}


async def market(client: Client, admin: Caller) -> dict[str, Any]:
    """Three sellers' products (A 40.00, B 30.00, C 25.00), each seller's profile for Turkey with `standard`
    and `express`, and seller B's offer of C's product at 27.00 (C's own is the best landed offer): {a, b, c, offer}."""
    a = await create_product(
        client, admin, seller_id="seller-a", base_price="40.00", min_price="0", cost_price="0", stock=50
    )
    b = await create_product(
        client, admin, seller_id="seller-b", base_price="30.00", min_price="0", cost_price="0", stock=50
    )
    c = await create_product(
        client, admin, seller_id="seller-c", base_price="25.00", min_price="0", cost_price="0", stock=50
    )
    fees = {"seller-a": ("4.90", "9.90"), "seller-b": ("5.50", "12.00"), "seller-c": ("3.00", "8.00")}
    for seller, (standard, express) in fees.items():
        await create_profile(
            client,
            admin,
            seller_id=seller,
            options=[
                option("standard", base_fee=standard),
                option("express", base_fee=express, eta_days_min=1, eta_days_max=1, express=True),
            ],
        )
    offer = await make_offer(client, admin, c, seller_id="seller-b", current_price="27.00", stock=20)
    return {"a": a, "b": b, "c": c, "offer": offer}


def union_shape(session: dict[str, Any]) -> dict[str, Any]:
    """ACP's flat `messages` and `fulfillment_options` in the package's {type, data} union shape."""
    return {
        **session,
        "messages": [{"type": m["type"], "data": m} for m in session["messages"]],
        "fulfillment_options": [{"type": o["type"], "data": o} for o in session["fulfillment_options"]],
    }


def acp_session(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The answer, checked as an ACP `CheckoutSession`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    CheckoutSession.model_validate(union_shape(body))
    return body


class Agent:
    """An ACP caller with a key: every request checked against the package's request models."""

    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def keyed(self, key: str | None = None) -> dict[str, str]:
        return {**self.headers, "Idempotency-Key": key or uuid.uuid4().hex, "Request-Id": uuid.uuid4().hex}

    async def create(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        CheckoutSessionCreateRequest.model_validate(body)
        return await self.client.post(ACP, json=body, headers=self.keyed(key))

    async def update(self, session_id: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        CheckoutSessionUpdateRequest.model_validate(body)
        return await self.client.post(f"{ACP}/{session_id}", json=body, headers=self.keyed(key))

    async def complete(self, session_id: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        CheckoutSessionCompleteRequest.model_validate(body)
        return await self.client.post(f"{ACP}/{session_id}/complete", json=body, headers=self.keyed(key))

    async def get(self, session_id: str) -> httpx.Response:
        return await self.client.get(f"{ACP}/{session_id}", headers=self.headers)


def totals_of(session: dict[str, Any]) -> dict[str, int]:
    return {t["type"]: t["amount"] for t in session["totals"]}


async def agent_key(client: Client, admin: Caller, name: str = "shopping-agent") -> dict[str, str]:
    """Headers of a fresh `agent` API key (no public key: the key alone authenticates)."""
    response = await client.post("/api/v1/api-keys", json={"name": name, "role": "agent"}, headers=admin.headers)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['data']['key']}"}

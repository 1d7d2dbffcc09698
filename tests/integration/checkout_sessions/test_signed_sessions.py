"""Checkout sessions of an agent key registered with a public key (docs/agents.md#signed-requests): every
request signed (UCP: RFC 9421 through ucp-client with a signing hook; ACP: canonical JSON), and a missing or
bad signature, a body that is not the digested one or a stale timestamp answered 401 naming the reason, with
nothing written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ucp_sdk.models.schemas.shopping.checkout_create_req import CheckoutCreateRequest

from quote_service.config import Settings
from tests.agent_signing import acp_headers, ed25519_key, es256_key, public_jwk, ucp_signing_hook
from tests.integration.checkout_sessions.setup import ACP, Client, acp_session, market
from tests.integration.checkout_sessions.test_session_refusals import count_sessions
from tests.integration.checkout_sessions.test_ucp_sessions import lines, ucp_client
from tests.integration.conftest import Caller

UCP_AGENT = {"UCP-Agent": 'profile="https://agent.example/profile"'}


async def signing_agent(client: Client, admin: Caller, jwk: dict[str, Any]) -> dict[str, str]:
    body = {"name": "signing-agent", "role": "agent", "public_key": jwk}
    response = await client.post("/api/v1/api-keys", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['data']['key']}"}


async def test_acp_requests_are_signed_over_canonical_json(client: Client, admin: Caller, settings: Settings) -> None:
    goods = await market(client, admin)
    key = es256_key()
    agent = await signing_agent(client, admin, public_jwk(key, "acp-2026"))
    body = json.dumps({"items": [{"quantity": 1, "id": goods["a"]["id"]}]}, indent=2).encode()
    headers = {**agent, "Idempotency-Key": "signed-1", "Content-Type": "application/json"}

    unsigned = await client.post(ACP, content=body, headers=headers)
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "signature_missing")
    other = json.dumps({"items": [{"id": goods["a"]["id"], "quantity": 2}]}).encode()
    forged = await client.post(ACP, content=other, headers={**headers, **acp_headers(body, key)})
    assert (forged.status_code, forged.json()["code"]) == (401, "signature_invalid")
    stale = acp_headers(body, key, at=datetime.now(UTC) - timedelta(seconds=301))
    late = await client.post(ACP, content=body, headers={**headers, **stale})
    assert (late.status_code, late.json()["code"]) == (401, "clock_skew")
    assert await count_sessions(settings) == 0

    signed = acp_session(await client.post(ACP, content=body, headers={**headers, **acp_headers(body, key)}), 201)
    read = await client.get(f"{ACP}/{signed['id']}", headers={**agent, **acp_headers(b"", key)})
    assert read.status_code == 200, read.text


async def test_ucp_client_signs_with_rfc_9421(client: Client, admin: Caller, settings: Settings) -> None:
    goods = await market(client, admin)
    key = ed25519_key()
    agent = await signing_agent(client, admin, public_jwk(key, "ucp-2026"))
    create = {"line_items": lines(goods), "currency": "TRY", "payment": {}}

    unsigned = await client.post(
        "/ucp/checkout-sessions", json=create, headers={**agent, **UCP_AGENT, "Idempotency-Key": "u-1"}
    )
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "signature_missing")
    assert await count_sessions(settings) == 0

    client.event_hooks = {"request": [ucp_signing_hook(key, "ucp-2026")], "response": []}
    ucp = ucp_client(client, {"X-API-Key": agent["Authorization"].removeprefix("Bearer ")})
    created = await ucp.create_checkout(CheckoutCreateRequest.model_validate(create))
    assert created.status == "incomplete"
    assert (await ucp.get_checkout(created.id)).id == created.id

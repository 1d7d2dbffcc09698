"""The OpenAPI document says what the agents' routes take and answer (checkout_sessions/openapi.py): the body
each decodes, the headers each requires, the session it answers, its refusals in the protocol's shape — and
the answers match it (schemathesis checks the same on generated requests in the long suite)."""

from __future__ import annotations

from typing import Any

from tests.integration.checkout_sessions.setup import ACP, Agent, Client, agent_key
from tests.integration.conftest import Caller
from tests.integration.web.test_openapi_statuses import document_of

UCP = "/ucp/checkout-sessions"


def _required(document: dict[str, Any], name: str) -> list[str]:
    required: list[str] = document["components"]["schemas"][name]["required"]
    return required


def _headers(operation: dict[str, Any]) -> dict[str, bool]:
    return {p["name"]: p["required"] for p in operation["parameters"] if p["in"] == "header"}


async def test_each_session_route_declares_its_body_headers_answer_and_refusals(client: Client) -> None:
    document = await document_of(client)
    paths = document["paths"]
    create = paths[ACP]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AcpCreate"}
    assert _headers(create) == {"API-Version": False, "Idempotency-Key": True}
    assert _headers(paths[ACP + "/{session_id}"]["get"]) == {"API-Version": False}
    assert _headers(paths[UCP + "/{session_id}"]["put"]) == {"UCP-Agent": True, "Idempotency-Key": True}
    assert "requestBody" not in paths[UCP + "/{session_id}/cancel"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AgentCheckoutSession"
    }
    for path, protocol in ((ACP + "/{session_id}", "AcpError"), (UCP + "/{session_id}", "UcpError")):
        refusal = paths[path]["get"]["responses"]["404"]["content"]["application/json"]["schema"]
        assert refusal["anyOf"][0] == {"$ref": f"#/components/schemas/{protocol}"}, (path, refusal)
    for profile in ("/.well-known/ucp", "/ucp/.well-known/ucp"):
        answer = paths[profile]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": "#/components/schemas/UcpProfile"}


async def test_the_answers_carry_what_the_document_requires(client: Client, admin: Caller) -> None:
    document = await document_of(client)
    agent = Agent(client, await agent_key(client, admin))
    unkeyed = await client.post(ACP, json={"items": [{"id": "x", "quantity": 1}]}, headers=agent.headers)
    assert unkeyed.status_code == 400, unkeyed.text
    assert set(_required(document, "AcpError")) <= set(unkeyed.json()), unkeyed.text
    no_agent = await client.get(f"{UCP}/00000000-0000-4000-8000-000000000000", headers=agent.headers)
    assert no_agent.status_code == 400, no_agent.text
    assert set(_required(document, "UcpError")) <= set(no_agent.json()), no_agent.text
    profile = await client.get("/.well-known/ucp")
    assert set(_required(document, "UcpProfile")) <= set(profile.json())

"""What checkout sessions refuse (docs/agents.md): a malformed body is the protocol's 400 naming the field and
writes nothing; ACP requires Idempotency-Key and a known API-Version; a key reused with another body is ACP 422 /
UCP 409; a business outcome (an unknown item) is a message on a 200, never an error."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from quote_service.config import Settings
from quote_service.db.idempotency import lock_name
from tests.integration.checkout_sessions.setup import ACP, Agent, Client, acp_session, agent_key, market
from tests.integration.conftest import Caller, maker_of
from tests.integration.expect import expect_error

UCP = "/ucp/checkout-sessions"
UCP_AGENT = {"UCP-Agent": 'profile="https://agent.example/profile"'}


async def count_sessions(settings: Settings) -> int:
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        counted: int = await conn.fetchval("SELECT count(*) FROM checkout_sessions")
        return counted
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{", "$"),
        (b"", "$"),
        (b"{}", "$.items"),
        (b'{"items": []}', "$.items"),
        (b'{"items": [{"id": "x", "quantity": 0}]}', "$.items[0].quantity"),
        (b'{"items": [{"id": "x", "quantity": "2"}]}', "$.items[0].quantity"),
        (
            b'{"items": [{"id": "x", "quantity": 1}], "fulfillment_address": {"city": "X"}}',
            "$.fulfillment_address.name",
        ),
    ],
)
async def test_a_malformed_acp_body_is_400_naming_the_field_and_writes_nothing(
    client: Client, admin: Caller, settings: Settings, body: bytes, param: str
) -> None:
    agent = Agent(client, await agent_key(client, admin))
    headers = {**agent.keyed(), "Content-Type": "application/json"}
    response = await client.post(ACP, content=body, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "invalid_request"
    assert error["param"] == param
    assert response.headers["request-id"] == headers["Request-Id"]
    assert await count_sessions(settings) == 0


async def test_a_malformed_ucp_body_is_400_naming_the_field(client: Client, admin: Caller, settings: Settings) -> None:
    headers = {**await agent_key(client, admin), **UCP_AGENT, "Idempotency-Key": "k1"}
    body = {"line_items": [{"item": {"id": "x"}, "quantity": -1}], "currency": "TRY", "payment": {}}
    response = await client.post(UCP, json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["path"] == "$.line_items[0].quantity"
    assert await count_sessions(settings) == 0


async def test_acp_needs_an_idempotency_key_and_a_known_version(client: Client, admin: Caller) -> None:
    headers = await agent_key(client, admin)
    body = {"items": [{"id": "x", "quantity": 1}]}
    unkeyed = await client.post(ACP, json=body, headers=headers)
    assert (unkeyed.status_code, unkeyed.json()["code"]) == (400, "idempotency_key_required")
    old = await client.post(ACP, json=body, headers={**headers, "Idempotency-Key": "k", "API-Version": "2024-01-01"})
    assert old.status_code == 400
    assert old.json()["supported_versions"] == ["2025-09-29"]


async def test_an_empty_api_version_is_no_version_and_is_refused_on_every_acp_route(
    client: Client, admin: Caller
) -> None:
    """Absent, API-Version means the newest; sent empty it names none (a fuzzer's `API-Version:` was answered 200)."""
    goods = await market(client, admin)
    agent = Agent(client, await agent_key(client, admin))
    session = acp_session(await agent.create({"items": [{"id": goods["a"]["id"], "quantity": 1}]}), 201)
    before = acp_session(await agent.get(session["id"]))
    empty = {"API-Version": ""}
    refused = [
        await client.post(
            ACP, json={"items": [{"id": goods["a"]["id"], "quantity": 1}]}, headers={**agent.keyed(), **empty}
        ),
        await client.get(f"{ACP}/{session['id']}", headers={**agent.headers, **empty}),
        await client.post(
            f"{ACP}/{session['id']}",
            json={"items": [{"id": goods["a"]["id"], "quantity": 3}]},
            headers={**agent.keyed(), **empty},
        ),
    ]
    for response in refused:
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "unsupported_api_version"
        assert response.json()["supported_versions"] == ["2025-09-29"]
    assert acp_session(await agent.get(session["id"])) == before  # the refused update changed nothing


async def test_a_key_reused_with_another_body_is_a_conflict_in_each_protocol(client: Client, admin: Caller) -> None:
    goods = await market(client, admin)
    agent = Agent(client, await agent_key(client, admin))
    first = acp_session(await agent.create({"items": [{"id": goods["a"]["id"], "quantity": 1}]}, key="same"), 201)
    again = await agent.create({"items": [{"id": goods["a"]["id"], "quantity": 1}]}, key="same")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first
    other = await agent.create({"items": [{"id": goods["a"]["id"], "quantity": 2}]}, key="same")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_conflict")

    ucp = {**agent.headers, **UCP_AGENT, "Idempotency-Key": "u1"}
    body = {"line_items": [{"item": {"id": goods["a"]["id"]}, "quantity": 1}], "currency": "TRY", "payment": {}}
    assert (await client.post(UCP, json=body, headers=ucp)).status_code == 201
    body["line_items"][0]["quantity"] = 3
    conflict = await client.post(UCP, json=body, headers=ucp)
    assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")


async def test_an_unknown_item_is_a_message_and_the_rest_is_priced(client: Client, admin: Caller) -> None:
    goods = await market(client, admin)
    agent = Agent(client, await agent_key(client, admin))
    items = [{"id": goods["a"]["id"], "quantity": 1}, {"id": str(uuid.uuid4()), "quantity": 1}]
    session = acp_session(await agent.create({"items": items}), 201)
    assert [line["item"]["id"] for line in session["line_items"]] == [goods["a"]["id"]]
    assert [(m["type"], m["code"], m["param"]) for m in session["messages"]] == [
        ("error", "invalid", "$.line_items[1]")
    ]


async def test_another_agents_session_is_404(client: Client, admin: Caller) -> None:
    goods = await market(client, admin)
    mine = Agent(client, await agent_key(client, admin))
    theirs = Agent(client, await agent_key(client, admin, "other-agent"))
    session = acp_session(await mine.create({"items": [{"id": goods["a"]["id"], "quantity": 1}]}), 201)
    assert (await theirs.get(session["id"])).status_code == 404


async def test_a_key_still_in_flight_is_409_with_retry_after(client: Client, admin: Caller, settings: Settings) -> None:
    goods = await market(client, admin)
    agent = Agent(client, await agent_key(client, admin))
    _, key_id = await maker_of(client, agent.headers)
    assert settings.database_url is not None
    holder = await asyncpg.connect(settings.database_url)
    try:  # another request holds the key (db/idempotency.py: its advisory lock)
        await holder.execute(
            "SELECT pg_advisory_lock(hashtextextended($1, 0))", lock_name("checkout_session", key_id, "busy")
        )
        body = {"items": [{"id": goods["a"]["id"], "quantity": 1}]}
        for protocol in ("acp", "ucp"):
            if protocol == "acp":
                response = await agent.create(body, key="busy")
            else:
                ucp_body = {"line_items": [{"item": {"id": goods["a"]["id"]}, "quantity": 1}], "currency": "TRY"}
                headers = {**agent.headers, **UCP_AGENT, "Idempotency-Key": "busy"}
                response = await client.post(UCP, json={**ucp_body, "payment": {}}, headers=headers)
            assert (response.status_code, response.json()["code"]) == (409, "idempotency_in_flight")
            assert int(response.headers["retry-after"]) >= 1
    finally:
        await holder.close()
    assert await count_sessions(settings) == 0
    assert (await agent.create(body, key="busy")).status_code == 201  # once the first is done


async def test_a_complete_before_the_session_is_ready_says_what_it_lacks(client: Client, admin: Caller) -> None:
    goods = await market(client, admin)
    agent = Agent(client, await agent_key(client, admin))
    session = acp_session(await agent.create({"items": [{"id": goods["a"]["id"], "quantity": 1}]}), 201)
    payment = {"payment_data": {"token": "spt", "provider": "stripe"}}
    refused = acp_session(await agent.complete(session["id"], payment))
    assert refused["status"] == "not_ready_for_payment"
    assert [(m["code"], m["param"]) for m in refused["messages"]] == [
        ("missing", "$.fulfillment_address"),
        ("missing", "$.fulfillment_groups[0]"),  # seller A's option, not chosen yet
    ]
    assert "order" not in refused


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", ACP),
        ("GET", f"{ACP}/{uuid.UUID(int=1)}"),
        ("POST", f"{ACP}/{uuid.UUID(int=1)}"),
        ("POST", f"{ACP}/{uuid.UUID(int=1)}/cancel"),
        ("POST", UCP),
        ("PUT", f"{UCP}/{uuid.UUID(int=1)}"),
        ("POST", f"{UCP}/{uuid.UUID(int=1)}/complete"),
    ],
)
async def test_a_shopper_is_403_before_any_protocol_check(
    client: Client, shopper: Caller, method: str, path: str
) -> None:
    """The bindings' routes check the role themselves (binding.py `AGENT_ROLES`): a shopper's request, even one
    without the Idempotency-Key or the body a protocol needs, is the service's 403 envelope, as a guard's."""
    response = await client.request(method, path, content=b"{", headers=shopper.headers)
    body = expect_error(response, 403, "FORBIDDEN")
    assert body["message"] == "This action needs the admin or agent or service role"


async def test_agent_headers_past_printable_ascii_are_refused_and_a_space_inside_is_taken(
    client: Client, admin: Caller, settings: Settings
) -> None:
    """The agents' Idempotency-Key and UCP-Agent are printable ASCII (the OpenAPI document's pattern): a byte past
    ASCII or a control character is the protocol's 400 naming the header and writes nothing (schemathesis sent
    `UCP-Agent` bytes past ASCII and an Idempotency-Key of the same kind, and both were answered as if valid)."""
    goods = await market(client, admin)
    agent = Agent(client, await agent_key(client, admin))
    items = {"items": [{"id": goods["a"]["id"], "quantity": 1}]}
    session = acp_session(await agent.create(items), 201)
    before = acp_session(await agent.get(session["id"]))
    for key in (b"\xd7\xf8", b"k\x7f", b"k\x01"):
        headers = {**agent.headers, "Idempotency-Key": key}
        created = await client.post(ACP, json=items, headers=headers)
        updated = await client.post(f"{ACP}/{session['id']}", json=items, headers=headers)  # the lean path hands on
        for response in (created, updated):
            assert response.status_code == 400, response.text
            assert (response.json()["code"], response.json()["param"]) == ("invalid", "Idempotency-Key")
    assert await count_sessions(settings) == 1
    assert acp_session(await agent.get(session["id"])) == before
    missing = f"{UCP}/{uuid.uuid4()}"
    for value in (b"\xd7\xf8", b'profile="https://a.example/p"\x01'):
        response = await client.get(missing, headers={**agent.headers, "UCP-Agent": value})
        assert response.status_code == 400, response.text
        assert (response.json()["code"], response.json()["path"]) == ("invalid", "UCP-Agent")
    # A structured-field dictionary's members are separated by ", ": taken (then the session is simply not found).
    spaced = await client.get(missing, headers={**agent.headers, "UCP-Agent": 'profile="https://a.example/p", v=1'})
    assert spaced.status_code == 404

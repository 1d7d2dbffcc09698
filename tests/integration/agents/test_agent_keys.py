"""Agents are API keys of role `agent` (docs/agents.md#agent-keys): made by an admin with an optional
public key (a JWK) and webhook URL, shown once with the webhook's secret, a change request where
approvals apply; they quote and order as a service key does, and bad fields are refused by name."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.agent_signing import ed25519_key, es256_key, public_jwk
from tests.integration.audit.test_change_requests import four_eyes  # noqa: F401 (fixture)
from tests.integration.audit.test_four_eyes import applied
from tests.integration.cli.test_cli_embedded import run_cli
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.integration.servers import cli_env

Client = AsyncTestClient[Litestar]
KEYS = "/api/v1/api-keys"
HOOK = "https://8.8.8.8/acp/order-events"
"""A public address given as a literal: accepted without DNS, and never called by these tests."""


async def agent(client: Client, admin: Caller, **fields: Any) -> dict[str, Any]:
    """A new agent key's answer (201)."""
    body = {"name": f"agent-{uuid.uuid4().hex[:6]}", "role": "agent", **fields}
    created: dict[str, Any] = expect_ok(await client.post(KEYS, json=body, headers=admin.headers), 201)
    return created


async def key_count(settings: Settings) -> tuple[int, int]:
    """(API keys, webhook subscriptions) in the database."""
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        keys = await conn.fetchval("SELECT count(*) FROM api_keys")
        return keys, await conn.fetchval("SELECT count(*) FROM webhooks")
    finally:
        await conn.close()


async def test_an_agent_key_shows_its_public_key_and_webhook_secret_once(client: Client, admin: Caller) -> None:
    jwk = public_jwk(ed25519_key(), "agent-2026")

    made = await agent(client, admin, public_key=jwk, webhook_url=HOOK)

    assert made["role"] == "agent"
    assert made["key"].startswith("qsk_")
    assert made["public_key"] == jwk
    assert made["webhook_url"] == HOOK
    assert made["webhook_secret"].startswith("whsec_")
    listed = {k["id"]: k for k in expect_ok(await client.get(KEYS, headers=admin.headers))["items"]}
    shown = listed[made["id"]]
    assert (shown["role"], shown["public_key"], shown["webhook_url"]) == ("agent", jwk, HOOK)
    assert "webhook_secret" not in shown
    assert "key" not in shown
    me = expect_ok(await client.get("/api/v1/users/me", headers={"X-API-Key": made["key"]}))
    assert (me["kind"], me["role"], me["id"]) == ("api_key", "agent", made["id"])


async def test_an_agent_key_without_extras_has_none_and_es256_keys_are_taken(client: Client, admin: Caller) -> None:
    plain = await agent(client, admin)
    assert "public_key" not in plain
    assert "webhook_url" not in plain
    assert "webhook_secret" not in plain
    jwk = {**public_jwk(es256_key(), "es-1"), "alg": "ES256", "use": "sig"}

    made = await agent(client, admin, public_key=jwk)

    # Stored as the key it is: the members that name it, nothing else.
    assert made["public_key"] == {k: jwk[k] for k in ("kty", "crv", "x", "y", "kid", "alg")}


async def test_an_agent_key_quotes_and_orders_as_a_service_key_does(client: Client, admin: Caller) -> None:
    made = await agent(client, admin)
    headers = {"X-API-Key": made["key"]}

    quote = expect_ok(await client.post(QUOTE, json=quote_body(), headers=headers))
    order = expect_ok(
        await client.post(
            "/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers={**headers, "Idempotency-Key": "a-1"}
        ),
        201,
    )

    assert order["quote_id"] == quote["quote_id"]
    assert expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=headers))["id"] == order["id"]
    expect_error(await client.get(KEYS, headers=headers), 403, "FORBIDDEN")


def _jwk(**changes: Any) -> dict[str, Any]:
    jwk = public_jwk(ed25519_key(), "k1")
    jwk.update(changes)
    return {k: v for k, v in jwk.items() if v is not None}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"public_key": _jwk(kty="RSA")}, "public_key.kty"),
        ({"public_key": _jwk(crv="X25519")}, "public_key.crv"),
        ({"public_key": _jwk(kid=None)}, "public_key.kid"),
        ({"public_key": _jwk(kid="")}, "public_key.kid"),
        ({"public_key": _jwk(x=None)}, "public_key.x"),
        ({"public_key": _jwk(x="not+base64url/")}, "public_key.x"),
        ({"public_key": _jwk(x="AAAA")}, "public_key"),
        ({"public_key": _jwk(alg="ES256")}, "public_key.alg"),
        ({"public_key": _jwk(d="c2VjcmV0")}, "public_key.d"),
        ({"public_key": {**public_jwk(es256_key(), "e"), "y": "A" * 43}}, "public_key"),
        ({"public_key": {k: v for k, v in public_jwk(es256_key(), "e").items() if k != "y"}}, "public_key.y"),
        ({"webhook_url": "ftp://8.8.8.8/x"}, "webhook_url"),
        ({"webhook_url": "http://169.254.169.254/latest/meta-data"}, "webhook_url"),
        ({"webhook_url": "https://user:pw@8.8.8.8/x"}, "webhook_url"),
        ({"role": "service", "webhook_url": HOOK}, "webhook_url"),
        ({"role": "service", "public_key": _jwk()}, "public_key"),
    ],
)
async def test_a_bad_public_key_or_webhook_url_is_refused_by_name_and_writes_nothing(
    client: Client, admin: Caller, settings: Settings, fields: dict[str, Any], field: str
) -> None:
    before = await key_count(settings)
    body = {"name": "bad-agent", "role": "agent", **fields}

    refused = expect_error(await client.post(KEYS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")

    assert list(field_errors(refused)) == [field]
    assert await key_count(settings) == before


async def test_where_approval_applies_an_agent_key_waits_and_its_author_holds_key_and_secret(
    four_eyes: Client,  # noqa: F811
    admin: Caller,
    reviewer: Caller,
    settings: Settings,
) -> None:
    body = {"name": "shopping-agent", "role": "agent", "webhook_url": HOOK, "public_key": _jwk()}

    asked = expect_ok(await four_eyes.post(KEYS, json=body, headers=admin.headers), 202)

    assert asked["key"].startswith("qsk_")
    assert asked["secret"].startswith("whsec_")
    agent_headers = {"X-API-Key": asked["key"]}
    expect_error(await four_eyes.get("/api/v1/users/me", headers=agent_headers), 401, "UNAUTHORIZED")
    made = await applied(four_eyes, asked["change_request_id"], reviewer.headers)
    assert "key" not in made
    assert "webhook_secret" not in made
    assert made["webhook_url"] == HOOK
    assert expect_ok(await four_eyes.get("/api/v1/users/me", headers=agent_headers))["role"] == "agent"
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        secret = await conn.fetchval("SELECT secret FROM webhooks WHERE agent_key_id = $1::uuid", made["id"])
    finally:
        await conn.close()
    assert secret == asked["secret"]  # the events are signed with the secret its author was shown


@pytest.mark.slow
async def test_create_api_key_makes_an_agent_key_on_the_command_line(
    client: Client, admin: Caller, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)
    jwk_file = tmp_path / "agent.jwk"
    jwk = public_jwk(ed25519_key(), "cli-key")
    jwk_file.write_text(json.dumps(jwk))

    code, out, err = await run_cli(
        "create-api-key", "--role", "agent", "--name", "cli-agent", "--public-key", str(jwk_file),
        "--webhook-url", HOOK, env=env,
    )  # fmt: skip

    assert code == 0, err
    assert "role agent" in err
    secret = err.split("webhook secret (shown once): ")[1].split()[0]
    assert secret.startswith("whsec_")
    listed = {k["name"]: k for k in expect_ok(await client.get(KEYS, headers=admin.headers))["items"]}
    assert (listed["cli-agent"]["public_key"], listed["cli-agent"]["webhook_url"]) == (jwk, HOOK)
    assert expect_ok(await client.get("/api/v1/users/me", headers={"X-API-Key": out.strip()}))["role"] == "agent"

    jwk_file.write_text(json.dumps({**jwk, "crv": "P-256"}))
    code, out, err = await run_cli(
        "create-api-key", "--role", "agent", "--name", "bad", "--public-key", str(jwk_file), env=env
    )
    assert (code, out) == (1, "")
    assert "--public-key (public_key.crv) must be Ed25519 with kty OKP" in err

"""Extensions over HTTP (docs/extensions.md): the admin API, the secret shown once, four-eyes, the URL rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.integration.audit.requests import approve, requested
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.extensions.helpers import EXTENSIONS, QUOTE, Client, basket, extension, product
from tests.webhook_receiver import receiving


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_allow_private=True)


async def test_an_extension_is_made_with_its_secret_once_then_read_changed_and_deactivated(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    made = await extension(
        client, admin, "http://127.0.0.1:9/tax", applies_to={"countries": ["de", "DE"], "seller_ids": ["s1"]}
    )
    assert made["secret"].startswith("whsec_")
    assert (made["kind"], made["timeout_ms"], made["on_failure"], made["is_active"]) == ("tax", 500, "fallback", True)
    assert made["applies_to"] == {"countries": ["DE"], "seller_ids": ["s1"]}
    at = f"{EXTENSIONS}/{made['id']}"
    read = expect_ok(await client.get(at, headers=admin.headers))
    assert "secret" not in read
    assert read == {k: v for k, v in made.items() if k != "secret"}
    changed = expect_ok(
        await client.patch(at, json={"timeout_ms": 1000, "on_failure": "reject"}, headers=admin.headers)
    )
    assert (changed["timeout_ms"], changed["on_failure"], "secret" in changed) == (1000, "reject", False)
    replaced = expect_ok(
        await client.put(at, json={"kind": "shipping", "url": "http://127.0.0.1:9/ship"}, headers=admin.headers)
    )
    assert (replaced["kind"], replaced["timeout_ms"], replaced["applies_to"]) == (
        "shipping",
        300,
        {"countries": None, "seller_ids": None},
    )
    gone = expect_ok(await client.delete(at, headers=admin.headers))
    assert gone["is_active"] is False
    listed = expect_ok(await client.get(EXTENSIONS, params={"is_active": "false"}, headers=admin.headers))
    assert [e["id"] for e in listed["items"]] == [made["id"]]
    # The audit log never holds the secret.
    rows = await pool.fetch("SELECT before, after FROM audit_log WHERE entity_type = 'extension'")
    assert rows
    assert all("whsec_" not in str(row["before"]) + str(row["after"]) for row in rows)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "tax", "url": "ftp://example.com/x"}, {"url"}),
        ({"kind": "tax", "url": "http://169.254.169.254/latest"}, {"url"}),
        ({"kind": "tax", "url": "http://127.0.0.1:9/x", "timeout_ms": 1001}, {"timeout_ms"}),
        ({"kind": "tax", "url": "http://127.0.0.1:9/x", "timeout_ms": 49}, {"timeout_ms"}),
        ({"kind": "vat", "url": "http://127.0.0.1:9/x"}, {"kind"}),
        ({"kind": "tax", "url": "http://127.0.0.1:9/x", "on_failure": "ignore"}, {"on_failure"}),
        (
            {"kind": "tax", "url": "http://127.0.0.1:9/x", "applies_to": {"countries": ["DEU"]}},
            {"applies_to.countries[0]"},
        ),
        ({"kind": "tax", "url": "http://127.0.0.1:9/x", "secret": "whsec_x"}, {"secret"}),
    ],
)
async def test_a_bad_extension_is_refused_naming_the_field_and_nothing_is_made(
    client: Client, admin: Caller, pool: asyncpg.Pool, body: dict[str, object], fields: set[str]
) -> None:
    refused = expect_error(await client.post(EXTENSIONS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    assert set(field_errors(refused)) == fields
    assert await pool.fetchval("SELECT count(*) FROM extensions") == 0


async def test_private_addresses_follow_the_webhook_rule(settings: Settings, admin: Caller) -> None:
    strict = create_app(msgspec.structs.replace(settings, webhook_allow_private=False))
    async with AsyncTestClient(app=strict) as http:
        for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://localhost/x", "http://[::ffff:10.0.0.1]/x"):
            refused = expect_error(
                await http.post(EXTENSIONS, json={"kind": "tax", "url": url}, headers=admin.headers),
                422,
                "VALIDATION_FAILED",
            )
            assert set(field_errors(refused)) == {"url"}


async def test_only_admins_manage_extensions(client: Client, shopper: Caller) -> None:
    expect_error(await client.get(EXTENSIONS, headers=shopper.headers), 403, "FORBIDDEN")
    body = {"kind": "tax", "url": "http://127.0.0.1:9/x"}
    expect_error(await client.post(EXTENSIONS, json=body, headers=shopper.headers), 403, "FORBIDDEN")


@pytest.fixture
async def four_eyes(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(msgspec.structs.replace(settings, change_approval="required", webhook_allow_private=True))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def test_under_four_eyes_the_author_gets_the_secret_and_calls_are_signed_with_it(
    four_eyes: Client, settings: Settings, password_hash: str, admin: Caller, pool: asyncpg.Pool
) -> None:
    reviewer = await make_caller(settings, password_hash, "ext-reviewer", "admin")
    seller_product = await product(four_eyes, admin, "100.00")
    with receiving() as receiver:
        receiver.answer = b'{"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": "7.00"}]}]}'
        asked = await four_eyes.post(EXTENSIONS, json={"kind": "tax", "url": receiver.url()}, headers=admin.headers)
        change_id = await requested(asked)
        secret = asked.json()["data"]["secret"]
        assert secret.startswith("whsec_")
        assert await pool.fetchval("SELECT count(*) FROM extensions") == 0
        listed = expect_ok(await four_eyes.get("/api/v1/change-requests", headers=admin.headers))["items"]
        assert secret not in str(listed)

        applied = expect_ok(await approve(four_eyes, change_id, reviewer.headers))
        assert applied["status"] == "applied"
        assert "secret" not in applied["result"]["data"]
        assert await pool.fetchval("SELECT secret FROM extensions") == secret

        quote = expect_ok(await four_eyes.post(QUOTE, json=basket((seller_product, 1)), headers=admin.headers))
        assert (quote["tax_amount"], quote["tax_source"]) == ("7.00", "extension")
        assert len(receiver.verified(secret)) == 1

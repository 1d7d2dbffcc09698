"""Every status the service answers is one the OpenAPI document declares for that operation.

Every documented operation is called as each kind of caller (nobody, a shopper, a seller, an
admin) with what a careless or hostile client sends: no credentials, unknown ids, an empty or
malformed body, another seller's id, an X-Money-Format that names no format; then, under
CHANGE_APPROVAL=required, the writes that become change requests (202); then the answers only a
state gives (an expired edit's 410, the rate limits' 429, an unready process's 503). Each answer's
status must be in the operation's `responses` (schemathesis, in the long suite, checks the same
on generated requests: tests/integration/web/test_openapi_contract.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.order_edits.test_edits_api import basket, commit, place, preview

Client = AsyncTestClient[Litestar]
Document = dict[str, Any]
SESSION_ENDERS = frozenset({"/api/v1/auth/logout", "/api/v1/users/{user_id}/sessions/revoke"})
"""Left out of the sweeps: they would end the sweeping caller's session for every later request."""
_PARAMETER = re.compile(r"\{([^}]+)\}")
_METHODS = ("get", "post", "put", "patch", "delete")


async def document_of(client: Client) -> Document:
    document: Document = (await client.get("/openapi.json")).json()
    return document


def concrete(path: str, operation: dict[str, Any]) -> str:
    """`path` with each parameter an id nobody has: a fresh UUID, a large number, another seller."""
    schemas = {p["name"]: p.get("schema", {}) for p in operation.get("parameters", []) if p["in"] == "path"}

    def unknown(match: re.Match[str]) -> str:
        name = match.group(1)
        schema = schemas.get(name, {})
        if name == "seller_id":
            return "seller-2"
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        return "987654321" if schema.get("type") == "integer" else "nope"

    return _PARAMETER.sub(unknown, path)


def undeclared(document: Document, method: str, path: str, status: int) -> str | None:
    """A line naming the answer when the document does not declare `status` for the operation."""
    declared = document["paths"][path][method.lower()]["responses"]
    if str(status) in declared:
        return None
    return f"{method.upper()} {path} answered {status}; declares {sorted(declared)}"


def operations(document: Document) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, item[method])
        for path, item in document["paths"].items()
        for method in _METHODS
        if method in item and path not in SESSION_ENDERS
    ]


async def sweep(client: Client, document: Document, headers: dict[str, str], variant: str) -> list[str]:
    """Call every operation once as `variant` says; the answers the document does not declare."""
    found = []
    for method, path, operation in operations(document):
        sent = dict(headers)
        extra: dict[str, Any] = {}
        if variant == "money format":
            sent["X-Money-Format"] = "octal"
        elif variant == "malformed body":
            if method == "get":
                continue
            extra["content"], sent["Content-Type"] = b'{"name": ', "application/json"
        elif variant == "another seller":
            query = [p for p in operation.get("parameters", []) if p["in"] == "query" and p["name"] == "seller_id"]
            if not query and "requestBody" not in operation:
                continue
            extra["params" if query else "json"] = {"seller_id": "seller-2"}
        elif "requestBody" in operation:
            extra["json"] = {}
        answer = await client.request(method.upper(), concrete(path, operation), headers=sent, **extra)
        if (line := undeclared(document, method, path, answer.status_code)) is not None:
            found.append(f"{line} ({variant}: {answer.text[:120]})")
    return found


@pytest.fixture
async def seller(settings: Settings, password_hash: str) -> Caller:
    return await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="seller-1")


@pytest.mark.parametrize(
    ("who", "variants"),
    [
        ("nobody", ["plain", "money format"]),
        ("shopper", ["plain", "money format"]),
        ("seller", ["plain", "another seller"]),
        ("admin", ["plain", "money format", "malformed body"]),
    ],
)
async def test_every_answer_to_a_careless_request_is_declared(
    client: Client, admin: Caller, shopper: Caller, seller: Caller, who: str, variants: list[str]
) -> None:
    headers = {"nobody": {}, "shopper": shopper.headers, "seller": seller.headers, "admin": admin.headers}[who]
    document = await document_of(client)

    found = [line for variant in variants for line in await sweep(client, document, headers, variant)]

    assert found == []


# --- writes that become change requests --------------------------------------------------------


@pytest.fixture
async def governed(settings: Settings) -> AsyncIterator[Client]:
    """An app of its own where every admin write of configuration needs another admin's approval."""
    async with AsyncTestClient(app=create_app(msgspec.structs.replace(settings, change_approval="required"))) as client:
        yield client


async def test_every_change_request_and_careless_write_under_approval_is_declared(
    governed: Client, admin: Caller, seller: Caller
) -> None:
    document = await document_of(governed)
    found = []
    for variant in ("plain", "malformed body"):
        found += await sweep(governed, document, admin.headers, variant)
    product = expect_ok(
        await governed.post(
            "/api/v1/products",
            json={"sku": "GOV-1", "name": "Kettle", "category_id": "home", "seller_id": "seller-1",
                  "currency": "TRY", "base_price": "100.00", "min_price": "10.00", "stock": 5},
            headers=admin.headers,
        ),
        201,
    )  # fmt: skip
    asked = [
        ("POST", "/api/v1/approval-policies", {"json": {"entity_type": "coupon", "approvals": 1}}, admin),
        ("POST", "/api/v1/api-keys", {"json": {"name": "ops", "role": "admin"}}, admin),
        (
            "POST",
            "/api/v1/users",
            {"json": {"username": "second-admin", "password": "another-horse-battery", "role": "admin"}},
            admin,
        ),
        ("PUT", "/api/v1/products/{product_id}/price", {"json": {"price": "40.00"}}, seller),
    ]
    for method, path, extra, caller in asked:
        answer = await governed.request(method, path.format(product_id=product["id"]), headers=caller.headers, **extra)
        assert answer.status_code == 202, f"{method} {path}: {answer.text}"
        found.append(undeclared(document, method, path, 202) or "")

    assert [line for line in found if line] == []


async def test_a_delete_under_approval_ignores_a_body_it_does_not_take(governed: Client, admin: Caller) -> None:
    """A DELETE's body was read to store it in the change request: a malformed one was a 500."""
    path = f"/api/v1/commission-rates/{uuid.uuid4()}"
    headers = {**admin.headers, "Content-Type": "application/json"}

    answer = await governed.request("DELETE", path, content=b'{"name": ', headers=headers)

    assert expect_ok(answer, 202)["status"] == "pending"


# --- answers a state gives -----------------------------------------------------------------------


async def test_an_expired_edit_answers_a_declared_410(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    document = await document_of(client)
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("buyer-410", (case, 2)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    await pool.execute(
        "UPDATE order_edits SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(shown["edit_id"])
    )

    expect_error(await commit(client, service_key, order["id"], shown["edit_id"]), 410, "EDIT_EXPIRED")

    assert undeclared(document, "POST", "/api/v1/orders/{order_id}/edits/{edit_id}/commit", 410) is None


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[Client]:
    """An app of its own whose quotes' rate limit is one request a minute per client."""
    async with AsyncTestClient(app=create_app(msgspec.structs.replace(settings, rate_limit_per_minute=1))) as client:
        yield client


async def test_display_prices_past_the_rate_limit_answer_a_declared_429(limited: Client, admin: Caller) -> None:
    document = await document_of(limited)
    product = await create_product(limited, admin)
    body = {"product_ids": [product["id"]], "currency": "TRY"}
    expect_ok(await limited.post("/api/v1/prices", json=body, headers=admin.headers))

    expect_error(await limited.post("/api/v1/prices", json=body, headers=admin.headers), 429, "RATE_LIMITED")

    assert undeclared(document, "POST", "/api/v1/prices", 429) is None


async def test_the_documented_answers_only_a_state_gives(client: Client) -> None:
    """A busy simulation slot (429), an unready process (503, its readiness report, not the envelope)."""
    document = await document_of(client)
    ready = document["paths"]["/health/ready"]["get"]["responses"]

    assert undeclared(document, "POST", "/api/v1/simulations", 429) is None
    assert ready["503"]["content"] == ready["200"]["content"]
    assert "Retry-After" in ready["503"]["headers"]
    assert "503" not in document["paths"]["/health"]["get"]["responses"]

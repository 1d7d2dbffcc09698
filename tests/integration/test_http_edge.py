"""The HTTP edge: what every route does with odd input, OPTIONS, security headers, the docs page."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from quote_service.web.headers import HTML_PAGE_POLICY
from tests.integration.catalog.test_catalog import product_body
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.quotes.test_quote_api import quote_body

Client = AsyncTestClient[Litestar]
_INVALID_UTF8 = b'{"name": "caf\xe9", "username": "\xff"}'
_PATH_PARAMETER = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _concrete(path: str) -> str:
    """A request path for a route template: a fresh uuid, a number or a word for each parameter."""
    return _PATH_PARAMETER.sub(
        lambda m: str(uuid.uuid4()) if m[2] == "uuid" else "1" if m[2] == "int" else "SOMETHING", path
    )


def _body_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, request path) of every route that reads a JSON body."""
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                if "data" in handler.parsed_fn_signature.parameters:
                    found.append((method, _concrete(route.path)))
    return found


def _all_routes(app: Litestar) -> list[str]:
    return [_concrete(route.path) for route in app.routes if isinstance(route, HTTPRoute)]


@pytest.fixture
async def docs_off_client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(Settings(**{**_fields(settings), "environment": "production", "secret_key": "s" * 40}))
    async with AsyncTestClient(app=app) as client:
        yield client


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__struct_fields__}


# --- invalid UTF-8 -------------------------------------------------------------------------------


async def test_invalid_utf8_in_a_json_string_is_400_on_every_body_route(
    app: Litestar, client: Client, admin: Caller
) -> None:
    routes = _body_routes(app)
    assert ("POST", "/api/v1/auth/token") in routes
    assert len(routes) > 15
    headers = {**admin.headers, "Content-Type": "application/json", "Idempotency-Key": "k-1"}
    for method, path in routes:
        response = await client.request(
            method, path, content=b'{"name": "caf\xe9", "username": "\xff"}', headers=headers
        )

        body = expect_error(response, 400, "MALFORMED_REQUEST")
        assert "UTF-8" in body["message"], (method, path)


# --- OPTIONS -------------------------------------------------------------------------------------


@pytest.mark.parametrize("credentials", ["none", "user", "admin"])
async def test_options_on_every_route_answers_its_methods_whoever_asks(
    app: Litestar, client: Client, shopper: Caller, admin: Caller, credentials: str
) -> None:
    headers = {"none": {}, "user": shopper.headers, "admin": admin.headers}[credentials]
    paths = _all_routes(app)
    assert len(paths) > 35
    for path in paths:
        response = await client.options(path, headers=headers)

        assert response.status_code == 204, (path, response.text)
        assert "OPTIONS" in response.headers["allow"].split(", ")
        assert response.headers["x-request-id"]
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_options_names_exactly_the_routes_methods(client: Client) -> None:
    response = await client.options(f"/api/v1/products/{uuid.uuid4()}")

    assert response.headers["allow"] == "DELETE, GET, OPTIONS, PATCH, PUT"


async def test_options_on_an_unknown_path_is_404(client: Client) -> None:
    expect_error(await client.options("/api/v1/nothing-here"), 404, "NOT_FOUND")


# --- security headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/health"), ("GET", "/api/v1/users/me"), ("POST", "/api/v1/auth/token"), ("GET", "/nowhere")],
)
async def test_every_answer_is_nosniff_and_not_stored(client: Client, method: str, path: str) -> None:
    response = await client.request(method, path, json={"username": "nobody", "password": "wrong-password"})

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


async def test_an_issued_token_is_not_stored_by_caches(client: Client, admin: Caller) -> None:
    response = await client.get("/api/v1/users/me", headers=admin.headers)

    expect_ok(response)
    assert response.headers["cache-control"] == "no-store"


# --- the docs page -------------------------------------------------------------------------------


async def test_the_docs_page_loads_only_local_assets_under_a_strict_policy(client: Client) -> None:
    page = await client.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == HTML_PAGE_POLICY
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "http" not in page.text  # no CDN: every URL is this origin's
    assert "<script>" not in page.text  # no inline script: the policy allows none
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) >= 3
    for asset in assets:
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["cache-control"].startswith("public, max-age=")
        assert response.content
    start = await client.get(next(a for a in assets if "start.js" in a))
    assert '"/openapi.json"' in start.text


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/metrics", "text/plain"),
        ("/docs/assets/swagger-ui.css", "text/css"),
        ("/docs/assets/start.js", "text/javascript"),
    ],
)
async def test_a_text_answer_names_its_charset_once(client: Client, admin: Caller, path: str, media_type: str) -> None:
    """Litestar adds `; charset=utf-8` to every text/* type: a type given with one had it twice."""
    content_type = (await client.get(path, headers=admin.headers)).headers["content-type"]
    assert content_type.startswith(f"{media_type};")
    assert content_type.endswith("; charset=utf-8")
    assert content_type.count("charset") == 1, content_type


async def test_only_the_listed_docs_assets_are_served(client: Client) -> None:
    assert (await client.get("/docs/assets/index.html")).status_code == 404
    assert (await client.get("/docs/assets/..%2F__init__.py")).status_code == 404


async def test_docs_and_the_document_are_off_in_production_by_default(docs_off_client: Client) -> None:
    for path in ("/docs", "/openapi.json", "/docs/openapi.json", "/docs/assets/swagger-ui.css"):
        assert (await docs_off_client.get(path)).status_code == 404, path
    assert (await docs_off_client.get("/health")).status_code == 200


# --- the OpenAPI document ------------------------------------------------------------------------


async def test_the_document_declares_the_envelope_and_both_credentials(client: Client) -> None:
    document = (await client.get("/openapi.json")).json()

    assert set(document["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert document["components"]["securitySchemes"]["apiKey"]["name"] == "X-API-Key"
    token = document["paths"]["/api/v1/auth/token"]["post"]
    assert token["security"] == []
    assert {"400", "415", "422"} <= set(token["responses"])
    create = document["paths"]["/api/v1/products"]["post"]
    assert {"bearer": []} in create["security"]
    assert {"apiKey": []} in create["security"]
    assert {"400", "401", "403", "409", "422", "503"} <= set(create["responses"])
    error = document["components"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert "detail" not in str(document["components"]["schemas"]["ErrorEnvelope"])
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    quote = document["paths"]["/api/v1/quote"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert quote == {"$ref": "#/components/schemas/QuoteRequest"}
    moving = document["components"]["schemas"]["QuoteRequest"]["properties"]["replaces_quote_id"]
    assert {"type": "string", "format": "uuid"} in moving["oneOf"]  # a hold moved to a refreshed quote
    assert (await client.get("/docs/openapi.json")).json() == document


def _empty_alternatives(node: Any, where: str) -> list[str]:
    """Where a `oneOf`/`anyOf` offers `{}` (any value): every answer then matches two of its schemas."""
    found = []
    if isinstance(node, dict):
        for union in ("oneOf", "anyOf"):
            if {} in node.get(union, []):
                found.append(where)
        for key, value in node.items():
            found += _empty_alternatives(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _empty_alternatives(value, f"{where}/{i}")
    return found


async def test_no_answer_is_documented_as_a_schema_or_anything(client: Client) -> None:
    """A handler returning the envelope or a file (`format=csv`) made Litestar document `oneOf: [envelope, {}]`,
    which every envelope matches twice (schemathesis found it on a coupon's codes): the file is its own media type."""
    document = (await client.get("/openapi.json")).json()
    assert _empty_alternatives(document["paths"], "paths") == []
    codes = document["paths"]["/api/v1/coupons/{code}/codes"]["get"]["responses"]["200"]["content"]
    assert set(codes) == {"application/json", "text/csv"}
    assert "$ref" in codes["application/json"]["schema"]


# --- parsing decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["1", "1.0", True])
async def test_a_quantity_must_be_a_json_integer(client: Client, service_key: dict[str, str], quantity: Any) -> None:
    body = quote_body()
    body["items"][0]["quantity"] = quantity

    response = await client.post("/api/v1/quote", json=body, headers=service_key)

    assert "items[0].quantity" in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))


async def test_a_string_stock_is_refused_on_an_admin_route(client: Client, admin: Caller) -> None:
    response = await client.post("/api/v1/products", json=product_body(stock="5"), headers=admin.headers)

    assert list(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == ["stock"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data"],
)
async def test_a_body_not_declared_as_json_is_415(client: Client, admin: Caller, content_type: str) -> None:
    body = b'{"username": "admin", "password": "correct-horse-battery"}'

    response = await client.post("/api/v1/auth/token", content=body, headers={"Content-Type": content_type})

    expect_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("content_type", [None, "application/json", "application/json; charset=utf-8"])
async def test_json_or_an_undeclared_body_is_read(client: Client, admin: Caller, content_type: str | None) -> None:
    body = b'{"username": "admin", "password": "correct-horse-battery"}'
    headers = {} if content_type is None else {"Content-Type": content_type}

    response = await client.post("/api/v1/auth/token", content=body, headers=headers)

    assert expect_ok(response)["access_token"]


async def test_a_cursor_of_one_list_is_refused_by_another(client: Client, admin: Caller) -> None:
    for name in ("one", "two"):
        expect_ok(await client.post("/api/v1/api-keys", json={"name": name}, headers=admin.headers), 201)
    cursor = expect_ok(await client.get("/api/v1/api-keys?limit=1", headers=admin.headers))["next_cursor"]
    assert cursor

    response = await client.get(f"/api/v1/products?cursor={cursor}", headers=admin.headers)

    assert list(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == ["cursor"]
    assert expect_ok(await client.get(f"/api/v1/api-keys?limit=1&cursor={cursor}", headers=admin.headers))["items"]

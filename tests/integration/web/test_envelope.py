"""Every failure leaves as the error envelope of docs/api.md, with the request id, never a traceback."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send

from quote_service.app import MAX_BODY_BYTES, create_app
from quote_service.config import Settings
from quote_service.web.envelope import Envelope, ok
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors

Client = AsyncTestClient[Litestar]
SECRET_IN_EXCEPTION = "dsn=postgresql://root:hunter2@db/prod"


class Line(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    sku: str
    quantity: Annotated[int, msgspec.Meta(ge=1)]


class Basket(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    items: list[Line]


@get("/api/v1/test/boom", exclude_from_auth=True)
async def boom() -> None:
    raise RuntimeError(f"a bug that leaks {SECRET_IN_EXCEPTION}")


@post("/api/v1/test/basket", exclude_from_auth=True)
async def basket(data: JSONBody[Basket]) -> Envelope[int]:
    return ok(len(data.items))


@pytest.fixture
async def probe_client(settings: Settings) -> AsyncIterator[Client]:
    """The real app plus two test-only routes: one that fails, one with a nested body."""
    app = create_app(settings)
    app.register(boom)
    app.register(basket)
    async with AsyncTestClient(app=app) as client:
        yield client


def _product(**changes: Any) -> dict[str, Any]:
    product = {
        "sku": "SKU-1",
        "name": "Kettle",
        "category_id": "kitchen",
        "seller_id": "seller-1",
        "currency": "EUR",
        "base_price": "25.00",
        "min_price": "20.00",
    }
    return {**product, **changes}


async def test_health_is_public_and_outside_the_envelope(client: Client) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --- 400 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b'{"username": ', b"not json", b'{"username": "a",}'])
async def test_malformed_json_is_400(client: Client, raw: bytes) -> None:
    response = await client.post("/api/v1/auth/token", content=raw, headers={"Content-Type": "application/json"})

    expect_error(response, 400, "MALFORMED_REQUEST")


async def test_empty_body_is_400(client: Client) -> None:
    response = await client.post("/api/v1/auth/token", content=b"", headers={"Content-Type": "application/json"})

    body = expect_error(response, 400, "MALFORMED_REQUEST")
    assert "'data'" not in body["message"]


async def test_malformed_json_on_an_authenticated_route_is_400(client: Client, admin: Caller) -> None:
    headers = {**admin.headers, "Content-Type": "application/json"}

    expect_error(await client.post("/api/v1/products", content=b"{", headers=headers), 400, "MALFORMED_REQUEST")


# --- 401 / 403 ----------------------------------------------------------------------------------


async def test_missing_credentials_are_401(client: Client) -> None:
    body = expect_error(await client.get("/api/v1/products"), 401, "UNAUTHORIZED")

    assert body["error"]["details"] == []


async def test_wrong_role_is_403(client: Client, shopper: Caller) -> None:
    response = await client.post("/api/v1/products", json=_product(), headers=shopper.headers)

    body = expect_error(response, 403, "FORBIDDEN")
    assert "admin" in body["message"]


# --- 404 / 405 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope", "/nope", "/api/v1/products/not-a-uuid/extra/parts"])
async def test_unknown_route_is_404(client: Client, path: str) -> None:
    expect_error(await client.get(path), 404, "NOT_FOUND")


async def test_unknown_product_is_404(client: Client, service_key: dict[str, str]) -> None:
    response = await client.get(f"/api/v1/products/{uuid.uuid4()}", headers=service_key)

    expect_error(response, 404, "NOT_FOUND")


async def test_wrong_method_is_405_with_allow(client: Client) -> None:
    response = await client.put("/api/v1/auth/token", json={})

    expect_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response.headers["allow"]


# --- 422 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"sku": "a", "quantity": 1, "colour": "red"}]}, "items[0].colour"),
        ({"items": [{"sku": "a", "quantity": 1}, {"sku": "b", "quantity": "two"}]}, "items[1].quantity"),
        ({"items": [{"sku": "a", "quantity": 0}]}, "items[0].quantity"),
        ({"items": [{"quantity": 1}]}, "items[0].sku"),
        ({"items": "all of them"}, "items"),
        ({}, "items"),
        ({"items": [], "coupon": "X"}, "coupon"),
        ([], "body"),
    ],
)
async def test_invalid_body_is_422_with_the_field_path(probe_client: Client, body: Any, field: str) -> None:
    response = await probe_client.post("/api/v1/test/basket", json=body)

    errors = field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    assert list(errors) == [field]
    assert errors[field]


async def test_valid_nested_body_is_accepted(probe_client: Client) -> None:
    response = await probe_client.post("/api/v1/test/basket", json={"items": [{"sku": "a", "quantity": 2}]})

    assert expect_ok(response, 201) == 1


async def test_wrong_type_is_422_naming_the_field(client: Client, admin: Caller) -> None:
    response = await client.post("/api/v1/products", json=_product(stock="many"), headers=admin.headers)

    assert "stock" in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"), ("cursor=not-a-cursor", "cursor")],
)
async def test_bad_query_parameter_is_422_naming_it(
    client: Client, service_key: dict[str, str], query: str, field: str
) -> None:
    response = await client.get(f"/api/v1/products?{query}", headers=service_key)

    assert list(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == [field]


# --- 500 ----------------------------------------------------------------------------------------


async def test_unexpected_error_is_500_without_internals(probe_client: Client) -> None:
    response = await probe_client.get("/api/v1/test/boom")

    body = expect_error(response, 500, "INTERNAL_ERROR")
    assert body["error"]["details"] == []
    for leak in ("Traceback", "RuntimeError", "hunter2", "a bug that leaks", 'File "'):
        assert leak not in response.text
    assert response.headers["x-request-id"]


# --- 413 ----------------------------------------------------------------------------------------


async def test_body_over_one_mebibyte_is_413(client: Client) -> None:
    oversized = b'{"username": "a", "password": "' + b"x" * MAX_BODY_BYTES + b'"}'

    response = await client.post("/api/v1/auth/token", content=oversized, headers={"Content-Type": "application/json"})

    expect_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_body_of_exactly_one_mebibyte_is_read(client: Client) -> None:
    start = b'{"username": "nobody", "password": "whatever"'
    exactly = start + b" " * (MAX_BODY_BYTES - len(start) - 1) + b"}"
    assert len(exactly) == MAX_BODY_BYTES

    response = await client.post("/api/v1/auth/token", content=exactly, headers={"Content-Type": "application/json"})

    expect_error(response, 401, "UNAUTHORIZED")  # read and judged, not refused for its size


async def test_streamed_body_over_one_mebibyte_is_413(app: Litestar, client: Client) -> None:
    # Chunked, with no Content-Length to refuse early: the limit holds on the bytes received.
    # The test client cannot stream a request body, so this speaks ASGI to the running app.
    chunks = [b'{"username": "a", "password": "', *[b"x" * 65536] * 17, b'"}']
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1} for n, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/auth/token",
        "raw_path": b"/api/v1/auth/token",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(cast(Scope, scope), cast(Receive, receive), cast(Send, send))

    start, *body_parts = sent
    assert start["status"] == 413
    body = msgspec.json.decode(b"".join(part.get("body", b"") for part in body_parts))
    assert body["error"] == {"code": "PAYLOAD_TOO_LARGE", "details": []}
    assert incoming, "the app stopped reading once the limit was passed"


# --- X-Request-ID -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/health", 200), ("GET", "/api/v1/users/me", 401), ("GET", "/api/v1/nope", 404), ("PUT", "/health", 405)],
)
async def test_request_id_is_echoed(client: Client, method: str, path: str, status: int) -> None:
    response = await client.request(method, path, headers={"X-Request-ID": "checkout-7f3a.42"})

    assert response.status_code == status
    assert response.headers["x-request-id"] == "checkout-7f3a.42"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/health", 200), ("GET", "/api/v1/users/me", 401), ("GET", "/api/v1/nope", 404), ("PUT", "/health", 405)],
)
async def test_request_id_is_generated_when_absent(client: Client, method: str, path: str, status: int) -> None:
    first = await client.request(method, path)
    second = await client.request(method, path)

    assert first.status_code == status
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("unsafe", ["has spaces", "x" * 129, "new\tline", "<script>"])
async def test_unsafe_request_id_is_replaced(client: Client, unsafe: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": unsafe})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_request_id_is_sent_once(client: Client) -> None:
    response = await client.get("/api/v1/nope", headers={"X-Request-ID": "abc"})

    assert response.headers.get_list("x-request-id") == ["abc"]


async def test_success_envelope_shape(client: Client, admin: Caller) -> None:
    response = await client.get("/api/v1/users/me", headers=admin.headers)

    body = response.json()
    assert set(body) == {"success", "message", "data"}
    assert body["success"] is True

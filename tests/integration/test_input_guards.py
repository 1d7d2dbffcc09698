"""Bad input the framework would otherwise let through, or answer with a 500."""

from __future__ import annotations

from decimal import Decimal

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.test_catalog import product_body

Client = AsyncTestClient[Litestar]


async def test_json_numbers_never_pass_through_a_float(client: Client, admin: Caller) -> None:
    digits = "0.12345678901234567890123"  # a float keeps ~17 significant digits of this
    body = expect_ok(
        await client.post(
            "/api/v1/feature-flags",
            content=f'{{"key": "exact_number", "name": "Exact", "type": "NUMBER", "value": {digits}}}',
            headers={**admin.headers, "Content-Type": "application/json"},
        ),
        201,
    )
    assert Decimal(body["value"]) == Decimal(digits)


async def test_a_json_number_price_is_taken_exactly(client: Client, admin: Caller) -> None:
    payload = (
        '{"sku": "NUM-1", "name": "n", "category_id": "c", "seller_id": "s", "currency": "TRY", '
        '"base_price": 25.50, "min_price": 10.10, "cost_price": 0.1}'
    )
    product = expect_ok(
        await client.post(
            "/api/v1/products", content=payload, headers={**admin.headers, "Content-Type": "application/json"}
        ),
        201,
    )
    assert (product["base_price"], product["min_price"], product["cost_price"]) == ("25.50", "10.10", "0.10")


async def test_absurdly_nested_json_is_a_400_not_a_500(client: Client, admin: Caller) -> None:
    payload = "[" * 5000 + "]" * 5000
    response = await client.post(
        "/api/v1/products", content=payload, headers={**admin.headers, "Content-Type": "application/json"}
    )
    expect_error(response, 400, "MALFORMED_REQUEST")


async def test_nul_in_a_body_names_the_field_and_writes_nothing(client: Client, admin: Caller) -> None:
    body = product_body(sku="NUL-1", tags=["ok", "b\u0000ad"])
    response = await client.post("/api/v1/products", json=body, headers=admin.headers)
    assert field_errors(expect_error(response, 422, "VALIDATION_FAILED")) == {
        "tags[1]": "text must not contain the NUL character (\\u0000)"
    }
    listed = expect_ok(await client.get("/api/v1/products", headers=admin.headers))
    assert listed["items"] == []


async def test_nul_in_a_query_parameter_is_a_422(client: Client, admin: Caller) -> None:
    response = await client.get("/api/v1/products", params={"q": "a\u0000b"}, headers=admin.headers)
    expect_error(response, 422, "VALIDATION_FAILED")


async def test_a_missing_required_query_parameter_is_named(client: Client, admin: Caller) -> None:
    response = await client.get("/api/v1/pricing-rules/versions", headers=admin.headers)
    assert set(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == {"name"}


async def test_a_username_with_a_trailing_newline_is_refused(client: Client, admin: Caller) -> None:
    user = {"username": "bob\n", "password": "long-enough-password", "role": "user"}
    response = await client.post("/api/v1/users", json=user, headers=admin.headers)
    assert set(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == {"username"}

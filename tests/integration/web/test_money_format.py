"""Money as JSON numbers (X-Money-Format: number, an API key's money_format), on the lean edge
and on the Litestar path: the same digits as the strings, decoded as a Go client would."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.edge import PURCHASE_TEMPLATE
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import buy, new_sale
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.published import published

Client = AsyncTestClient[Litestar]
NUMBERS = {"X-Money-Format": "number"}
STRINGS = {"X-Money-Format": "string"}
_DECIMAL_TEXT = re.compile(r"-?\d+(\.\d+)?")
_MONEY = ("subtotal", "discount_amount", "tax_amount", "delivery_fee", "small_basket_fee", "total_amount")


def lean_count() -> float:
    return published("qs_edge_requests_total", {"route": QUOTE, "path": "lean"})


def decimal_strings(value: Any, path: str = "") -> list[str]:
    """Paths of every string that is a decimal number: none may be left in the number form."""
    if isinstance(value, str):
        return [path] if _DECIMAL_TEXT.fullmatch(value) else []
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in decimal_strings(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in decimal_strings(item, f"{path}[{i}]")]
    return []


def go_decode(text: str) -> Any:
    """As a Go client decodes the Go service's answer: numbers into float64."""
    return json.loads(text, parse_float=float)


async def service_key(client: Client, admin: Caller, **fields: Any) -> dict[str, str]:
    body = {"name": "checkout", **fields}
    created = expect_ok(await client.post("/api/v1/api-keys", json=body, headers=admin.headers), 201)
    return {"X-API-Key": created["key"]}


async def test_a_go_client_decodes_the_quote_with_numbers(client: Client, admin: Caller) -> None:
    """The Go README example as the Go service answered it: "subtotal": 51.00, floats to a Go client."""
    response = await client.post(QUOTE, json=quote_body(customer_id="go-c"), headers={**admin.headers, **NUMBERS})

    text = response.text
    data = go_decode(text)["data"]
    assert response.status_code == 200, text
    shown = {"subtotal": "51.00", "discount_amount": "0.00", "tax_amount": "9.18", "total_amount": "80.18"}
    for part, digits in shown.items():
        assert f'"{part}":{digits},' in text  # exactly the currency's two digits
    assert (data["subtotal"], data["tax_amount"], data["total_amount"]) == (51.0, 9.18, 80.18)
    assert data["commission_breakdown"]["total_commission"] == 7.65
    assert data["items"][0]["tax_rate"] == 18  # a percent: the number 18, no padding
    assert decimal_strings(data) == []
    exact = json.loads(text, parse_float=Decimal)["data"]  # the same digits as the strings
    strings = expect_ok(await client.post(QUOTE, json=quote_body(customer_id="go-c"), headers=admin.headers))
    assert {k: str(exact[k]) for k in _MONEY} == {k: strings[k] for k in _MONEY}


async def test_yen_numbers_have_no_decimals(client: Client, admin: Caller) -> None:
    body = quote_body(currency="JPY", items=[{"product_id": "yen-item", "quantity": 2, "unit_price": 25}])

    text = (await client.post(QUOTE, json=body, headers={**admin.headers, **NUMBERS})).text

    assert '"subtotal":50,' in text
    assert go_decode(text)["data"]["subtotal"] == 50


async def test_the_lean_edge_writes_numbers_when_asked(client: Client, admin: Caller) -> None:
    key = await service_key(client, admin)
    expect_ok(await client.post(QUOTE, json=quote_body(), headers=key))  # authenticated once, then known
    before = lean_count()

    numbers = await client.post(QUOTE, json=quote_body(customer_id="edge-n"), headers={**key, **NUMBERS})
    strings = await client.post(QUOTE, json=quote_body(customer_id="edge-n"), headers={**key, **STRINGS})

    assert lean_count() == before + 2
    assert '"subtotal":51.00,' in numbers.text
    assert decimal_strings(go_decode(numbers.text)) == []
    assert '"subtotal":"51.00",' in strings.text
    # The same body again, each in its own form (the recent-quote cache keeps them apart).
    again = await client.post(QUOTE, json=quote_body(customer_id="edge-n"), headers={**key, **NUMBERS})
    assert again.json()["data"]["quote_id"] == numbers.json()["data"]["quote_id"]
    assert '"subtotal":51.00,' in again.text


def lean_purchases() -> float:
    labels = {"route": PURCHASE_TEMPLATE, "path": "lean"}
    return published("qs_edge_requests_total", labels)


async def test_a_flash_purchase_on_the_lean_edge_writes_numbers_when_asked(client: Client, admin: Caller) -> None:
    sale, _ = await new_sale(client, admin)
    key = await service_key(client, admin)
    first = await buy(client, key, sale, customer_id="buyer-1")  # authenticated by Litestar, then known
    before = lean_purchases()

    numbers = await buy(client, {**key, **NUMBERS}, sale, customer_id="buyer-2")

    assert lean_purchases() == before + 1
    assert first.status_code == numbers.status_code == 201, numbers.text
    assert '"15.00"' in first.text
    assert "15.00" in numbers.text
    assert '"15.00"' not in numbers.text
    assert decimal_strings(go_decode(numbers.text)) == []


async def test_a_key_created_with_numbers_gets_numbers_unless_the_request_says_string(
    client: Client, admin: Caller
) -> None:
    key = await service_key(client, admin, money_format="number")

    by_default = await client.post(QUOTE, json=quote_body(), headers=key)  # Litestar: the key is new
    learned = await client.post(QUOTE, json=quote_body(), headers=key)  # the lean edge
    overridden = await client.post(QUOTE, json=quote_body(), headers={**key, **STRINGS})
    keys = expect_ok(await client.get("/api/v1/api-keys", headers=admin.headers))["items"]

    assert '"subtotal":51.00,' in by_default.text
    assert '"subtotal":51.00,' in learned.text
    assert '"subtotal":"51.00",' in overridden.text
    assert [k["money_format"] for k in keys] == ["number"]


async def test_a_quote_stored_with_numbers_reads_back_either_way(client: Client, admin: Caller) -> None:
    quote_id = expect_ok(await client.post(QUOTE, json=quote_body(), headers={**admin.headers, **NUMBERS}))["quote_id"]

    as_numbers = await client.get(f"/api/v1/quotes/{quote_id}", headers={**admin.headers, **NUMBERS})
    as_strings = expect_ok(await client.get(f"/api/v1/quotes/{quote_id}", headers=admin.headers))

    assert '"subtotal":51.00,' in as_numbers.text
    assert as_strings["subtotal"] == "51.00"
    assert as_strings["commission_breakdown"]["details"][0]["rate"] == "15"


async def test_admin_answers_write_decimals_as_numbers_and_requests_take_both(client: Client, admin: Caller) -> None:
    rate = {"category_id": "books", "commission_type": "PERCENTAGE", "rate": 12.5, "min_amount": "1.50"}
    rate |= {"currency": "EUR", "effective_from": "2025-01-01T00:00:00Z"}
    flag = {"key": "half", "name": "Half", "type": "BOOLEAN", "value": True, "rollout": {"percentage": "50"}}
    rule = {"name": "istanbul", "type": "DELIVERY_FEE", "configuration": {"base_fee": "12.50", "per_km": 1.5}}
    rule |= {"effective_from": "2025-01-01T00:00:00Z", "region": "Istanbul"}

    rate_text = (await client.post("/api/v1/commission-rates", json=rate, headers={**admin.headers, **NUMBERS})).text
    flag_text = (await client.post("/api/v1/feature-flags", json=flag, headers={**admin.headers, **NUMBERS})).text
    rule_text = (await client.post("/api/v1/pricing-rules", json=rule, headers={**admin.headers, **NUMBERS})).text

    assert '"rate":12.5,' in rate_text
    assert '"min_amount":1.50,' in rate_text
    assert '"percentage":50,' in flag_text
    assert '"base_fee":12.50' in rule_text
    assert '"per_km":1.5' in rule_text
    for text in (rate_text, flag_text, rule_text):
        assert decimal_strings(go_decode(text)) == []


@pytest.mark.parametrize("value", ["float", "numbers", "", "number, string"])
async def test_a_header_naming_no_format_is_refused_and_changes_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool, value: str
) -> None:
    key = await service_key(client, admin)
    expect_ok(await client.post(QUOTE, json=quote_body(), headers=key))  # known to the lean edge
    bad = {"X-Money-Format": value}
    rate = {"commission_type": "FLAT", "rate": 1, "currency": "EUR", "effective_from": "2025-01-01T00:00:00Z"}

    for refused in (
        await client.post(QUOTE, json=quote_body(), headers={**key, **bad}),  # handed on by the edge
        await client.post(QUOTE, json=quote_body(), headers={**admin.headers, **bad}),
        await client.post("/api/v1/commission-rates", json=rate, headers={**admin.headers, **bad}),
        await client.get("/api/v1/commission-rates", headers={**admin.headers, **bad}),
    ):
        body = expect_error(refused, 422, "VALIDATION_FAILED")
        assert field_errors(body) == {"X-Money-Format": 'must be "number" or "string"'}
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0


async def test_a_key_refuses_an_unknown_money_format(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    body = {"name": "checkout", "money_format": "float"}

    refused = expect_error(
        await client.post("/api/v1/api-keys", json=body, headers=admin.headers), 422, "VALIDATION_FAILED"
    )

    assert "money_format" in field_errors(refused)
    assert await pool.fetchval("SELECT count(*) FROM api_keys") == 0

"""Bad input the framework would otherwise let through, or answer with a 500."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product, product_body
from tests.integration.commissions.test_commission_rates_api import BULK, RATES, rate_body
from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupons_api import COUPONS, coupon_body
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flags.test_feature_flags_api import FLAGS, flag_body
from tests.integration.flash import SALES, sale_body
from tests.integration.price_lists.test_price_lists_api import LISTS, list_body
from tests.integration.promotions.test_promotions_api import PROMOTIONS, promotion_body
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.integration.rules.test_pricing_rules_api import RULES, rule_body

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


# --- times the service cannot store (docs/api.md#times) ---------------------------------------

OUT_OF_RANGE = (
    "9999-12-31T23:00:00-05:00",  # 10000-01-01T04:00Z: beyond Python's datetime once in UTC
    "0001-01-01T00:30:00+01:00",  # year 0 once in UTC
    "9999-12-31T23:59:59.999999Z",  # asyncpg writes it as infinity, read back without a zone
    "0001-01-01T00:00:00Z",  # ... and this one as -infinity
)
TABLES = ("price_lists", "coupons", "commission_rates", "flash_sales", "feature_flags", "promotions", "pricing_rules")
Body = Callable[[str], Any]


async def stored_configuration(pool: asyncpg.Pool) -> dict[str, int]:
    return {table: await pool.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
async def test_a_time_out_of_range_is_a_422_naming_the_field_on_every_route(
    client: Client, admin: Caller, pool: asyncpg.Pool, moment: str
) -> None:
    product = await create_product(client, admin, min_price="10.00", cost_price="5.00")
    routes: list[tuple[str, str, Body, str]] = [
        ("POST", LISTS, lambda t: list_body(starts_at=t), "starts_at"),
        ("POST", LISTS, lambda t: list_body(ends_at=t), "ends_at"),
        ("POST", COUPONS, lambda t: coupon_body(valid_to=t), "valid_to"),
        ("POST", RATES, lambda t: rate_body(effective_from=t), "effective_from"),
        ("PUT", BULK, lambda t: [rate_body(), rate_body(effective_to=t)], "items[1].effective_to"),
        ("POST", SALES, lambda t: sale_body(product["id"], ends_at=t), "ends_at"),
        ("POST", FLAGS, lambda t: flag_body(rollout={"start_at": t}), "rollout.start_at"),
        ("POST", FLAGS, lambda t: flag_body(rollout={"end_at": t}), "rollout.end_at"),
        ("POST", PROMOTIONS, lambda t: promotion_body(ends_at=t), "ends_at"),
        ("POST", RULES, lambda t: rule_body(effective_from=t), "effective_from"),
    ]
    for method, path, body, field in routes:
        response = await client.request(method, path, json=body(moment), headers=admin.headers)
        errors = field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
        assert list(errors) == [field], (path, errors)
        assert "0001-01-01T00:00:00Z" in errors[field]
        assert "9999-12-31T23:59:59.999999Z" in errors[field]
    assert await stored_configuration(pool) == dict.fromkeys(TABLES, 0)


@pytest.mark.parametrize(
    ("params", "first_day"),
    [
        ({"to": "0001-01-01"}, "0001-01-01"),  # the default 30 days would start before the first day
        ({"to": "0001-01-05"}, "0001-01-01"),
        ({"to": "9999-12-31"}, "9999-12-02"),  # the day after it is no date
        ({"from": "9999-12-31", "to": "9999-12-31"}, "9999-12-31"),
    ],
)
async def test_reports_at_either_end_of_the_calendar_answer_for_those_days(
    client: Client, admin: Caller, service_key: dict[str, str], params: dict[str, str], first_day: str
) -> None:
    reports = [(f"/api/v1/analytics/{name}", admin.headers) for name in ("pricing", "commission", "flags")]
    for path, headers in [*reports, ("/api/v1/sellers/seller-1/statement", service_key)]:
        report = expect_ok(await client.get(path, params=params, headers=headers))
        assert (report["from"], report["to"]) == (first_day, params["to"]), path


@pytest.mark.parametrize(
    ("params", "field"), [({"to": "10000-01-01"}, "to"), ({"from": "0000-12-31", "to": "0001-01-05"}, "from")]
)
async def test_a_report_date_outside_the_calendar_names_its_parameter(
    client: Client, admin: Caller, params: dict[str, str], field: str
) -> None:
    response = await client.get("/api/v1/analytics/pricing", params=params, headers=admin.headers)
    assert list(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == [field]


# --- decimals in other digits, with underscores or padding (docs/api.md#money) ----------------

LOOSE_DECIMALS = ("\u0663", "1_000", " 5 ")  # Decimal() reads 3, 1000 and 5


@pytest.mark.parametrize("text", LOOSE_DECIMALS)
async def test_a_decimal_not_in_plain_ascii_digits_is_a_422_naming_the_field_on_every_body(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool, text: str
) -> None:
    catalog = await create_product(client, admin)
    price_list = expect_ok(await client.post(LISTS, json=list_body(), headers=admin.headers), 201)
    expect_ok(await client.post(QUOTE, json=quote_body(), headers=service_key))  # the lean edge knows the key now
    line = {"product_id": "gift-wrap", "quantity": 1, "unit_price": text}
    routes: list[tuple[str, str, Any, dict[str, str], str]] = [
        ("POST", "/api/v1/products", product_body(base_price=text), admin.headers, "base_price"),
        ("PUT", f"/api/v1/products/{catalog['id']}/price", {"price": text}, admin.headers, "price"),
        ("POST", QUOTE, quote_body(items=[line]), service_key, "items[0].unit_price"),
        ("POST", COUPONS, coupon_body(value=text), admin.headers, "value"),
        ("POST", RATES, rate_body(rate=text), admin.headers, "rate"),
        ("PUT", BULK, {"items": [rate_body(), rate_body(rate=text)]}, admin.headers, "items[1].rate"),
        ("PUT", f"{LISTS}/{price_list['id']}/prices", {"prices": [{"product_id": catalog["id"], "amount": text}]},
         admin.headers, "prices[0].amount"),
        ("POST", RULES, rule_body(configuration={"base_fee": text}), admin.headers, "configuration.base_fee"),
        ("POST", PROMOTIONS, promotion_body(kind="AMOUNT_OFF", config={"amount": text, "currency": "TRY"}),
         admin.headers, "config.amount"),
    ]  # fmt: skip
    for method, path, body, headers, field in routes:
        response = await client.request(method, path, json=body, headers=headers)
        errors = field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
        assert list(errors) == [field], (path, errors)
    assert await pool.fetchval("SELECT count(*) FROM products") == 1
    assert await pool.fetchval("SELECT current_price FROM products") == Decimal("25.50")
    assert await pool.fetchval("SELECT count(*) FROM price_list_prices") == 0
    assert await stored_configuration(pool) == {table: 1 if table == "price_lists" else 0 for table in TABLES}


async def test_a_competitor_price_not_in_plain_ascii_digits_is_rejected_by_index(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin)
    observed = {"product_id": product["id"], "competitor": "acme", "currency": "TRY",
                "observed_at": "2025-06-01T12:00:00Z"}  # fmt: skip
    body = {"observations": [{**observed, "price": text} for text in LOOSE_DECIMALS]}
    result = expect_ok(await client.post("/api/v1/competitor-prices", json=body, headers=admin.headers), 202)
    assert result["accepted"] == 0
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [(0, "price"), (1, "price"), (2, "price")]


# --- duplicate keys (docs/http.md#parsing-decisions) ------------------------------------------


async def test_a_key_sent_twice_in_one_object_takes_its_last_value(client: Client, admin: Caller) -> None:
    """msgspec reads an object once, left to right: a later key overwrites an earlier one."""
    text = msgspec.json.encode(product_body(name="first")).decode()[:-1] + ', "name": "last"}'
    headers = {**admin.headers, "Content-Type": "application/json"}
    created = expect_ok(await client.post("/api/v1/products", content=text, headers=headers), 201)
    assert created["name"] == "last"

"""Quotes priced by price lists over HTTP (docs/price-lists.md): customer groups, channels, currencies,
CURRENCY_NOT_PRICED, coupons and floors per currency, orders, and changes reaching new quotes."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.price_lists.demo import seed_price_lists
from tests.integration.catalog.test_catalog import product_body
from tests.integration.conftest import PASSWORD, Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.waiting import until

Client = AsyncTestClient[Litestar]
LISTS = "/api/v1/price-lists"
QUOTE = "/api/v1/quote"


async def make_product(client: Client, admin: Caller) -> str:
    """A TRY product at 25.50 (min_price 20.00), 10 in stock."""
    data = expect_ok(await client.post("/api/v1/products", json=product_body(), headers=admin.headers), 201)
    product_id: str = data["id"]
    return product_id


async def make_list(client: Client, admin: Caller, **body: Any) -> str:
    data = expect_ok(await client.post(LISTS, json=body, headers=admin.headers), 201)
    list_id: str = data["id"]
    return list_id


async def user_headers(client: Client, admin: Caller, **fields: Any) -> tuple[str, dict[str, str]]:
    """A new `user` created through POST /users with `fields` (an admin sets its customer_group); (id, headers)."""
    username = f"user-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": "user", **fields}
    created = expect_ok(await client.post("/api/v1/users", json=body, headers=admin.headers), 201)
    token = expect_ok(await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}))
    return created["id"], {"Authorization": f"Bearer {token['access_token']}"}


async def key_headers(client: Client, admin: Caller, **fields: Any) -> dict[str, str]:
    body = {"name": "checkout", **fields}
    created = expect_ok(await client.post("/api/v1/api-keys", json=body, headers=admin.headers), 201)
    return {"X-API-Key": created["key"]}


async def one_price(client: Client, admin: Caller, product: str, amount: str, **body: Any) -> str:
    """A list (TRY, named "List", unless `body` says otherwise) with one price of `product` from 1 unit."""
    fields: dict[str, Any] = {"name": "List", "currency": "TRY", **body}
    return await make_list(client, admin, **fields, prices=[{"product_id": product, "amount": amount}])


def basket(customer_id: str, product_id: str, quantity: int = 2, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "items": [{"product_id": product_id, "quantity": quantity}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }
    body.update(overrides)
    return body


async def priced(client: Client, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(QUOTE, json=body, headers=headers))
    return data


async def test_a_b2b_customer_gets_its_list_with_quantity_tiers_and_others_the_catalog(
    client: Client, admin: Caller
) -> None:
    product = await make_product(client, admin)
    b2b = await make_list(
        client,
        admin,
        name="B2B",
        currency="TRY",
        customer_groups=["b2b"],
        priority=10,
        prices=[
            {"product_id": product, "amount": "22.00"},
            {"product_id": product, "amount": "21.00", "min_quantity": 5},
        ],
    )
    buyer, buyer_headers = await user_headers(client, admin, customer_group="B2B")
    me = expect_ok(await client.get("/api/v1/users/me", headers=buyer_headers))
    assert me["customer_group"] == "B2B"

    line = (await priced(client, buyer_headers, basket(buyer, product)))["items"][0]
    assert (line["price_source"], line["price_list_id"], line["list_unit_price"]) == ("price_list", b2b, "22.00")
    tier = (await priced(client, buyer_headers, basket(buyer, product, quantity=5)))["items"][0]
    assert (tier["list_unit_price"], tier["line_subtotal"]) == ("21.00", "105.00")

    shopper, shopper_headers = await user_headers(client, admin)
    line = (await priced(client, shopper_headers, basket(shopper, product)))["items"][0]
    assert (line["price_source"], line["price_list_id"], line["list_unit_price"]) == ("catalog", None, "25.50")


async def test_a_shopper_cannot_claim_a_customer_group(client: Client, admin: Caller) -> None:
    product = await make_product(client, admin)
    await one_price(client, admin, product, "1.00", customer_groups=["b2b"])
    shopper, headers = await user_headers(client, admin)
    response = await client.post(QUOTE, json=basket(shopper, product, customer_group="b2b"), headers=headers)
    assert response.status_code in (400, 422), response.text
    assert response.json()["success"] is False
    line = (await priced(client, headers, basket(shopper, product)))["items"][0]
    assert line["price_source"] == "catalog"


async def test_a_service_key_states_its_group_and_a_eur_web_list_prices_a_try_product_in_euros(
    client: Client, admin: Caller
) -> None:
    product = await make_product(client, admin)
    web = await one_price(client, admin, product, "3.10", name="EU web", currency="EUR", channels=["web"])
    wholesale = await one_price(
        client,
        admin,
        product,
        "2.50",
        name="EU wholesale",
        currency="EUR",
        customer_groups=["wholesale"],
        channels=["web"],
    )
    plain = await key_headers(client, admin)
    trade = await key_headers(client, admin, customer_group="wholesale")

    euros = await priced(client, plain, basket("c-1", product, currency="EUR", channel="Web"))
    assert euros["currency"] == "EUR"
    assert (euros["items"][0]["price_list_id"], euros["subtotal"]) == (web, "6.20")
    assert euros["commission_breakdown"]["currency"] == "EUR"
    trade_quote = await priced(client, trade, basket("c-1", product, currency="EUR", channel="web"))
    assert (trade_quote["items"][0]["price_list_id"], trade_quote["subtotal"]) == (wholesale, "5.00")

    for channel in ("app", None):
        body = basket("c-1", product, currency="EUR", channel=channel)
        refused = expect_error(await client.post(QUOTE, json=body, headers=plain), 422, "CURRENCY_NOT_PRICED")
        assert set(field_errors(refused)) == {"items[0].product_id"}
    # The product's own currency still works without any list.
    assert (await priced(client, plain, basket("c-1", product, channel="app")))["items"][0]["price_source"] == "catalog"


async def test_coupons_and_floors_stay_in_their_own_currency(client: Client, admin: Caller) -> None:
    product = await make_product(client, admin)  # min_price 20.00 TRY
    await one_price(client, admin, product, "3.00", name="EUR", currency="EUR")
    for coupon in (
        {"code": "TRY5", "type": "FIXED", "value": "5", "currency": "TRY"},
        {"code": "HALF", "type": "PERCENTAGE", "value": "50"},
    ):
        body = {**coupon, "valid_from": "2025-01-01T00:00:00Z"}
        expect_ok(await client.post("/api/v1/coupons", json=body, headers=admin.headers), 201)
    headers = await key_headers(client, admin)

    quote = await priced(client, headers, basket("c-1", product, currency="EUR", coupon_codes=["TRY5", "HALF"]))
    assert quote["rejected_coupons"] == [{"code": "TRY5", "reason": "NOT_APPLICABLE"}]
    # 20.00 TRY of min_price is no floor for a price in euros: half of 6.00 is taken off.
    assert (quote["subtotal"], quote["discount_amount"]) == ("6.00", "3.00")


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_price_list_line_is_ordered_from_catalog_stock(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    product = await make_product(client, admin)
    listed = await one_price(client, admin, product, "24.00")
    headers = await key_headers(client, admin)
    quote = await priced(client, headers, basket("c-1", product, quantity=3))
    response = await client.post(
        "/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers={**headers, "Idempotency-Key": "pl-1"}
    )
    order = expect_ok(response, 201)
    assert (order["items"][0]["price_source"], order["items"][0]["price_list_id"]) == ("price_list", listed)
    assert await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(product)) == 7


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_price_change_reaches_the_next_identical_quote_at_once(client: Client, admin: Caller) -> None:
    product = await make_product(client, admin)
    listed = await one_price(client, admin, product, "24.00")
    headers = await key_headers(client, admin)
    body = basket("c-1", product, channel="web")
    first = await priced(client, headers, body)
    assert (await priced(client, headers, body))["quote_id"] == first["quote_id"]  # the identical-request cache

    saved = await client.put(
        f"{LISTS}/{listed}/prices", json={"prices": [{"product_id": product, "amount": "23.00"}]}, headers=admin.headers
    )
    expect_ok(saved)
    after = await priced(client, headers, body)
    assert (after["items"][0]["list_unit_price"], after["quote_id"] != first["quote_id"]) == ("23.00", True)
    other_channel = await priced(client, headers, {**body, "channel": "app"})
    assert other_channel["quote_id"] != after["quote_id"]


async def test_seed_demo_adds_a_b2b_list_and_a_eur_web_list_once(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    product = expect_ok(
        await client.post("/api/v1/products", json=product_body(sku="DEMO-TEST-001"), headers=admin.headers), 201
    )["id"]
    assert await seed_price_lists(pool) is True
    assert await seed_price_lists(pool) is False
    b2b_key = await key_headers(client, admin, customer_group="b2b")
    ten = basket("c-1", product, quantity=10)

    async def b2b_priced() -> bool:  # seed-demo writes the database; the server hears of it within a second
        line = (await priced(client, b2b_key, ten))["items"][0]
        return bool(line["price_source"] == "price_list")

    await until(b2b_priced, "the demo B2B list prices the product")
    assert (await priced(client, b2b_key, ten))["items"][0]["list_unit_price"] == "21.68"  # 85 % from 10 units
    web = await priced(client, await key_headers(client, admin), basket("c-1", product, currency="EUR", channel="web"))
    assert web["items"][0]["list_unit_price"] == "0.73"  # 25.50 / 35


async def test_a_price_written_by_plain_sql_reaches_quotes_after_other_changes_reused_the_lists(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    """Reloads for other configuration reuse the compiled lists; a price changed outside the API
    (plain SQL, a migration) still reaches quotes, as every configuration write does."""
    product = await make_product(client, admin)
    listed = await one_price(client, admin, product, "24.00")
    headers = await key_headers(client, admin)
    flag = {"key": "unrelated", "name": "Unrelated", "type": "BOOLEAN", "value": True}
    expect_ok(await client.post("/api/v1/feature-flags", json=flag, headers=admin.headers), 201)
    assert (await priced(client, headers, basket("c-1", product)))["items"][0]["list_unit_price"] == "24.00"

    await pool.execute("UPDATE price_list_prices SET amount = 19.00 WHERE price_list_id = $1", uuid.UUID(listed))

    async def repriced() -> bool:
        line = (await priced(client, headers, basket(f"c-{uuid.uuid4().hex[:6]}", product)))["items"][0]
        return bool(line["list_unit_price"] == "19.00")

    await until(repriced, "the SQL-written price is quoted")


async def test_a_product_price_look_up_shows_the_callers_list_price(client: Client, admin: Caller) -> None:
    product = await make_product(client, admin)
    await one_price(client, admin, product, "22.00", customer_groups=["b2b"])
    b2b = expect_ok(
        await client.get(
            f"/api/v1/products/{product}/price", headers=await key_headers(client, admin, customer_group="b2b")
        )
    )
    assert (b2b["list_price"], b2b["unit_price"], b2b["lines"][0]["price_source"]) == ("22.00", "22.00", "price_list")
    plain = expect_ok(await client.get(f"/api/v1/products/{product}/price", headers=await key_headers(client, admin)))
    assert (plain["list_price"], plain["lines"][0]["price_source"]) == ("25.50", "catalog")

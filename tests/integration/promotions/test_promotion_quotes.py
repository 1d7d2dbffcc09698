"""Promotions in quotes and orders over HTTP: applied at once, exact usage limits under concurrency.

The concurrent orders race at a real server process (one per test): the in-process test
client answers one request at a time, so through it nothing would race.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.orders.test_orders_api import coupon, key
from tests.integration.price_lists.test_price_list_quotes import key_headers
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.integration.servers import RaceServer
from tests.waiting import until

Client = AsyncTestClient[Litestar]
QUOTE = "/api/v1/quote"


async def books(client: Client, admin: Caller, *prices: str) -> list[dict[str, Any]]:
    return [
        await create_product(
            client, admin, base_price=price, min_price="0.00", cost_price="0.00", category_id="books", stock=50
        )
        for price in prices
    ]


async def quote_of(
    client: Client, headers: dict[str, str], products: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    body = {
        "customer_id": fields.pop("customer_id", f"c-{uuid.uuid4().hex[:8]}"),
        "items": [{"product_id": p["id"], "quantity": 1} for p in products],
        "delivery_address": {"city": "Ankara", "country": "TR"},
        "currency": "TRY",
        **fields,
    }
    data: dict[str, Any] = expect_ok(await client.post(QUOTE, json=body, headers=headers))
    return data


async def twenty_percent_alone(client: Client, admin: Caller) -> dict[str, Any]:
    """20 % off, not combinable, not with coupons."""
    return await create_promotion(
        client,
        admin,
        name="20 % alone",
        kind="PERCENT_OFF",
        config={"percent": 20},
        combinable=False,
        combines_with_coupons=False,
    )


async def test_buy_two_get_one_discounts_the_cheapest_book_in_the_quote(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    basket = await books(client, admin, "30.00", "10.00", "20.00")
    promotion = await create_promotion(client, admin)

    data = await quote_of(client, service_key, basket)

    assert data["applied_promotions"] == [
        {"promotion_id": promotion["id"], "name": promotion["name"], "kind": "BUY_X_GET_Y", "amount": "10.00"}
    ]
    assert data["rejected_promotions"] == []
    assert [line["discount"] for line in data["items"]] == ["0.00", "10.00", "0.00"]
    assert [line["tax"] for line in data["items"]] == ["5.40", "0.00", "3.60"]  # 18 % of the net lines
    assert data["discount_amount"] == "10.00"
    steps = {c["step"]: c["amount"] for c in data["pricing_breakdown"]["calculations"]}
    assert steps["promotions"] == "-10.00"
    stored = expect_ok(await client.get(f"/api/v1/quotes/{data['quote_id']}", headers=service_key))
    assert stored["applied_promotions"] == data["applied_promotions"]


async def test_a_promotion_that_excludes_coupons_rejects_them_and_a_better_one_is_reported(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    basket = await books(client, admin, "100.00")
    await coupon(client, admin, "SAVE10")
    small = await create_promotion(client, admin, name="5 %", kind="PERCENT_OFF", config={"percent": 5})
    exclusive = await twenty_percent_alone(client, admin)

    data = await quote_of(client, service_key, basket, coupon_codes=["save10"])

    assert [(p["name"], p["amount"]) for p in data["applied_promotions"]] == [("20 % alone", "20.00")]
    # 20 % alone: 80.00 + 14.40 tax + 10.00 delivery = 104.40; 5 % and SAVE10: 85.50 + 15.39 + 10.00 = 110.89
    assert data["rejected_promotions"] == [
        {
            "promotion_id": small["id"],
            "name": "5 %",
            "reason": "BETTER_DEAL",
            "detail": "beaten by 20 % alone: 6.49 less to pay",
        }
    ]
    assert data["rejected_coupons"] == [{"code": "SAVE10", "reason": "NOT_COMBINABLE"}]
    assert (data["discount_amount"], data["total_amount"]) == ("20.00", "104.40")
    assert exclusive["id"] != small["id"]


async def test_the_best_deal_is_what_the_customer_pays_in_the_end_coupons_included(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """docs/promotions.md's worked example: 20 % gives more than 3 for 2 but refuses the coupon."""
    basket = await books(client, admin, "45.00", "30.00", "15.00")
    await coupon(client, admin, "SAVE10")
    await create_promotion(client, admin, name="3 for 2")
    alone = await twenty_percent_alone(client, admin)

    data = await quote_of(client, service_key, basket, coupon_codes=["SAVE10"])

    # 3 for 2 (15.00) and SAVE10 (7.50): 67.50 + 12.15 tax + 10.00 = 89.65; 20 % alone: 72.00 + 12.96 + 10.00 = 94.96
    assert [(p["name"], p["amount"]) for p in data["applied_promotions"]] == [("3 for 2", "15.00")]
    assert [(c["code"], c["amount"]) for c in data["applied_coupons"]] == [("SAVE10", "7.50")]
    assert (data["discount_amount"], data["tax_amount"], data["total_amount"]) == ("22.50", "12.15", "89.65")
    assert data["rejected_promotions"] == [
        {
            "promotion_id": alone["id"],
            "name": "20 % alone",
            "reason": "BETTER_DEAL",
            "detail": "your coupons do not apply with it; beaten by 3 for 2 with your coupons: 5.31 less to pay",
        }
    ]
    stored = expect_ok(await client.get(f"/api/v1/quotes/{data['quote_id']}", headers=service_key))
    assert stored["rejected_promotions"] == data["rejected_promotions"]


def outcomes(responses: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter((r.status_code, "ok" if r.status_code < 400 else r.json()["error"]["code"]) for r in responses)


async def race_orders(
    client: Client, server: RaceServer, headers: dict[str, str], baskets: list[list[dict[str, Any]]]
) -> list[httpx.Response]:
    """A quote of each basket, each getting 5.00 off from the one promotion; then all ordered at once."""
    quotes = [await quote_of(client, headers, basket) for basket in baskets]
    assert {q["applied_promotions"][0]["amount"] for q in quotes} == {"5.00"}
    return await server.race(
        len(quotes),
        lambda http, n: http.post(
            "/api/v1/orders", json={"quote_id": quotes[n]["quote_id"]}, headers={**headers, **key()}
        ),
    )


async def test_usage_limit_counts_orders_exactly_under_concurrency(
    client: Client, server: RaceServer, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    # A book per basket: only the promotion's row lock, not a shared product's, orders them.
    baskets = [await books(client, admin, "40.00") for _ in range(10)]
    promotion = await create_promotion(
        client, admin, name="First three", kind="AMOUNT_OFF", config={"amount": 5, "currency": "TRY"}, usage_limit=3
    )
    responses = await race_orders(client, server, service_key, baskets)

    assert outcomes(responses) == {(201, "ok"): 3, (409, "PROMOTION_LIMIT_REACHED"): 7}
    refused = next(r for r in responses if r.status_code == 409)
    assert expect_error(refused, 409, "PROMOTION_LIMIT_REACHED")["error"]["details"][0]["field"] == (
        "applied_promotions[0]"
    )
    assert await pool.fetchval("SELECT times_used FROM promotions WHERE id = $1", uuid.UUID(promotion["id"])) == 3
    assert await pool.fetchval("SELECT count(*) FROM promotion_redemptions") == 3
    assert await pool.fetchval("SELECT count(*) FROM orders") == 3
    assert await pool.fetchval("SELECT sum(stock) FROM products") == 10 * 50 - 3

    async def used_up() -> bool:  # the use that reached the limit moved the configuration version
        later = await quote_of(client, service_key, baskets[0])
        return bool(
            later["rejected_promotions"]
            == [
                {
                    "promotion_id": promotion["id"],
                    "name": "First three",
                    "reason": "USAGE_LIMIT",
                    "detail": "used up: its limit of 3 orders is reached",
                }
            ]
        )

    await until(used_up, "a new quote reports the promotion used up")


async def test_a_cancel_gives_the_orders_promotion_uses_back(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    basket = await books(client, admin, "40.00")
    promotion = await create_promotion(client, admin, kind="FREE_DELIVERY", config={}, usage_limit=1)
    data = await quote_of(client, service_key, basket)
    assert data["delivery_fee"] == "0.00"
    placed = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": data["quote_id"]}, headers={**service_key, **key()}),
        201,
    )
    assert await pool.fetchval("SELECT times_used FROM promotions WHERE id = $1", uuid.UUID(promotion["id"])) == 1

    cancelled = expect_ok(
        await client.post(f"/api/v1/orders/{placed['id']}/cancel", json={}, headers={**service_key, **key()})
    )

    assert cancelled["status"] == "cancelled"
    assert await pool.fetchval("SELECT times_used FROM promotions WHERE id = $1", uuid.UUID(promotion["id"])) == 0
    assert await pool.fetchval("SELECT count(*) FROM promotion_redemptions") == 0

    async def offered_again() -> bool:  # the use given back moved the configuration version
        again = await quote_of(client, service_key, basket)
        return bool(again["delivery_fee"] == "0.00" and again["rejected_promotions"] == [])

    await until(offered_again, "a new quote gets the promotion again")


async def test_a_promotion_for_a_customer_group_and_a_channel_applies_to_those_alone(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    basket = await books(client, admin, "100.00")
    promotion = await create_promotion(
        client,
        admin,
        kind="PERCENT_OFF",
        config={"percent": 10},
        conditions={"customer_groups": ["B2B"], "channels": ["App"]},
    )
    b2b_key = await key_headers(client, admin, customer_group="b2b")

    in_group_on_app = await quote_of(client, b2b_key, basket, channel="app")
    in_group_on_web = await quote_of(client, b2b_key, basket, channel="web")
    no_group_on_app = await quote_of(client, service_key, basket, channel="APP")

    assert [p["promotion_id"] for p in in_group_on_app["applied_promotions"]] == [promotion["id"]]
    assert in_group_on_app["discount_amount"] == "10.00"
    assert in_group_on_web["applied_promotions"] == []
    assert no_group_on_app["applied_promotions"] == []


async def test_the_openapi_document_describes_the_explanations(client: Client) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]

    rejected = schemas["RejectedPromotion"]["properties"]
    assert {"promotion_id", "name", "reason", "detail"} <= set(rejected)
    assert "sentence for people" in rejected["detail"]["description"]
    at_min_price = schemas["QuoteLine"]["properties"]["at_min_price"]
    assert (at_min_price["type"], "no discount takes it lower" in at_min_price["description"]) == ("boolean", True)

"""Quantity rules on offers (docs/offers.md#quantity-rules): stored, validated and audited as a product's,
checked against the offer the quote chose (its own rules, else its product's), kept to by the best landed
choice, and an offer's per-customer limit counted on the units sold from it, again under the order's lock."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.offers.test_offers_api import OFFERS, Client, make_offer, quote
from tests.integration.offers.test_offers_api import product as product  # the fixtures
from tests.integration.offers.test_offers_api import seller_b as seller_b  # the fixtures
from tests.integration.orders.test_orders_api import key
from tests.integration.promotions.test_promotion_quotes import outcomes
from tests.integration.servers import RaceServer
from tests.integration.test_cost_budget import Meter, metered, post_reading, started

CASE = {"min_qty": 6, "max_qty": 24, "step": 6}
STORED_CASE = {**CASE, "max_per_customer": None, "window_days": 30}
TWO_A_MONTH = {"max_per_customer": 2}


def item(product: dict[str, Any], quantity: int, **fields: Any) -> dict[str, Any]:
    return {"product_id": product["id"], "quantity": quantity, **fields}


async def order(client: Client, headers: dict[str, str], made: dict[str, Any]) -> Any:
    return await client.post("/api/v1/orders", json={"quote_id": made["quote_id"]}, headers={**headers, **key()})


async def test_an_offers_rules_are_stored_read_back_changed_removed_and_audited(
    client: Client, admin: Caller, product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, quantity_rules=CASE)
    assert offer["quantity_rules"] == STORED_CASE
    read = expect_ok(await client.get(f"{OFFERS}/{offer['id']}", headers=admin.headers))
    assert read["quantity_rules"] == STORED_CASE
    listed = expect_ok(await client.get(OFFERS, params={"product_id": product["id"]}, headers=admin.headers))
    assert listed["items"][0]["quantity_rules"] == STORED_CASE

    changed = expect_ok(
        await client.patch(f"{OFFERS}/{offer['id']}", json={"quantity_rules": TWO_A_MONTH}, headers=admin.headers)
    )
    assert changed["quantity_rules"]["max_per_customer"] == 2
    other = expect_ok(await client.patch(f"{OFFERS}/{offer['id']}", json={"stock": 7}, headers=admin.headers))
    assert other["quantity_rules"] == changed["quantity_rules"]  # a PATCH without them keeps them
    removed = expect_ok(
        await client.patch(f"{OFFERS}/{offer['id']}", json={"quantity_rules": None}, headers=admin.headers)
    )
    assert "quantity_rules" not in removed
    plain = await make_offer(client, admin, product, seller_id="seller-c")
    assert "quantity_rules" not in plain

    audited = await pool.fetch(
        """SELECT before -> 'quantity_rules' AS before, after -> 'quantity_rules' AS after FROM audit_log
           WHERE entity_type = 'offer' AND entity_id = $1 ORDER BY id""",
        offer["id"],
    )
    trail = [(row["before"], row["after"]) for row in audited]
    assert trail[0] == (None, STORED_CASE)
    assert (STORED_CASE, {**STORED_CASE, **TWO_A_MONTH, "min_qty": None, "max_qty": None, "step": None}) in trail
    assert trail[-1][1] is None  # removed: null again


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"min_qty": 5, "max_qty": 4}, "quantity_rules.max_qty"),
        ({"min_qty": 2, "step": 0}, "quantity_rules.step"),
        ({"step": 20, "max_qty": 10}, "quantity_rules.step"),
        ({"min_qty": 3, "max_per_customer": 2}, "quantity_rules.max_per_customer"),
        ({"min_qty": 0}, "quantity_rules.min_qty"),
        ({"max_per_customer": 2, "window_days": 400}, "quantity_rules.window_days"),
        ({"maximum": 2}, "quantity_rules.maximum"),
    ],
)
async def test_rules_no_quantity_could_meet_are_refused_as_a_products_are(
    client: Client, admin: Caller, product: dict[str, Any], rules: dict[str, Any], field: str
) -> None:
    body = {"product_id": product["id"], "seller_id": "seller-b", "current_price": "35", "quantity_rules": rules}
    refused = expect_error(await client.post(OFFERS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    assert [d["field"] for d in refused["error"]["details"]] == [field]

    offer = await make_offer(client, admin, product)
    patched = await client.patch(f"{OFFERS}/{offer['id']}", json={"quantity_rules": rules}, headers=admin.headers)
    assert [d["field"] for d in expect_error(patched, 422, "VALIDATION_FAILED")["error"]["details"]] == [field]
    assert "quantity_rules" not in expect_ok(await client.get(f"{OFFERS}/{offer['id']}", headers=admin.headers))


async def test_a_seller_sets_and_changes_its_own_offers_rules(
    client: Client, product: dict[str, Any], seller_b: Caller
) -> None:
    body = {"product_id": product["id"], "current_price": "35.00", "stock": 3, "quantity_rules": CASE}
    mine = expect_ok(await client.post(OFFERS, json=body, headers=seller_b.headers), 201)
    assert mine["quantity_rules"] == STORED_CASE
    changed = await client.patch(
        f"{OFFERS}/{mine['id']}", json={"quantity_rules": {"max_qty": 2}}, headers=seller_b.headers
    )
    assert expect_ok(changed)["quantity_rules"]["max_qty"] == 2
    bad = await client.patch(
        f"{OFFERS}/{mine['id']}", json={"quantity_rules": {"min_qty": 3, "max_qty": 2}}, headers=seller_b.headers
    )
    assert [d["field"] for d in expect_error(bad, 422, "VALIDATION_FAILED")["error"]["details"]] == [
        "quantity_rules.max_qty"
    ]


async def test_a_named_offer_that_breaks_its_rules_is_refused_with_what_it_allows(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, quantity_rules=CASE, stock=50)
    by_id = expect_error(await quote(client, service_key, item(product, 5, offer_id=offer["id"])), 422, "QUANTITY_RULE")
    assert by_id["error"]["details"] == [
        {
            "field": "items[0].quantity",
            "message": "must be at least 6",
            "min_qty": 6,
            "max_qty": 24,
            "step": 6,
            "remaining_for_customer": None,
        }
    ]
    by_seller = expect_error(
        await quote(client, service_key, item(product, 7, seller_id="seller-b")), 422, "QUANTITY_RULE"
    )
    assert by_seller["error"]["details"][0]["field"] == "items[0].quantity"
    assert by_seller["error"]["details"][0]["step"] == 6

    fine = expect_ok(await quote(client, service_key, item(product, 12, offer_id=offer["id"])))
    assert (fine["items"][0]["offer_id"], fine["items"][0]["quantity"]) == (offer["id"], 12)
    # The product's own offer (seller-a) has no rules: 5 units of it are fine.
    own = expect_ok(await quote(client, service_key, item(product, 5, seller_id="seller-a")))
    assert own["items"][0]["offer_id"] is None


async def test_an_offer_without_rules_sells_under_its_products_and_its_own_replace_them(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    expect_ok(
        await client.patch(
            f"/api/v1/products/{product['id']}", json={"quantity_rules": {"max_qty": 3}}, headers=admin.headers
        )
    )
    plain = await make_offer(client, admin, product, stock=50)
    ruled = await make_offer(client, admin, product, seller_id="seller-c", stock=50, quantity_rules={"max_qty": 10})

    refused = expect_error(
        await quote(client, service_key, item(product, 4, offer_id=plain["id"])), 422, "QUANTITY_RULE"
    )
    assert refused["error"]["details"][0]["max_qty"] == 3
    allowed = expect_ok(await quote(client, service_key, item(product, 4, offer_id=ruled["id"])))
    assert allowed["items"][0]["seller_id"] == "seller-c"


async def test_the_best_landed_choice_skips_offers_whose_rules_refuse_the_quantity(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    # seller-b (35.00) is cheaper than seller-a's own offer (40.00) but sells by the case of 6.
    cased = await make_offer(client, admin, product, quantity_rules=CASE, stock=50)

    two = expect_ok(await quote(client, service_key, item(product, 2)))
    line = two["items"][0]
    assert (line["seller_id"], line["offer_id"], line["offer_selection"]) == ("seller-a", None, "best_landed")
    assert line["unit_price"] == "40.00"

    six = expect_ok(await quote(client, service_key, item(product, 6)))
    line = six["items"][0]
    assert (line["seller_id"], line["offer_id"], line["offer_selection"]) == ("seller-b", cased["id"], "best_landed")

    # No offer accepts 25 units (seller-a has 10 in stock): the best landed one is chosen and refused on its rules.
    over = expect_error(await quote(client, service_key, item(product, 25)), 422, "QUANTITY_RULE")
    assert over["error"]["details"][0]["max_qty"] == 24


async def test_an_offers_limit_counts_the_units_sold_from_it_only(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, quantity_rules=TWO_A_MONTH, stock=50)
    first = expect_ok(await quote(client, service_key, item(product, 2, offer_id=offer["id"])))
    assert first["quantity_limits"] == [
        {
            "product_id": product["id"],
            "max_per_customer": 2,
            "window_days": 30,
            "remaining_for_customer": 2,
            "offer_id": offer["id"],
        }
    ]
    expect_ok(await order(client, service_key, first), 201)

    refused = expect_error(
        await quote(client, service_key, item(product, 1, offer_id=offer["id"])), 422, "QUANTITY_RULE"
    )
    assert refused["error"]["details"][0]["remaining_for_customer"] == 0
    # The product's own offer has no limit, and another customer has its own two.
    own = expect_ok(await quote(client, service_key, item(product, 3, seller_id="seller-a")))
    assert "quantity_limits" not in own
    other = expect_ok(await quote(client, service_key, item(product, 2, offer_id=offer["id"]), customer_id="c-2"))
    assert other["quantity_limits"][0]["remaining_for_customer"] == 2


@pytest.mark.slow
async def test_twenty_racing_orders_for_two_per_customer_on_an_offer_store_exactly_two_units(
    client: Client,
    server: RaceServer,
    admin: Caller,
    service_key: dict[str, str],
    product: dict[str, Any],
    pool: asyncpg.Pool,
) -> None:
    offer = await make_offer(client, admin, product, quantity_rules=TWO_A_MONTH, stock=100)
    quotes = [
        expect_ok(await quote(client, service_key, item(product, 1, offer_id=offer["id"]), channel=f"web{n}"))
        for n in range(20)
    ]

    responses = await server.race(
        len(quotes),
        lambda http, n: http.post(
            "/api/v1/orders", json={"quote_id": quotes[n]["quote_id"]}, headers={**service_key, **key()}
        ),
    )

    assert outcomes(responses) == {(201, "ok"): 2, (409, "QUANTITY_RULE"): 18}
    assert await pool.fetchval("SELECT sum(quantity) FROM order_lines WHERE offer_id = $1", offer["id"]) == 2
    assert await pool.fetchval("SELECT stock FROM offers WHERE id = $1", offer["id"]) == 98


async def test_a_warm_quote_under_an_offers_rules_sends_no_sql(app: Litestar, admin: Caller) -> None:
    """The rules travel with the offers in the configuration snapshot: a warm quote checking an offer's rules
    (its per-customer limit read from the counters) sends no SQL statement."""
    async with started(app, admin) as served:
        product = await served.made("/api/v1/products", {
            "sku": "RULED-1", "name": "Ruled", "category_id": "electronics", "seller_id": "seller-a",
            "currency": "TRY", "base_price": "40.00", "min_price": "1.00", "stock": 10})  # fmt: skip
        offer = await served.made(
            OFFERS,
            {"product_id": product["id"], "seller_id": "seller-b", "current_price": "35.00", "stock": 50,
             "quantity_rules": {"max_qty": 5, "max_per_customer": 4}},
        )  # fmt: skip
        body = msgspec.json.encode(
            {
                "customer_id": "c-warm",
                "items": [item(product, 2, offer_id=offer["id"])],
                "delivery_address": {"city": "Ankara", "country": "TR"},
                "currency": "TRY",
            }
        )
        for _ in range(3):  # warm: the snapshot, the product cache, prepared statements
            status, _ = await post_reading(served, body)
            assert status == 200
        await served.pins.pin()
        meter = Meter(served.pins.timed_tasks())
        status, answer = await metered(served, meter, post_reading(served, body))
    assert status == 200, answer
    assert msgspec.json.decode(answer)["data"]["quantity_limits"][0]["offer_id"] == offer["id"]
    assert meter.sql_statements == 0, meter.logged
    assert sum(meter.redis.values()) >= 1  # the customer's units of the offer, from the counters

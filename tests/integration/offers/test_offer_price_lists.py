"""Price-list entries for one offer (docs/offers.md#price-lists-and-flash-sales): an entry naming `offer_id`
prices only the lines sold from that offer; an entry without one prices the product's own (default) offer,
exactly as before. Validated (unknown offer, another product's offer), unique per (list, product, offer,
min_quantity), shown only when set, audited by its offer, and read from the snapshot like every price."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import SALES, sale_body
from tests.integration.offers.test_offers_api import Client, make_offer, quote
from tests.integration.offers.test_offers_api import product as product  # the fixture
from tests.integration.orders.test_orders_api import key

LISTS = "/api/v1/price-lists"


async def make_list(client: Client, admin: Caller, *prices: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"name": "Sellers", "currency": "TRY", "prices": list(prices), **fields}
    data: dict[str, Any] = expect_ok(await client.post(LISTS, json=body, headers=admin.headers), 201)
    return data


def entry(product: dict[str, Any], amount: str, **fields: Any) -> dict[str, Any]:
    return {"product_id": product["id"], "amount": amount, **fields}


def item(product: dict[str, Any], quantity: int = 2, **fields: Any) -> dict[str, Any]:
    return {"product_id": product["id"], "quantity": quantity, **fields}


async def line_of(client: Client, headers: dict[str, str], *items: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = expect_ok(await quote(client, headers, *items))["items"][0]
    return line


async def test_an_offers_entry_prices_only_the_lines_sold_from_that_offer(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", stock=20)
    other = await make_offer(client, admin, product, seller_id="seller-c", current_price="36.00", stock=20)
    listed = await make_list(
        client,
        admin,
        entry(product, "38.00"),
        entry(product, "30.00", offer_id=offer["id"]),
        entry(product, "28.00", offer_id=offer["id"], min_quantity=5),
    )

    sold = await line_of(client, service_key, item(product, offer_id=offer["id"]))
    assert (sold["offer_id"], sold["seller_id"], sold["price_source"]) == (offer["id"], "seller-b", "price_list")
    assert (sold["price_list_id"], sold["list_unit_price"], sold["line_subtotal"]) == (listed["id"], "30.00", "60.00")
    tier = await line_of(client, service_key, item(product, 5, offer_id=offer["id"]))
    assert (tier["list_unit_price"], tier["line_subtotal"]) == ("28.00", "140.00")
    by_seller = await line_of(client, service_key, item(product, seller_id="seller-b"))
    assert (by_seller["offer_id"], by_seller["list_unit_price"]) == (offer["id"], "30.00")

    # The product's own offer keeps the entry without offer_id; another offer, which no entry names, its own price.
    own = await line_of(client, service_key, item(product, seller_id="seller-a"))
    assert (own["offer_id"], own["price_source"], own["list_unit_price"]) == (None, "price_list", "38.00")
    assert own["price_list_id"] == listed["id"]
    unnamed = await line_of(client, service_key, item(product, offer_id=other["id"]))
    assert (unnamed["price_source"], unnamed["price_list_id"], unnamed["list_unit_price"]) == (
        "catalog",
        None,
        "36.00",
    )

    # An order keeps the list that priced the line and takes the offer's stock.
    made = expect_ok(await quote(client, service_key, item(product, offer_id=offer["id"])))
    placed = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": made["quote_id"]}, headers={**service_key, **key()}),
        201,
    )
    assert [(i["seller_id"], i["price_list_id"], i["unit_price"]) for i in placed["items"]] == [
        ("seller-b", listed["id"], "30.00")
    ]
    assert expect_ok(await client.get(f"/api/v1/offers/{offer['id']}", headers=admin.headers))["stock"] == 18


async def test_an_entry_without_offer_id_still_prices_the_default_offer_only(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", stock=20)
    listed = await make_list(client, admin, entry(product, "38.00"))
    own_before = await line_of(client, service_key, item(product, seller_id="seller-a"))
    sold = await line_of(client, service_key, item(product, offer_id=offer["id"]))
    assert (sold["price_source"], sold["price_list_id"], sold["list_unit_price"]) == ("catalog", None, "35.00")

    upserted = await client.put(
        f"{LISTS}/{listed['id']}/prices",
        json={"prices": [entry(product, "31.00", offer_id=offer["id"])]},
        headers=admin.headers,
    )
    assert expect_ok(upserted)["price_count"] == 2
    # The default offer's line reads byte for byte as before the offer's entry was added.
    assert await line_of(client, service_key, item(product, seller_id="seller-a")) == own_before
    assert (await line_of(client, service_key, item(product, offer_id=offer["id"])))["list_unit_price"] == "31.00"


async def test_entries_show_offer_id_only_when_set_and_are_unique_per_offer(
    client: Client, admin: Caller, product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product)
    listed = await make_list(client, admin, entry(product, "38.00"), entry(product, "30.00", offer_id=offer["id"]))
    assert listed["prices"] == [
        {"product_id": product["id"], "amount": "38.00", "min_quantity": 1},
        {"product_id": product["id"], "amount": "30.00", "min_quantity": 1, "offer_id": offer["id"]},
    ]

    # PUT /prices replaces each entry at its own (product, offer, min_quantity).
    replaced = await client.put(
        f"{LISTS}/{listed['id']}/prices",
        json={"prices": [entry(product, "29.00", offer_id=offer["id"]), entry(product, "37.00")]},
        headers=admin.headers,
    )
    assert expect_ok(replaced)["price_count"] == 2
    read = expect_ok(await client.get(f"{LISTS}/{listed['id']}", headers=admin.headers))
    assert [(p["amount"], p.get("offer_id")) for p in read["prices"]] == [("37.00", None), ("29.00", offer["id"])]

    twice = await client.post(
        LISTS,
        json={
            "name": "Twice",
            "currency": "TRY",
            "prices": [entry(product, "30.00", offer_id=offer["id"]), entry(product, "31.00", offer_id=offer["id"])],
        },
        headers=admin.headers,
    )
    assert set(field_errors(expect_error(twice, 422, "VALIDATION_FAILED"))) == {"prices[1].min_quantity"}

    # The audit trail names an offer's entry by its offer; a default entry's reads as it always did.
    audited = await pool.fetch(
        """SELECT entity_id, after ->> 'offer_id' AS offer_id, after ? 'offer_id' AS shown FROM audit_log
           WHERE entity_type = 'price_list_price' AND action = 'create'"""
    )
    base = f"{listed['id']}/{product['id']}/1"
    assert sorted((row["entity_id"], row["offer_id"], row["shown"]) for row in audited) == sorted(
        [(base, None, False), (f"{base}/{offer['id']}", offer["id"], True)]
    )


@pytest.mark.parametrize(
    ("whose", "field", "message"),
    [
        ("unknown", "prices[1].offer_id", "no offer has this id"),
        ("another product's", "prices[1].offer_id", "is an offer of another product"),
        ("not an id", "prices[1].offer_id", "not an offer id"),
        ("with quantity rules", "prices[1].quantity_rules", "takes no quantity rules"),
    ],
)
async def test_an_entry_naming_no_offer_of_its_product_is_refused_and_nothing_is_stored(
    client: Client,
    admin: Caller,
    product: dict[str, Any],
    pool: asyncpg.Pool,
    whose: str,
    field: str,
    message: str,
) -> None:
    offer = await make_offer(client, admin, product)
    elsewhere = await create_product(
        client, admin, seller_id="seller-z", base_price="9.00", min_price="0", cost_price="0"
    )
    theirs = await make_offer(client, admin, elsewhere, seller_id="seller-y", current_price="8.00")
    named: dict[str, Any] = {
        "unknown": {"offer_id": "00000000-0000-4000-8000-000000000001"},
        "another product's": {"offer_id": theirs["id"]},
        "not an id": {"offer_id": "seller-b"},
        "with quantity rules": {"offer_id": offer["id"], "quantity_rules": {"min_qty": 2}},
    }[whose]
    body = {"name": "Bad", "currency": "TRY", "prices": [entry(product, "38.00"), entry(product, "30.00", **named)]}
    refused = field_errors(
        expect_error(await client.post(LISTS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    assert list(refused) == [field]
    assert message in refused[field]
    assert await pool.fetchval("SELECT count(*) FROM price_lists") == 0

    kept = await make_list(client, admin, entry(product, "38.00"))
    upsert = await client.put(
        f"{LISTS}/{kept['id']}/prices",
        json={"prices": [entry(product, "1.00"), entry(product, "30.00", **named)]},
        headers=admin.headers,
    )
    assert list(field_errors(expect_error(upsert, 422, "VALIDATION_FAILED"))) == [field]
    read = expect_ok(await client.get(f"{LISTS}/{kept['id']}", headers=admin.headers))
    assert read["prices"] == [{"product_id": product["id"], "amount": "38.00", "min_quantity": 1}]


async def test_a_list_in_another_currency_prices_an_offer_it_names(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product)
    # Without a EUR entry the TRY offer cannot be quoted in euros; with one it is priced from it.
    refused = await quote(client, service_key, item(product, offer_id=offer["id"]), currency="EUR")
    assert set(field_errors(expect_error(refused, 422, "CURRENCY_NOT_PRICED"))) == {"items[0].offer_id"}
    listed = await make_list(client, admin, entry(product, "3.10", offer_id=offer["id"]), currency="EUR")
    made = expect_ok(await quote(client, service_key, item(product, offer_id=offer["id"]), currency="EUR"))
    line = made["items"][0]
    assert (line["price_source"], line["price_list_id"], line["list_unit_price"]) == (
        "price_list",
        listed["id"],
        "3.10",
    )
    assert made["currency"] == "EUR"


async def test_a_flash_sale_item_without_offer_id_sells_the_default_offer_only(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    """(Items naming an offer: test_offer_flash_sales.py.)"""
    offer = await make_offer(client, admin, product, current_price="35.00", stock=20)
    expect_ok(await client.post(SALES, json=sale_body(product["id"]), headers=admin.headers), 201)
    own = await line_of(client, service_key, item(product, 1, seller_id="seller-a"))
    assert (own["price_source"], own["unit_price"]) == ("flash_sale", "15.00")
    sold = await line_of(client, service_key, item(product, 1, offer_id=offer["id"]))
    assert (sold["price_source"], sold["unit_price"], sold["flash_sale_id"]) == ("catalog", "35.00", None)

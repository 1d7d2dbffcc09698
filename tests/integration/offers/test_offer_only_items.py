"""An item may name its offer alone (docs/offers.md#naming-an-offer): the offer names its product. So in a
quote (a reserving one too), an order edit's `add` and `replace[].with`, a flash sale's items and a flash
purchase. An unknown or inactive offer is 422 naming `items[i].offer_id`; an item naming neither is 422 naming
`items[i].product_id`; nothing changes."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import SALES
from tests.integration.offers.test_offer_edits import commit, place, preview
from tests.integration.offers.test_offer_flash_sales import body as sale_body
from tests.integration.offers.test_offer_flash_sales import buy, item
from tests.integration.offers.test_offers_api import OFFERS, Client, make_offer, quote
from tests.integration.offers.test_offers_api import product as product  # the fixture

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def offered(offer: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
    """An item naming only its offer."""
    return {"offer_id": offer["id"], "quantity": quantity}


async def test_a_quote_item_naming_only_its_offer_is_priced_from_that_offer(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", stock=5)

    alone = expect_ok(await quote(client, service_key, offered(offer, 2)))
    both = expect_ok(await quote(client, service_key, {"product_id": product["id"], **offered(offer, 2)}))

    line = alone["items"][0]
    assert (line["product_id"], line["offer_id"], line["seller_id"]) == (product["id"], offer["id"], "seller-b")
    assert (line["unit_price"], line["offer_selection"]) == ("35.00", "named")
    assert alone["total_amount"] == both["total_amount"]


async def test_a_reserving_quote_naming_only_an_offer_holds_the_offers_units(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", stock=5)

    held = expect_ok(await quote(client, service_key, offered(offer, 3), reserve_stock=True))

    assert held["reservation"]["lines"] == [{"product_id": product["id"], "quantity": 3, "offer_id": offer["id"]}]
    holds = "SELECT sum(quantity) FROM reservation_offer_holds WHERE offer_id = $1"
    assert await pool.fetchval(holds, uuid.UUID(offer["id"])) == 3


async def test_items_naming_an_unknown_or_inactive_offer_or_nothing_are_refused_naming_the_field(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", stock=5)
    expect_ok(await client.patch(f"{OFFERS}/{offer['id']}", json={"is_active": False}, headers=admin.headers))

    refused = await quote(
        client,
        service_key,
        {"offer_id": UNKNOWN, "quantity": 1},
        offered(offer),
        {"quantity": 1},
        {"product_id": product["id"], "quantity": 1},
    )

    errors = field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))
    assert set(errors) == {"items[0].offer_id", "items[1].offer_id", "items[2].product_id"}
    missing = await quote(client, service_key, {"quantity": 1, "unit_price": "5.00"})
    assert set(field_errors(expect_error(missing, 422, "VALIDATION_FAILED"))) == {"items[0].product_id"}


async def test_an_edit_adds_and_exchanges_for_items_naming_only_their_offer(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=5)
    other = await create_product(
        client, admin, seller_id="seller-c", base_price="20.00", min_price="0", cost_price="0", stock=5
    )
    order = await place(client, service_key, {"product_id": other["id"], "quantity": 2})

    edit = expect_ok(await preview(client, service_key, order["id"], {"add": [offered(offer, 2)]}), 201)
    added = [(a["product_id"], a.get("offer_id"), a["unit_price"]) for a in edit["items"] if not a["kept"]]
    assert added == [(product["id"], offer["id"], "30.00")]
    edited = expect_ok(await commit(client, service_key, order["id"], edit["edit_id"]))
    sold = [(line["product_id"], line.get("offer_id"), line["quantity"]) for line in edited["items"]]
    assert (product["id"], offer["id"], 2) in sold
    assert await pool.fetchval("SELECT stock FROM offers WHERE id = $1", uuid.UUID(offer["id"])) == 3

    exchange = {"replace": [{"product_id": other["id"], "quantity": 1, "with": offered(offer, 1)}]}
    swapped = expect_ok(await preview(client, service_key, order["id"], exchange), 201)
    units = {(a["product_id"], a.get("offer_id")): a["quantity"] for a in swapped["items"]}
    assert units == {(other["id"], None): 1, (product["id"], offer["id"]): 3}

    unknown = await preview(client, service_key, order["id"], {"add": [{"offer_id": UNKNOWN, "quantity": 1}]})
    assert set(field_errors(expect_error(unknown, 422, "VALIDATION_FAILED"))) == {"add[0].offer_id"}
    neither = await preview(
        client, service_key, order["id"], {"replace": [{**exchange["replace"][0], "with": {"quantity": 1}}]}
    )
    assert set(field_errors(expect_error(neither, 422, "VALIDATION_FAILED"))) == {"replace[0].with.product_id"}


async def test_a_flash_sale_item_and_a_purchase_may_name_only_the_offer(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", min_price="20.00", stock=8)
    sale_item = {k: v for k, v in item(product, "25.00", offer_id=offer["id"]).items() if k != "product_id"}

    sale = expect_ok(await client.post(SALES, json=sale_body(sale_item), headers=admin.headers), 201)

    assert [(i["product_id"], i["offer_id"]) for i in sale["items"]] == [(product["id"], offer["id"])]
    bought = expect_ok(
        await buy(client, service_key, sale, {"offer_id": offer["id"], "quantity": 1, "customer_id": "c-1"}), 201
    )
    assert (bought["product_id"], bought["offer_id"], bought["unit_price"]) == (product["id"], offer["id"], "25.00")
    neither = await buy(client, service_key, sale, {"quantity": 1, "customer_id": "c-1"})
    assert set(field_errors(expect_error(neither, 422, "VALIDATION_FAILED"))) == {"product_id"}

    unknown = {**sale_item, "offer_id": UNKNOWN}
    nothing = {k: v for k, v in sale_item.items() if k != "offer_id"}
    refused = await client.post(SALES, json=sale_body(unknown, nothing), headers=admin.headers)
    assert set(field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))) == {
        "items[0].offer_id",
        "items[1].product_id",
    }
    cheap = item(product, "0.001")  # too many decimals: never reported at another item's position
    misnamed = await client.post(SALES, json=sale_body(unknown, cheap), headers=admin.headers)
    assert set(field_errors(expect_error(misnamed, 422, "VALIDATION_FAILED"))) == {"items[0].offer_id"}


async def test_a_flash_sale_item_naming_an_inactive_offer_alone_is_refused(
    client: Client, admin: Caller, product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", min_price="20.00", stock=8)
    expect_ok(await client.patch(f"{OFFERS}/{offer['id']}", json={"is_active": False}, headers=admin.headers))
    sale_item = {k: v for k, v in item(product, "25.00", offer_id=offer["id"]).items() if k != "product_id"}

    refused = await client.post(SALES, json=sale_body(sale_item), headers=admin.headers)

    assert set(field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))) == {"items[0].offer_id"}
    assert expect_ok(await client.get(SALES, headers=admin.headers))["items"] == []

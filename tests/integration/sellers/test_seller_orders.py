"""A seller reads the orders holding its lines, and only its part of them (docs/sellers.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quote_service.config import Settings
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.sellers.conftest import Client
from tests.integration.shipping.test_shipping_orders import keyed, ordered

ORDERS = "/api/v1/orders"


async def test_a_seller_sees_its_lines_shipment_and_totals_only(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings, password_hash: str
) -> None:
    _, order = await ordered(client, admin, service_key)  # two of seller-a's 40.00, one of seller-b's 30.00
    seller_a = await make_caller(settings, password_hash, "seller-a-login", "seller", seller_id="seller-a")
    seller_c = await make_caller(settings, password_hash, "seller-c-login", "seller", seller_id="seller-c")
    url = f"{ORDERS}/{order['id']}"

    seen = await client.get(url, headers=seller_a.headers)
    mine = expect_ok(seen)
    assert "seller-b" not in seen.text
    assert [(i["seller_id"], i["quantity"]) for i in mine["items"]] == [("seller-a", 2)]
    assert [s["seller_id"] for s in mine["shipments"]] == ["seller-a"]
    assert [s["seller_id"] for s in mine["sellers"]] == ["seller-a"]
    (line,) = mine["items"]
    assert mine["subtotal"] == line["line_subtotal"] == "80.00"
    assert (mine["delivery_fee"], mine["small_basket_fee"], mine["logistics_commission"]) == ("6.40", "0.00", "0.64")
    assert Decimal(mine["total_amount"]) == Decimal(line["net"]) + Decimal(line["tax"]) + Decimal("6.40")
    commission = mine["commission_breakdown"]
    assert {d["product_id"] for d in commission["details"]} == {line["product_id"]}
    assert Decimal(commission["total_commission"]) == (
        Decimal(line["commission"]["seller"]) + Decimal(line["commission"]["category"]) + Decimal("0.64")
    )
    assert (mine["id"], mine["customer_id"], mine["status"]) == (order["id"], order["customer_id"], order["status"])

    listed = expect_ok(await client.get(ORDERS, headers=seller_a.headers))["items"]
    assert listed == [mine]
    narrowed = {"customer_id": order["customer_id"], "seller_id": "seller-a", "status": "confirmed"}
    assert expect_ok(await client.get(ORDERS, params=narrowed, headers=seller_a.headers))["items"] == [mine]
    for widening in ({"seller_id": "seller-b"}, {"seller_id": "seller-b", "customer_id": order["customer_id"]}):
        expect_error(await client.get(ORDERS, params=widening, headers=seller_a.headers), 404, "NOT_FOUND")

    # A seller with no line in it: the order does not exist, and its list is empty.
    gone = expect_error(await client.get(url, headers=seller_c.headers), 404, "NOT_FOUND")
    assert gone["message"] == f"order {order['id']} not found"
    assert expect_ok(await client.get(ORDERS, headers=seller_c.headers))["items"] == []
    for write in (f"{url}/cancel", f"{url}/refunds"):
        expect_error(await client.post(write, json={}, headers=seller_a.headers), 403, "FORBIDDEN")
    expect_error(await client.get(f"{url}/refunds", headers=seller_a.headers), 403, "FORBIDDEN")
    # The admin's view is the whole order, unchanged.
    assert expect_ok(await client.get(url, headers=admin.headers)) == order


async def test_a_seller_sees_only_the_refunds_of_its_own_lines_and_shipment(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings, password_hash: str
) -> None:
    _, order = await ordered(client, admin, service_key)  # two of seller-a's 40.00, one of seller-b's 30.00
    seller_a = await make_caller(settings, password_hash, "seller-a-login", "seller", seller_id="seller-a")
    seller_b = await make_caller(settings, password_hash, "seller-b-login", "seller", seller_id="seller-b")
    product = {line["seller_id"]: line["product_id"] for line in order["items"]}
    url = f"{ORDERS}/{order['id']}"

    async def refund(body: dict[str, Any]) -> dict[str, Any]:
        made: dict[str, Any] = expect_ok(
            await client.post(f"{url}/refunds", json=body, headers=keyed(admin.headers)), 201
        )
        return made

    theirs = await refund({"lines": [{"product_id": product["seller-b"], "quantity": 1}]})
    mine = await refund({"lines": [{"product_id": product["seller-a"], "quantity": 1}], "shipments": ["seller-a"]})
    their_fee = await refund({"shipments": ["seller-b"]})

    seen_a = expect_ok(await client.get(url, headers=seller_a.headers))
    assert seen_a["refunds"] == [mine["id"]]
    assert seen_a["refunded_amount"] == mine["total_refunded"]  # its unit, its tax and its shipment's 6.40
    seen_b = expect_ok(await client.get(url, headers=seller_b.headers))
    assert seen_b["refunds"] == [theirs["id"], their_fee["id"]]
    assert Decimal(seen_b["refunded_amount"]) == Decimal(theirs["total_refunded"]) + Decimal("10.00")
    assert expect_ok(await client.get(ORDERS, headers=seller_a.headers))["items"] == [seen_a]
    whole = expect_ok(await client.get(url, headers=admin.headers))
    assert whole["refunds"] == [theirs["id"], mine["id"], their_fee["id"]]
    assert Decimal(whole["refunded_amount"]) == Decimal(seen_a["refunded_amount"]) + Decimal(seen_b["refunded_amount"])

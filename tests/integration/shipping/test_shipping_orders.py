"""Orders, refunds and statements of quotes with shipments (docs/shipping.md#orders-refunds-and-statements):
the order keeps its shipments and per-seller totals, a refund gives a shipment's fee back once by naming
its seller, and the seller's statement and ledger carry its delivery fees net of those given back."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.shipping.test_shipping_quotes import basket, quote_of

Client = AsyncTestClient[Litestar]
CARGO_RATE = {
    "logistics_provider": "cargo",
    "commission_type": "PERCENTAGE",
    "rate": "10",
    "currency": "TRY",
    "effective_from": "2020-01-01T00:00:00Z",
}


def keyed(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


async def ordered(client: Client, admin: Caller, service_key: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seller B's 30.00 (its shipment by the delivery rules, 10.00) and two of seller A's 40.00 (its
    profile's standard option, 6.40), with a 10 % logistics commission on each fee; the quote and its order."""
    mine, theirs = await basket(client, admin)
    expect_ok(await client.post("/api/v1/commission-rates", json=CARGO_RATE, headers=admin.headers), 201)
    quote = expect_ok(await quote_of(client, service_key, (theirs, 1), (mine, 2), logistics_provider="cargo"))
    order = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=keyed(service_key)), 201
    )
    return quote, order


async def refund(client: Client, admin: Caller, order: dict[str, Any], body: dict[str, Any]) -> Any:
    return await client.post(f"/api/v1/orders/{order['id']}/refunds", json=body, headers=keyed(admin.headers))


async def test_an_order_keeps_its_shipments_and_per_seller_totals(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    quote, order = await ordered(client, admin, service_key)

    assert [s["logistics_commission"] for s in quote["shipments"]] == ["1.00", "0.64"]
    assert order["shipments"] == [{**s, "refund_id": None} for s in quote["shipments"]]
    assert order["sellers"] == quote["sellers"]
    assert order["delivery_fee"] == "16.40"
    again = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))
    assert again["shipments"] == order["shipments"]


async def test_a_refund_gives_a_shipments_fee_back_once_by_naming_its_seller(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    _, order = await ordered(client, admin, service_key)

    given = expect_ok(await refund(client, admin, order, {"shipments": ["seller-a"], "reason": "lost parcel"}), 201)
    assert (given["lines"], given["shipments"]) == ([], ["seller-a"])
    assert (given["delivery_fee"], given["logistics_commission"], given["small_basket_fee"]) == ("6.40", "0.64", "0.00")
    assert (given["total_refunded"], given["commission_reversed"]) == ("6.40", "0.64")
    refused = await refund(client, admin, order, {"shipments": ["seller-a"]})
    assert set(field_errors(expect_error(refused, 409, "REFUND_EXCEEDS_ORDER"))) == {"shipments[0]"}
    unknown = await refund(client, admin, order, {"shipments": ["seller-z"]})
    assert set(field_errors(expect_error(unknown, 422, "VALIDATION_FAILED"))) == {"shipments[0]"}

    lines = [{"product_id": i["product_id"], "quantity": i["quantity"]} for i in order["items"]]
    rest = expect_ok(await refund(client, admin, order, {"lines": lines, "include_fees": True}), 201)
    assert (rest["delivery_fee"], rest["logistics_commission"], rest["shipments"]) == ("10.00", "1.00", ["seller-b"])
    after = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))
    assert [s["refund_id"] for s in after["shipments"]] == [rest["id"], given["id"]]
    assert after["status"] == "refunded"
    assert after["refunded_amount"] == after["total_amount"]


async def test_a_sellers_statement_and_ledger_carry_its_delivery_fees_net_of_those_given_back(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    _, order = await ordered(client, admin, service_key)
    url = "/api/v1/sellers/seller-a/statement"
    placed = expect_ok(await client.get(url, headers=service_key))
    expect_ok(await refund(client, admin, order, {"shipments": ["seller-a"]}), 201)
    shown = expect_ok(await client.get(url, headers=service_key))
    ledger = expect_ok(await client.get(f"{url}/entries", headers=service_key))["items"]

    # Goods 80.00, tax 14.40, commission 15 % = 12.00 and 10 % of its 6.40 fee = 0.64.
    assert (placed["delivery_fees"], placed["commission_charged"], placed["payout"]) == ("6.40", "12.64", "88.16")
    assert (shown["delivery_fees"], shown["commission_reversed"], shown["payout"]) == ("0.00", "0.64", "82.40")
    assert [(e["kind"], e["goods"], e["commission"], e["delivery_fees"], e["payout"]) for e in ledger] == [
        ("order", "80.00", "12.64", "6.40", "88.16"),
        ("refund", "0.00", "-0.64", "-6.40", "-5.76"),
    ]
    theirs = expect_ok(await client.get("/api/v1/sellers/seller-b/statement", headers=service_key))
    assert (theirs["delivery_fees"], theirs["commission_charged"], theirs["payout"]) == ("10.00", "5.50", "39.90")


async def test_a_cancel_gives_every_shipments_fee_back(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    _, order = await ordered(client, admin, service_key)

    cancelled = expect_ok(
        await client.post(f"/api/v1/orders/{order['id']}/cancel", json={}, headers=keyed(admin.headers))
    )

    assert cancelled["status"] == "cancelled"
    assert len({s["refund_id"] for s in cancelled["shipments"]}) == 1
    assert None not in {s["refund_id"] for s in cancelled["shipments"]}
    statement = expect_ok(await client.get("/api/v1/sellers/seller-a/statement", headers=service_key))
    assert (statement["delivery_fees"], statement["payout"]) == ("0.00", "0.00")

"""Commission as marketplaces charge it, over HTTP (docs/commission.md): rates with bases, FLAT per line,
shipment or order and named components; quotes, orders, refunds, statements and ledger entries that carry
the fees; reversals with the shipment's and the order's last unit; a cancel that reverses everything."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.orders.test_orders_api import key

Client = AsyncTestClient[Litestar]
D = Decimal
RATES = "/api/v1/commission-rates"
SINCE = "2020-01-01T00:00:00Z"
CHEAP = {"min_price": "1.00", "cost_price": "0.50"}


def rate_body(**fields: Any) -> dict[str, Any]:
    return {"commission_type": "PERCENTAGE", "rate": "10", "currency": "TRY", "effective_from": SINCE, **fields}


async def rates(client: Client, admin: Caller, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    return [expect_ok(await client.post(RATES, json=rate_body(**body), headers=admin.headers), 201) for body in bodies]


MERCUR = (  # Mercur #1357/#1358: sales 5 % + payment processing 4 % (of what the customer pays) + 1.00 an order
    {"rate": "5"},
    {"component": "payment_fee", "rate": "4", "base": "gross"},
    {"component": "platform_fee", "commission_type": "FLAT", "rate": "1.00", "per": "order"},
)


async def quoted(client: Client, caller: Caller, *items: tuple[dict[str, Any], int]) -> dict[str, Any]:
    body = {
        "customer_id": "c-fees",
        "items": [{"product_id": product["id"], "quantity": units} for product, units in items],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }
    data: dict[str, Any] = expect_ok(await client.post("/api/v1/quote", json=body, headers=caller.headers))
    return data


async def ordered(client: Client, caller: Caller, quote: dict[str, Any]) -> dict[str, Any]:
    headers = {**caller.headers, **key()}
    data: dict[str, Any] = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers), 201
    )
    return data


async def refunded(client: Client, admin: Caller, order_id: str, product: dict[str, Any], units: int) -> Any:
    body = {"lines": [{"product_id": product["id"], "quantity": units}]}
    return expect_ok(
        await client.post(f"/api/v1/orders/{order_id}/refunds", json=body, headers={**admin.headers, **key()}), 201
    )


async def statement(client: Client, admin: Caller, seller: str) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.get(f"/api/v1/sellers/{seller}/statement", headers=admin.headers))
    return data


async def ledger(client: Client, admin: Caller, seller: str) -> list[dict[str, Any]]:
    url = f"/api/v1/sellers/{seller}/statement/entries"
    items: list[dict[str, Any]] = expect_ok(await client.get(url, headers=admin.headers))["items"]
    return items


def fees_of(shown: list[dict[str, Any]]) -> dict[str, str]:
    return {fee["name"]: fee["amount"] for fee in shown}


# --- rates -----------------------------------------------------------------------------------------


async def test_a_rate_shows_base_and_per_only_when_set(client: Client, admin: Caller) -> None:
    plain, fee = await rates(
        client, admin, {}, {"component": "platform_fee", "commission_type": "FLAT", "rate": "1", "per": "order"}
    )

    assert ("base" in plain, "per" in plain) == (False, False)
    assert (fee["component"], fee["per"], fee["rate"]) == ("platform_fee", "order", "1.00")
    gross = expect_ok(await client.patch(f"{RATES}/{plain['id']}", json={"base": "gross"}, headers=admin.headers))
    assert gross["base"] == "gross"
    assert expect_ok(await client.get(f"{RATES}/{plain['id']}", headers=admin.headers))["base"] == "gross"


async def test_refused_shapes_name_their_field(client: Client, admin: Caller) -> None:
    cases = [
        ({"component": "Payment-Fee"}, "component"),
        ({"component": "9fee"}, "component"),
        ({"component": "f" * 33}, "component"),
        ({"component": "payment_fee", "per": "order"}, "per"),  # a percentage is a share, not an amount per order
        ({"commission_type": "FLAT", "rate": "1", "base": "gross"}, "base"),
        ({"logistics_provider": "FastShip", "base": "gross"}, "base"),
        ({"base": "net_of_everything"}, "base"),
        ({"commission_type": "FLAT", "rate": "1", "per": "basket"}, "per"),
    ]
    for body, field in cases:
        refused = expect_error(
            await client.post(RATES, json=rate_body(**body), headers=admin.headers), 422, "VALIDATION_FAILED"
        )
        assert field in field_errors(refused), (body, refused)
    assert expect_ok(await client.get(RATES, headers=admin.headers))["items"] == []


# --- quotes, orders, refunds, statements -----------------------------------------------------------


async def test_the_mercur_fees_through_quote_order_refunds_and_statements(
    client: Client, admin: Caller, settings: Settings, password_hash: str
) -> None:
    await rates(client, admin, *MERCUR)
    one, two = f"s-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    phone = await create_product(client, admin, seller_id=one, base_price="100.00", **CHEAP, stock=5)
    case = await create_product(client, admin, seller_id=two, base_price="50.00", **CHEAP, stock=5)

    quote = await quoted(client, admin, (phone, 2), (case, 1))

    # 200.00 + 18 % = 236.00 and 50.00 + 18 % = 59.00: sales 5 % = 10.00 + 2.50, payment 4 % of the gross
    # = 9.44 + 2.36, one platform fee for the order, charged to the seller of the first line.
    breakdown = quote["commission_breakdown"]
    assert breakdown["category_commission"] == "12.50"
    assert breakdown["fees"] == [{"name": "payment_fee", "amount": "11.80"}, {"name": "platform_fee", "amount": "1.00"}]
    assert breakdown["total_commission"] == "25.30"
    order = await ordered(client, admin, quote)
    assert order["commission_breakdown"]["fees"] == breakdown["fees"]
    assert order["commission_breakdown"]["total_commission"] == "25.30"
    assert [fees_of(line["commission"].get("fees", [])) for line in order["items"]] == [
        {"payment_fee": "9.44"},
        {"payment_fee": "2.36"},
    ]
    [platform] = [d for d in order["commission_breakdown"]["details"] if d.get("per")]
    assert (platform["dimension"], platform["per"], platform["seller_id"], platform["amount"]) == (
        "platform_fee",
        "order",
        one,
        "1.00",
    )
    # Each seller's view of the order: its lines' fees, and the platform fee charged to seller one.
    views = {}
    for seller in (one, two):
        login = await make_caller(settings, password_hash, f"login-{seller}", "seller", seller_id=seller)
        views[seller] = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=login.headers))
    assert [
        (fees_of(v["commission_breakdown"]["fees"]), v["commission_breakdown"]["total_commission"])
        for v in views.values()
    ] == [
        ({"payment_fee": "9.44", "platform_fee": "1.00"}, "20.44"),
        ({"payment_fee": "2.36", "platform_fee": "0.00"}, "4.86"),
    ]
    first = await statement(client, admin, one)
    assert (first["commission_charged"], first["fees"], first["payout"]) == (
        "20.44",  # 10.00 + 9.44 + 1.00
        {"payment_fee": "9.44", "platform_fee": "1.00"},
        "215.56",  # 200.00 + 36.00 - 20.44
    )

    # One phone back: its share of the sales and payment fees; the platform fee stays (units are left).
    back = await refunded(client, admin, order["id"], phone, 1)
    assert (back["commission_reversed"], back["commission_fees"]) == (
        "9.72",
        [{"name": "payment_fee", "amount": "4.72"}],
    )
    assert back["lines"][0]["commission"]["fees"] == [{"name": "payment_fee", "amount": "4.72"}]
    await refunded(client, admin, order["id"], phone, 1)
    # The case, the order's last unit: its fees, and the order's platform fee (seller one's) with it.
    last = await refunded(client, admin, order["id"], case, 1)
    assert last["commission_reversed"] == "5.86"  # 2.50 + 2.36 + 1.00
    assert fees_of(last["commission_fees"]) == {"payment_fee": "2.36", "platform_fee": "1.00"}

    first = await statement(client, admin, one)
    assert (first["commission_charged"], first["commission_reversed"], first["net_commission"]) == (
        "20.44",
        "20.44",
        "0.00",
    )
    assert first["fees"] == {"payment_fee": "0.00", "platform_fee": "0.00"}
    entries = await ledger(client, admin, one)
    assert [(e["kind"], e["commission"], e.get("fees")) for e in entries] == [
        ("order", "20.44", {"payment_fee": "9.44", "platform_fee": "1.00"}),
        ("refund", "-9.72", {"payment_fee": "-4.72"}),
        ("refund", "-9.72", {"payment_fee": "-4.72"}),
        ("refund", "-1.00", {"platform_fee": "-1.00"}),  # the case's refund reverses seller one's platform fee
    ]
    second = await statement(client, admin, two)
    assert (second["commission_charged"], second["net_commission"], second["fees"]) == (
        "4.86",
        "0.00",
        {"payment_fee": "0.00"},
    )


async def test_a_shipment_fee_comes_back_with_its_sellers_last_unit(client: Client, admin: Caller) -> None:
    await rates(client, admin, {"component": "pick_fee", "commission_type": "FLAT", "rate": "0.50", "per": "shipment"})
    one, two = f"s-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    a = await create_product(client, admin, seller_id=one, base_price="30.00", **CHEAP)
    b = await create_product(client, admin, seller_id=one, base_price="40.00", **CHEAP)
    c = await create_product(client, admin, seller_id=two, base_price="50.00", **CHEAP)
    order = await ordered(client, admin, await quoted(client, admin, (a, 1), (b, 1), (c, 1)))
    assert fees_of(order["commission_breakdown"]["fees"]) == {"pick_fee": "1.00"}  # once per seller's shipment

    first = await refunded(client, admin, order["id"], a, 1)
    assert "commission_fees" not in first  # seller one still ships b
    second = await refunded(client, admin, order["id"], b, 1)
    assert fees_of(second["commission_fees"]) == {"pick_fee": "0.50"}

    assert (await statement(client, admin, one))["fees"] == {"pick_fee": "0.00"}
    assert (await statement(client, admin, two))["fees"] == {"pick_fee": "0.50"}


async def test_a_cancel_reverses_every_fee(client: Client, admin: Caller) -> None:
    pick_fee = {"component": "pick_fee", "commission_type": "FLAT", "rate": "0.50", "per": "shipment"}
    await rates(client, admin, *MERCUR, pick_fee)
    seller = f"s-{uuid.uuid4().hex[:8]}"
    goods = await create_product(client, admin, seller_id=seller, base_price="80.00", **CHEAP)
    order = await ordered(client, admin, await quoted(client, admin, (goods, 3)))
    url = f"/api/v1/orders/{order['id']}/cancel"
    expect_ok(await client.post(url, json={}, headers={**admin.headers, **key()}))

    shown = await statement(client, admin, seller)
    assert D(shown["commission_charged"]) > 0
    assert shown["net_commission"] == "0.00"
    assert set(shown["fees"].values()) == {"0.00"}
    assert shown["payout"] == "0.00"


async def test_the_commission_report_counts_each_sellers_fees_and_what_refunds_reversed(
    client: Client, admin: Caller, pool: Any
) -> None:
    from quote_service.analytics.rollups import RollupJob, rebuild
    from quote_service.clock import utcnow

    await rates(client, admin, *MERCUR, {"component": "pick_fee", "commission_type": "FLAT", "rate": "0.50",
                                         "per": "shipment"})  # fmt: skip
    one, two = f"s-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    phone = await create_product(client, admin, seller_id=one, base_price="100.00", **CHEAP, stock=5)
    case = await create_product(client, admin, seller_id=two, base_price="50.00", **CHEAP, stock=5)
    order = await ordered(client, admin, await quoted(client, admin, (phone, 2), (case, 1)))
    await refunded(client, admin, order["id"], case, 1)  # seller two's last unit: its pick fee too

    async def report(group_by: str) -> dict[str, Any]:
        url = f"/api/v1/analytics/commission?group_by={group_by}"
        return {row["key"]: row for row in expect_ok(await client.get(url, headers=admin.headers))["rows"]}

    for _ in range(2):  # live, then from the rollups (rebuilt)
        sellers = await report("seller")
        # One: payment 9.44 + its pick fee 0.50 + the platform fee 1.00 charged to it; two: 2.36 + 0.50,
        # all of which its refund reversed.
        assert {k: (v["fees"], v["reversed"]["fees"], v["net"]["fees"]) for k, v in sellers.items()} == {
            one: ("10.94", "0.00", "10.94"),
            two: ("2.86", "2.86", "0.00"),
        }
        assert sellers[one]["total_commission"] == "20.94"  # 10.00 + 10.94
        assert sellers[two]["reversed"]["total_commission"] == "5.36"  # 2.50 + 2.86
        assert sellers[two]["net"]["total_commission"] == "0.00"
        [day] = (await report("day")).values()
        assert (day["fees"], day["reversed"]["fees"], day["total_commission"]) == ("13.80", "2.86", "26.30")
        assert day["reversed"]["total_commission"] == "5.36"
        await rebuild(pool, now=utcnow())
        await RollupJob(pool, clock=utcnow).tick()

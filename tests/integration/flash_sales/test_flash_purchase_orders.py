"""A flash "Buy now" purchase is an order for the books (docs/flash-sales.md#a-purchase-is-an-order).

Before, a purchase charged the flash price alone — no tax, no commission — and nothing of it reached
the seller's statement, ledger or webhooks. Here a seller of its own sells a product under an 8 %
TAX_RATE rule of its category, a 10 % category commission and a 5 % seller commission, with
COMMISSION_TAX_RATE 20 %; every expected amount below is worked out by hand from those rates.
"""

from __future__ import annotations

import json
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg
import msgspec
import pytest

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.flash import SALES, Client, buy, new_sale, stock_of
from tests.integration.webhooks.test_webhooks_api import subscribe

D = Decimal
CENT = D("0.01")
FLASH_PRICE = D("33.33")
UNITS = 3
TAX_RATE, CATEGORY_RATE, SELLER_RATE, COMMISSION_TAX_RATE = D(8), D(10), D(5), D(20)
DELIVERY_FEE = D("10.00")
"""DEFAULT_DELIVERY_FEE (TRY): a purchase names no delivery place, as a quote delivering nowhere in particular."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No webhook sender: the events are read from the outbox as written.
    return msgspec.structs.replace(settings, commission_tax_rate=COMMISSION_TAX_RATE, webhook_poll_interval=0)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def money(amount: Decimal) -> str:
    return str(cents(amount))


async def on_sale(client: Client, admin: Caller) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A seller of its own with its rates and tax rule, its product (stock 50) and a sale of 10 of it at
    33.33, 3 per customer; returns (sale, product, seller)."""
    seller, category = f"fs-{uuid.uuid4().hex[:10]}", f"fc-{uuid.uuid4().hex[:10]}"
    since = "2020-01-01T00:00:00Z"
    rule = {"name": f"tax-{category}", "type": "TAX_RATE", "category_id": category,
            "configuration": {"rate": str(TAX_RATE)}, "effective_from": since}  # fmt: skip
    expect_ok(await client.post("/api/v1/pricing-rules", json=rule, headers=admin.headers), 201)
    for part in (
        {"category_id": category, "rate": str(CATEGORY_RATE)},
        {"seller_id": seller, "rate": str(SELLER_RATE)},
    ):
        rate = {**part, "commission_type": "PERCENTAGE", "currency": "TRY", "effective_from": since}
        expect_ok(await client.post("/api/v1/commission-rates", json=rate, headers=admin.headers), 201)
    product = await create_product(
        client, admin, seller_id=seller, category_id=category, base_price="40.00", min_price="30.00", stock=50
    )
    sale, _ = await new_sale(
        client, admin, product=product, item={"flash_price": str(FLASH_PRICE), "per_user_limit": UNITS}
    )
    return sale, product, seller


def expected() -> dict[str, Decimal]:
    """The purchase of UNITS units, worked out from the rates (each amount rounded half up once)."""
    goods = cents(FLASH_PRICE * UNITS)  # 99.99
    tax = cents(goods * TAX_RATE / 100)  # 8.00
    category = cents(goods * CATEGORY_RATE / 100)  # 10.00
    seller = cents(goods * SELLER_RATE / 100)  # 5.00
    commission_tax = cents((category + seller) * COMMISSION_TAX_RATE / 100)  # 3.00
    small_basket = D(0)  # goods over the 50.00 threshold
    return {
        "goods": goods,
        "tax": tax,
        "category": category,
        "seller": seller,
        "commission_tax": commission_tax,
        "total": goods + tax + DELIVERY_FEE + small_basket,
        "payout": goods + tax - category - seller - commission_tax,
    }


async def statement(client: Client, admin: Caller, seller: str) -> dict[str, Any]:
    shown: dict[str, Any] = expect_ok(await client.get(f"/api/v1/sellers/{seller}/statement", headers=admin.headers))
    return shown


async def entries(client: Client, admin: Caller, seller: str) -> list[dict[str, Any]]:
    url = f"/api/v1/sellers/{seller}/statement/entries"
    page: dict[str, Any] = expect_ok(await client.get(url, headers=admin.headers))
    items: list[dict[str, Any]] = page["items"]
    return items


async def events_of(pool: asyncpg.Pool, event_type: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT body FROM webhook_events")
    return [event for event in (json.loads(row["body"]) for row in rows) if event["type"] == event_type]


async def test_a_purchase_is_an_order_with_tax_commission_statement_ledger_and_webhook(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    await subscribe(client, admin, "https://erp.example/events", ["order.created"])
    sale, product, seller = await on_sale(client, admin)
    want = expected()

    bought = expect_ok(await buy(client, shopper.headers, sale, quantity=UNITS, key="buy-once"), 201)

    assert (bought["unit_price"], bought["quantity"], bought["currency"]) == (money(FLASH_PRICE), UNITS, "TRY")
    assert {name: bought[name] for name in ("subtotal", "discount_amount", "tax_amount", "delivery_fee",
                                            "small_basket_fee", "total")} == {
        "subtotal": money(want["goods"]), "discount_amount": "0.00", "tax_amount": money(want["tax"]),
        "delivery_fee": money(DELIVERY_FEE), "small_basket_fee": "0.00", "total": money(want["total"]),
    }  # fmt: skip
    assert "tax_included" not in bought  # a net flash price: its tax is added

    # The order, linked both ways, as any order reads.
    order = expect_ok(await client.get(f"/api/v1/orders/{bought['order_id']}", headers=shopper.headers))
    assert (order["purchase_id"], order["flash_sale_id"]) == (bought["purchase_id"], sale["id"])
    assert (order["customer_id"], order["status"], order["total_amount"]) == (str(shopper.id), "confirmed",
                                                                              bought["total"])  # fmt: skip
    assert (order["tax_amount"], order["delivery_fee"]) == (money(want["tax"]), money(DELIVERY_FEE))
    [line] = order["items"]
    assert (line["product_id"], line["quantity"], line["unit_price"], line["price_source"]) == (
        product["id"], UNITS, money(FLASH_PRICE), "flash_sale"
    )  # fmt: skip
    assert (line["seller_id"], line["flash_sale_id"], line["tax_rate"]) == (seller, sale["id"], "8")
    assert line["commission"] == {"category": money(want["category"]), "seller": money(want["seller"])}
    assert line["commission_tax"] == money(want["commission_tax"])
    listed = expect_ok(await client.get("/api/v1/orders", headers=shopper.headers))
    assert [o["id"] for o in listed["items"]] == [order["id"]]

    # The seller's statement and ledger: no special case, the order's goods, tax and commission.
    figures = await statement(client, admin, seller)
    assert {k: figures[k] for k in ("orders", "gross_sales", "tax_collected", "commission_charged", "commission_tax",
                                    "delivery_fees", "payout")} == {
        "orders": 1, "gross_sales": money(want["goods"]), "tax_collected": money(want["tax"]),
        "commission_charged": money(want["category"] + want["seller"]),
        "commission_tax": money(want["commission_tax"]), "delivery_fees": "0.00", "payout": money(want["payout"]),
    }  # fmt: skip
    [entry] = await entries(client, admin, seller)
    assert (entry["kind"], entry["order_id"], entry["goods"], entry["tax"], entry["commission"]) == (
        "order", order["id"], money(want["goods"]), money(want["tax"]), money(want["category"] + want["seller"])
    )  # fmt: skip
    assert (entry["commission_tax"], entry["payout"]) == (money(want["commission_tax"]), money(want["payout"]))

    # order.created, written with the order: the order as GET shows it.
    [created] = await events_of(pool, "order.created")
    assert created["data"]["order"]["id"] == order["id"]
    assert created["data"]["order"]["purchase_id"] == bought["purchase_id"]
    assert created["data"]["order"]["total_amount"] == bought["total"]

    # The same key: the same purchase and the same order, nothing written twice.
    again = expect_ok(await buy(client, shopper.headers, sale, quantity=UNITS, key="buy-once"), 201)
    assert again == bought
    assert len(await events_of(pool, "order.created")) == 1
    assert (await statement(client, admin, seller))["orders"] == 1
    # The admin's list of the sale's purchases, and the customer's own, show what was charged.
    admin_list = expect_ok(await client.get(f"{SALES}/{sale['id']}/purchases", headers=admin.headers))
    assert [(p["purchase_id"], p["order_id"], p["total"]) for p in admin_list["items"]] == [
        (bought["purchase_id"], order["id"], bought["total"])
    ]
    own = expect_ok(await client.get(f"{SALES}/purchases/me", headers=shopper.headers))
    assert [(p["purchase_id"], p["order_id"], p["tax_amount"]) for p in own["items"]] == [
        (bought["purchase_id"], order["id"], money(want["tax"]))
    ]


async def test_a_refund_of_a_purchase_reverses_its_tax_and_commission_and_returns_units_to_the_product(
    client: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    sale, product, seller = await on_sale(client, admin)
    want = expected()
    bought = expect_ok(await buy(client, shopper.headers, sale, quantity=UNITS), 201)
    stock = await stock_of(settings.database_url or "", product["id"])

    body = {"lines": [{"product_id": product["id"], "quantity": 1}], "reason": "one came broken"}
    refunded = expect_ok(
        await client.post(
            f"/api/v1/orders/{bought['order_id']}/refunds",
            json=body,
            headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
    )

    # One unit's share of each part, rounded half up (the last units would take the remainders).
    share = {name: cents(want[name] / UNITS) for name in ("goods", "tax", "category", "seller", "commission_tax")}
    [line] = refunded["lines"]
    assert (line["amount"], line["tax"]) == (money(share["goods"]), money(share["tax"]))
    assert line["commission"] == {"category": money(share["category"]), "seller": money(share["seller"])}
    assert refunded["total_refunded"] == money(share["goods"] + share["tax"])
    figures = await statement(client, admin, seller)
    kept = {name: want[name] - share[name] for name in share}
    assert {k: figures[k] for k in ("refunds", "tax_refunded", "commission_reversed", "commission_tax", "payout")} == {
        "refunds": money(share["goods"]), "tax_refunded": money(share["tax"]),
        "commission_reversed": money(share["category"] + share["seller"]),
        "commission_tax": money(kept["commission_tax"]),
        "payout": money(kept["goods"] + kept["tax"] - kept["category"] - kept["seller"] - kept["commission_tax"]),
    }  # fmt: skip
    assert [e["kind"] for e in await entries(client, admin, seller)] == ["order", "refund"]
    # The unit goes back to the product's stock, not to the sale (which may have ended).
    assert await stock_of(settings.database_url or "", product["id"]) == stock + 1
    left = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=shopper.headers))
    assert left["items"][0]["remaining_stock"] == 10 - UNITS


async def test_a_shopper_cancels_a_purchase_like_any_order(
    client: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    sale, product, seller = await on_sale(client, admin)
    bought = expect_ok(await buy(client, shopper.headers, sale, quantity=2), 201)
    stock = await stock_of(settings.database_url or "", product["id"])

    cancelled = expect_ok(
        await client.post(
            f"/api/v1/orders/{bought['order_id']}/cancel",
            json={},
            headers={**shopper.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
    )

    assert (cancelled["status"], cancelled["refunded_amount"]) == ("cancelled", bought["total"])
    figures = await statement(client, admin, seller)
    assert (figures["net_sales"], figures["net_commission"], figures["commission_tax"], figures["payout"]) == (
        "0.00", "0.00", "0.00", "0.00"
    )  # fmt: skip
    assert await stock_of(settings.database_url or "", product["id"]) == stock + 2


async def test_a_tax_inclusive_flash_price_holds_its_tax_and_the_seller_is_paid_the_net(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    """A gross flash price contains its tax (docs/markets.md): 118.00 at 18 % holds 18.00; the customer
    pays the price and the delivery fee, the seller's goods are the net 100.00."""
    seller = f"fs-{uuid.uuid4().hex[:10]}"
    product = await create_product(
        client, admin, seller_id=seller, base_price="150.00", min_price="100.00", prices_include_tax=True
    )
    sale, _ = await new_sale(client, admin, product=product, item={"flash_price": "118.00"})

    bought = expect_ok(await buy(client, shopper.headers, sale), 201)

    assert (bought["subtotal"], bought["tax_amount"], bought["tax_included"]) == ("118.00", "0.00", "18.00")
    assert bought["total"] == money(D("118.00") + DELIVERY_FEE)
    figures = await statement(client, admin, seller)
    assert (figures["gross_sales"], figures["tax_collected"]) == ("100.00", "18.00")
    # The default commission (15 %, on the net) and no rates of the seller's own; commission tax 20 %.
    commission = cents(D("100.00") * 15 / 100)
    assert figures["commission_charged"] == money(commission)
    assert figures["payout"] == money(D("118.00") - commission - cents(commission * COMMISSION_TAX_RATE / 100))

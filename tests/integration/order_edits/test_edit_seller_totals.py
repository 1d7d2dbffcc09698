"""What an edit stores of each seller's totals (docs/orders-and-refunds.md#edits-and-exchanges), on real
PostgreSQL and Redis, with a commission tax (COMMISSION_TAX_RATE 20 %), a logistics commission on each shipment's
fee and named fees of every kind (a share of the gross, per line, per shipment, per order): after placing and
after each edit, the order's per-seller totals (`sellers`: commission, commission tax, delivery fee, payout) are
what the seller's ledger nets to — also when the edit keeps a fee charged once at the rate it was charged (a rate
that wins since is charged beside it) and when a refund gave a seller's shipment fee back before the edit.

Without a non-zero commission tax, an edit that dropped the tax on the fees it keeps would agree with itself;
without a logistics commission, one that kept the commission on a fee given back would.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.commissions.test_commission_fees import rates
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.order_edits.test_edit_ledger import edited
from tests.integration.order_edits.test_edit_properties import NAMED_FEES
from tests.integration.order_edits.test_edits_api import basket, place
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.integration.shipping.test_shipping_orders import CARGO_RATE, ordered, refund
from tests.integration.statements.test_discount_funders import ledger

Client = AsyncTestClient[Litestar]
D = Decimal
ORDERS = "/api/v1/orders"
TOTALS = ("commission", "commission_tax", "delivery_fee", "payout")
ENTRY = {"commission": "commission", "commission_tax": "commission_tax", "delivery_fee": "delivery_fees",
         "payout": "payout"}  # fmt: skip
"""A seller's total: the ledger entry's field that sums to it."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, commission_tax_rate=D("20"))


async def totals_are_the_ledgers(client: Client, admin: Caller, order_id: str) -> dict[str, Any]:
    """The order's per-seller totals, each equal to what its seller's ledger nets to (it is their only order)."""
    order = expect_ok(await client.get(f"{ORDERS}/{order_id}", headers=admin.headers))
    for seller in order["sellers"]:
        entries = await ledger(client, admin, seller["seller_id"])
        netted = {name: str(sum((D(e[ENTRY[name]]) for e in entries), D(0))) for name in TOTALS}
        assert {name: seller[name] for name in TOTALS} == netted, (seller, entries)
    return {s["seller_id"]: s for s in order["sellers"]}


async def test_an_edit_keeping_a_fee_charged_once_stores_its_commission_tax(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await rates(client, admin, *NAMED_FEES)
    quote, order = await ordered(client, admin, service_key)
    mine, theirs = (next(i for i in order["items"] if i["seller_id"] == s) for s in ("seller-a", "seller-b"))
    placed = await totals_are_the_ledgers(client, admin, order["id"])
    assert D(placed["seller-a"]["commission_tax"]) > 0

    # The order's 1.00 platform fee is seller B's; an edit taking B's every unit out keeps it as charged (an
    # order's fee stays while the order has units), so it moves off seller A's totals, its commission tax too.
    fee = next(d for d in quote["commission_breakdown"]["details"] if d["dimension"] == "platform_fee")
    assert (fee["per"], fee["seller_id"]) == ("order", "seller-b")
    await edited(client, service_key, order["id"], {"remove": [{"product_id": theirs["product_id"], "quantity": 1}]})
    after = await totals_are_the_ledgers(client, admin, order["id"])
    assert list(after) == ["seller-a"]
    entries = await ledger(client, admin, "seller-b")
    assert sum((D(e["fees"].get("platform_fee", "0")) for e in entries), D(0)) == D("1.00")
    assert sum((D(e["commission_tax"]) for e in entries), D(0)) == D("0.20")  # 20 % of the fee kept
    await edited(client, service_key, order["id"], {"add": [{"product_id": mine["product_id"], "quantity": 1}]})
    await totals_are_the_ledgers(client, admin, order["id"])


async def test_an_edit_after_a_shipment_refund_stores_the_sellers_payout_without_its_logistics(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await rates(client, admin, *NAMED_FEES)
    await create_promotion(client, admin, name="10 % off", kind="PERCENT_OFF", config={"percent": 10})
    _, order = await ordered(client, admin, service_key)
    assert D(order["discount_amount"]) > 0
    theirs = next(i for i in order["items"] if i["seller_id"] == "seller-b")
    expect_ok(await refund(client, admin, order, {"shipments": ["seller-a"], "reason": "lost parcel"}), 201)

    await edited(client, service_key, order["id"], {"add": [{"product_id": theirs["product_id"], "quantity": 1}]})
    after = await totals_are_the_ledgers(client, admin, order["id"])
    assert after["seller-a"]["delivery_fee"] == "0.00"  # given back, and stays so
    await edited(client, service_key, order["id"], {"remove": [{"product_id": theirs["product_id"], "quantity": 1}]})
    await totals_are_the_ledgers(client, admin, order["id"])


async def test_an_edit_after_the_fees_were_given_back_charges_no_small_basket_fee_again(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    rule = {"name": "small", "type": "SMALL_BASKET", "configuration": {"threshold": "500", "fee": "5.00"},
            "effective_from": "2020-01-01T00:00:00Z"}  # fmt: skip
    expect_ok(await client.post("/api/v1/pricing-rules", json=rule, headers=admin.headers), 201)
    await rates(client, admin, *NAMED_FEES)
    _, order = await ordered(client, admin, service_key)
    assert order["small_basket_fee"] == "5.00"
    mine = next(i for i in order["items"] if i["seller_id"] == "seller-a")
    expect_ok(await refund(client, admin, order, {"include_fees": True}), 201)

    shown = expect_ok(
        await client.post(f"{ORDERS}/{order['id']}/edits", json={"add": [{"product_id": mine["product_id"],
                          "quantity": 1}]}, headers=service_key), 201
    )  # fmt: skip
    assert shown["totals"]["small_basket_fee"] == "0.00", shown["totals"]
    assert D(shown["difference_due"]) == D("47.20"), shown  # 40.00 + 18 % tax: no fee again
    await edited(client, service_key, order["id"], {"remove": [{"product_id": mine["product_id"], "quantity": 1}]})
    await totals_are_the_ledgers(client, admin, order["id"])


async def test_an_edit_moving_the_orders_own_logistics_commission_counts_it_in_the_commission_delta(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """No shipping profile: the order's delivery fee and its 10 % logistics commission are the order's own; an
    edit crossing a FREE_DELIVERY rule's minimum waives both, and its commission delta is that of the order's
    whole commission."""
    rule = {"name": "free from 100", "type": "FREE_DELIVERY", "configuration": {"min_subtotal": "100"},
            "effective_from": "2020-01-01T00:00:00Z"}  # fmt: skip
    expect_ok(await client.post("/api/v1/pricing-rules", json=rule, headers=admin.headers), 201)
    expect_ok(await client.post("/api/v1/commission-rates", json=CARGO_RATE, headers=admin.headers), 201)
    goods = await create_product(client, admin, base_price="40.00", min_price="0", cost_price="0", stock=20)
    order = await place(client, service_key, basket("c-logistics", (goods, 1), logistics_provider="cargo"))
    before = order["commission_breakdown"]
    assert D(before["logistics_commission"]) > 0
    assert "shipments" not in order

    for units in (1, 1, -2):  # 80.00 keeps the delivery fee and its commission, 120.00 waives both, 40.00 again
        body = {"add" if units > 0 else "remove": [{"product_id": goods["id"], "quantity": abs(units)}]}
        shown = expect_ok(await client.post(f"{ORDERS}/{order['id']}/edits", json=body, headers=service_key), 201)
        after = (await edited(client, service_key, order["id"], body))["commission_breakdown"]
        moved = D(after["total_commission"]) - D(before["total_commission"])
        assert D(shown["commission_delta"]) == moved, (units, shown, before, after)
        before = after
    assert D(after["logistics_commission"]) > 0
    # The fees given back (the logistics commission with them), an edit moves the sellers' commission only.
    expect_ok(await client.post(f"{ORDERS}/{order['id']}/refunds", json={"include_fees": True},
                                headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex}), 201)  # fmt: skip
    body = {"add": [{"product_id": goods["id"], "quantity": 1}]}
    shown = expect_ok(await client.post(f"{ORDERS}/{order['id']}/edits", json=body, headers=service_key), 201)
    assert D(shown["commission_delta"]) == sum((D(s["commission_delta"]) for s in shown["sellers"]), D(0)), shown


async def test_an_edit_keeping_a_fee_charged_once_beside_the_one_the_edited_basket_charges_counts_both(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """Seller B's line wins a 2.50 platform fee per order of its own, seller A's the 1.00 one: an edit taking
    B's every unit out keeps B's 2.50 as charged (an order's fee stays while the order has units) beside the
    1.00 the edited basket charges, so the order keeps a fee the edited basket does not charge. Its total
    commission is its details' sum, it moves by what its sellers' commission moves, and each seller's totals
    stay its ledger's."""
    own = {"component": "platform_fee", "commission_type": "FLAT", "rate": "2.50", "per": "order",
           "seller_id": "seller-b", "priority": 10}  # fmt: skip
    await rates(client, admin, *NAMED_FEES, own)
    _, order = await ordered(client, admin, service_key)
    theirs = next(i for i in order["items"] if i["seller_id"] == "seller-b")
    before = order["commission_breakdown"]
    assert "2.50" in [d["amount"] for d in before["details"] if d["dimension"] == "platform_fee"], before

    body = {"remove": [{"product_id": theirs["product_id"], "quantity": 1}]}
    shown = expect_ok(await client.post(f"{ORDERS}/{order['id']}/edits", json=body, headers=service_key), 201)
    after = (await edited(client, service_key, order["id"], body))["commission_breakdown"]
    fees = sorted(d["amount"] for d in after["details"] if d["dimension"] == "platform_fee")
    assert fees == ["1.00", "2.50"], after  # B's kept as charged, beside the one the edited basket charges
    assert sum((D(d["amount"]) for d in after["details"]), D(0)) == D(after["total_commission"]), after
    assert D(shown["commission_delta"]) == sum((D(s["commission_delta"]) for s in shown["sellers"]), D(0)), shown
    assert D(after["total_commission"]) - D(before["total_commission"]) == D(shown["commission_delta"]), shown
    await totals_are_the_ledgers(client, admin, order["id"])


async def test_the_refund_of_an_edit_taking_a_sellers_shipment_shows_its_logistics_commission_reversed(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """An edit taking seller B's every unit out gives back its shipment's 10.00 fee and reverses the 10 %
    logistics commission on it: the edit's refund shows both."""
    quote, order = await ordered(client, admin, service_key)
    theirs = next(i for i in order["items"] if i["seller_id"] == "seller-b")
    shipment = next(s for s in quote["shipments"] if s["seller_id"] == "seller-b")
    assert (shipment["delivery_fee"], shipment["logistics_commission"]) == ("10.00", "1.00")

    await edited(client, service_key, order["id"], {"remove": [{"product_id": theirs["product_id"], "quantity": 1}]})
    made = expect_ok(await client.get(f"{ORDERS}/{order['id']}/refunds", headers=admin.headers))
    [back] = [r for r in made if r["kind"] == "edit"]
    assert (back["delivery_fee"], back["logistics_commission"]) == ("10.00", "1.00"), back
    await totals_are_the_ledgers(client, admin, order["id"])

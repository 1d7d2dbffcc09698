"""Order edits and the named commission fees (docs/commission.md#orders-refunds-statements,
docs/orders-and-refunds.md#edits-and-exchanges), on real PostgreSQL and Redis.

An edit charges and reverses the fees as a refund does: a line's fees with its units, a fee per shipment
with the seller's last unit (and again when an edit brings the seller back), the fee per order only with the
order's last unit, to the seller it was charged to. Each seller's statement shows what its order, edits and
refunds charged less what they reversed, entry by entry as its ledger does, and ends at 0.00 once
everything is refunded.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.commissions.test_commission_fees import CHEAP, MERCUR, fees_of, ledger, rates, statement
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.order_edits.test_edits_api import ORDERS, basket, commit, key, place, preview

Client = AsyncTestClient[Litestar]
D = Decimal
NAMES = ("listing_fee", "payment_fee", "pick_fee", "platform_fee")
PICK_FEE = {"component": "pick_fee", "commission_type": "FLAT", "rate": "0.50", "per": "shipment"}
LISTING_FEE = {"component": "listing_fee", "commission_type": "FLAT", "rate": "0.30", "per": "line"}


async def edited(client: Client, service_key: dict[str, str], order_id: str, body: dict[str, Any]) -> Any:
    shown = expect_ok(await preview(client, service_key, order_id, body), 201)
    order = expect_ok(await commit(client, service_key, order_id, shown["edit_id"]))
    return shown, order


def live_fees(order: dict[str, Any], seller: str) -> dict[str, D]:
    """What the order charges the seller now: its live lines' fees and the fees charged to it once."""
    fees = dict.fromkeys(NAMES, D(0))
    for line in order["items"]:
        if line["seller_id"] == seller:
            for name, amount in fees_of(line["commission"].get("fees", [])).items():
                fees[name] += D(amount)
    for detail in order["commission_breakdown"]["details"]:
        if detail.get("per") and detail["seller_id"] == seller:
            fees[detail["dimension"]] += D(detail["amount"])
    return fees


async def books(client: Client, admin: Caller, seller: str) -> tuple[dict[str, D], dict[str, Any]]:
    """The seller's statement's fees, checked against its ledger: each name the sum of its entries'."""
    shown = await statement(client, admin, seller)
    entries = await ledger(client, admin, seller)
    summed = dict.fromkeys(NAMES, D(0))
    for entry in entries:
        for name, amount in entry.get("fees", {}).items():
            summed[name] += D(amount)
    fees = {name: D(shown["fees"].get(name, "0")) for name in NAMES}
    assert fees == summed, (seller, shown["fees"], entries)
    net = sum((D(e["commission"]) for e in entries), D(0))
    assert D(shown["net_commission"]) == net
    assert D(shown["payout"]) == sum((D(e["payout"]) for e in entries), D(0))
    return fees, shown


async def test_edits_charge_and_reverse_every_kind_of_fee_as_refunds_do(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await rates(client, admin, *MERCUR, PICK_FEE, LISTING_FEE)
    one, two, three = (f"s-{uuid.uuid4().hex[:8]}" for _ in range(3))
    a = await create_product(client, admin, seller_id=one, base_price="100.00", **CHEAP, stock=10)
    b = await create_product(client, admin, seller_id=two, base_price="50.00", **CHEAP, stock=10)
    c = await create_product(client, admin, seller_id=three, base_price="20.00", **CHEAP, stock=10)
    order = await place(client, service_key, basket("fees-1", (a, 2), (b, 1)))
    sellers = (one, two, three)
    # Placed: a's payment fee 4 % of 236.00, b's of 59.00; a line fee each, a pick fee per seller, the
    # platform fee once, to seller one (the first line's).
    assert fees_of(order["commission_breakdown"]["fees"]) == {
        "listing_fee": "0.60", "payment_fee": "11.80", "pick_fee": "1.00", "platform_fee": "1.00",
    }  # fmt: skip

    # 1. Seller three's item added: its line's fees and its shipment's pick fee are charged.
    shown, order = await edited(client, service_key, order["id"], {"add": [{"product_id": c["id"], "quantity": 1}]})
    third = {s["seller_id"]: s["commission_delta"] for s in shown["sellers"]}[three]
    assert third == "2.74"  # 5 % of 20.00 + 4 % of 23.60 (0.94) + 0.30 + 0.50
    assert [e.get("fees") for e in await ledger(client, admin, three)] == [
        {"listing_fee": "0.30", "payment_fee": "0.94", "pick_fee": "0.50"}
    ]

    # 2. Every unit of seller one's taken out: its line's fees and its pick fee are reversed, by the edit's
    # refund; the platform fee stays seller one's (the order still has units), though b is now first.
    shown, order = await edited(client, service_key, order["id"], {"remove": [{"product_id": a["id"], "quantity": 2}]})
    made = expect_ok(await client.get(f"{ORDERS}/{order['id']}/refunds", headers=service_key))
    [back] = [r for r in made if r["kind"] == "edit"]
    assert back["commission_reversed"] == shown["commission_delta"].lstrip("-")
    assert fees_of(back["commission_fees"]) == {"listing_fee": "0.30", "payment_fee": "9.44", "pick_fee": "0.50"}
    assert D(back["commission_reversed"]) >= D("20.24")  # 10.00 + 9.44 + 0.30 + 0.50 (+ logistics)
    [platform] = [d for d in order["commission_breakdown"]["details"] if d["dimension"] == "platform_fee"]
    assert (platform["seller_id"], platform["amount"]) == (one, "1.00")
    assert (await ledger(client, admin, one))[-1]["fees"] == {
        "listing_fee": "-0.30", "payment_fee": "-9.44", "pick_fee": "-0.50",
    }  # fmt: skip
    assert [e["kind"] for e in await ledger(client, admin, two)] == ["order"]  # nothing of seller two's moved

    # 3. One a back: seller one's shipment again, so its pick fee again, and the line's fees for one unit.
    shown, order = await edited(client, service_key, order["id"], {"add": [{"product_id": a["id"], "quantity": 1}]})
    assert (await ledger(client, admin, one))[-1]["fees"] == {
        "listing_fee": "0.30", "payment_fee": "4.72", "pick_fee": "0.50",
    }  # fmt: skip
    assert fees_of(order["commission_breakdown"]["fees"]) == {
        "listing_fee": "0.90", "payment_fee": "8.02", "pick_fee": "1.50", "platform_fee": "1.00",
    }  # fmt: skip
    for seller in sellers:
        fees, _ = await books(client, admin, seller)
        assert fees == live_fees(order, seller), seller
    assert sum((D(d["amount"]) for d in order["commission_breakdown"]["details"]), D(0)) == D(
        order["commission_breakdown"]["total_commission"]
    )

    # 4. Refunds of the rest: each seller's last unit reverses its pick fee, the order's last its platform fee.
    for product in (b, c, a):
        body = {"lines": [{"product_id": product["id"], "quantity": 1}], "include_fees": True}
        expect_ok(
            await client.post(f"{ORDERS}/{order['id']}/refunds", json=body, headers={**admin.headers, **key()}), 201
        )
    last = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=admin.headers))
    assert last["status"] == "refunded"
    made = expect_ok(await client.get(f"{ORDERS}/{order['id']}/refunds", headers=service_key))
    assert fees_of(made[-1]["commission_fees"]) == {
        "listing_fee": "0.30", "payment_fee": "4.72", "pick_fee": "0.50", "platform_fee": "1.00",
    }  # fmt: skip
    for seller in sellers:
        fees, shown = await books(client, admin, seller)
        assert set(fees.values()) == {D(0)}, (seller, fees)
        assert shown["net_commission"] == "0.00"
        assert shown["commission_tax"] == "0.00"
    # Charged - reversed, over the order, its edits and its refunds: exactly 0 for every fee.
    one_fees = [e.get("fees", {}) for e in await ledger(client, admin, one)]
    assert sum((D(f.get("platform_fee", "0")) for f in one_fees), D(0)) == 0
    assert [f.get("platform_fee") for f in one_fees] == ["1.00", None, None, "-1.00"]  # edit 1 left it alone

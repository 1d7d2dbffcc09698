"""What an order edit writes in the sellers' books (docs/orders-and-refunds.md#edits-and-exchanges), on real
PostgreSQL and Redis: a refund that gave a seller's delivery fee back stays one entry of its ledger however
many edits follow (each edit writes the order's shipments anew, and the seller's stays given back), so the
statement, the ledger and a payout run count it once; and an edit writes an entry only for the sellers whose
money it moved.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.order_edits.test_edits_api import ORDERS, basket, commit, key, place, preview
from tests.integration.shipping.test_shipping_profiles_api import create_profile, option
from tests.integration.statements.test_discount_funders import ledger, statement_url

Client = AsyncTestClient[Litestar]
D = Decimal


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, commission_tax_rate=D("0"))


async def seller_with_parcels(client: Client, admin: Caller, price: str) -> tuple[str, dict[str, Any]]:
    """A seller of its own with a shipping profile (a flat 4.90 a shipment, never free) and one product."""
    seller = f"s-{uuid.uuid4().hex[:10]}"
    await create_profile(client, admin, seller_id=seller, options=[option("standard")])
    product = await create_product(
        client, admin, seller_id=seller, base_price=price, min_price="0.01", cost_price="0.01", stock=20
    )
    return seller, product


async def edited(client: Client, service_key: dict[str, str], order_id: str, body: dict[str, Any]) -> Any:
    shown = expect_ok(await preview(client, service_key, order_id, body), 201)
    return expect_ok(await commit(client, service_key, order_id, shown["edit_id"]))


async def books(client: Client, admin: Caller, seller: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The seller's statement and ledger, checked to agree: each entry listed once, the payouts summed."""
    shown = expect_ok(await client.get(statement_url(seller), headers=admin.headers))
    entries = await ledger(client, admin, seller)
    assert len({(e["kind"], e["id"]) for e in entries}) == len(entries), entries
    assert sum((D(e["payout"]) for e in entries), D(0)) == D(shown["payout"]), (shown, entries)
    return shown, entries


async def test_an_edit_after_a_refund_that_gave_the_delivery_fee_back_counts_that_refund_once(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    seller, product = await seller_with_parcels(client, admin, "100.00")
    order = await place(client, service_key, basket("c-fee-back", (product, 2)))
    assert order["delivery_fee"] == "4.90"
    one = {"lines": [{"product_id": product["id"], "quantity": 1}], "include_fees": True}
    back = expect_ok(
        await client.post(f"{ORDERS}/{order['id']}/refunds", json=one, headers={**admin.headers, **key()}), 201
    )
    assert (back["delivery_fee"], back["shipments"]) == ("4.90", [seller])

    # One unit more: the seller's shipment is written anew and stays given back (its fee waived: 0.00).
    now = await edited(client, service_key, order["id"], {"add": [{"product_id": product["id"], "quantity": 1}]})
    assert [s["refund_id"] for s in now["shipments"]] == [back["id"]]
    shown, entries = await books(client, admin, seller)
    # Order: 200.00 + 36.00 tax - 30.00 commission + 4.90 delivery = 210.90; the refund -107.90 (once);
    # the edit +103.00.
    assert [(e["kind"], e["payout"]) for e in entries] == [
        ("order", "210.90"),
        ("refund", "-107.90"),
        ("edit", "103.00"),
    ]
    assert (shown["refunds"], shown["delivery_fees"], shown["payout"]) == ("100.00", "0.00", "206.00")
    again = expect_ok(await client.get(f"{ORDERS}/{order['id']}/refunds", headers=admin.headers))
    assert [r["shipments"] for r in again] == [[seller]], "the refund gave one shipment's fee back"

    # Every later edit leaves it counted once.
    await edited(client, service_key, order["id"], {"add": [{"product_id": product["id"], "quantity": 1}]})
    shown, entries = await books(client, admin, seller)
    assert [e["kind"] for e in entries] == ["order", "refund", "edit", "edit"]
    assert (shown["refunds"], shown["payout"]) == ("100.00", "309.00")

    # Everything given back: the seller's books net to 0.00.
    rest = {"lines": [{"product_id": product["id"], "quantity": 3}], "include_fees": True}
    expect_ok(await client.post(f"{ORDERS}/{order['id']}/refunds", json=rest, headers={**admin.headers, **key()}), 201)
    shown, entries = await books(client, admin, seller)
    assert (shown["net_sales"], shown["delivery_fees"], shown["payout"]) == ("0.00", "0.00", "0.00")
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM order_shipments WHERE order_id = $1 AND refund_id IS NOT NULL AND NOT refund_carried",
            uuid.UUID(order["id"]),
        )
        == 1
    ), "one row was given back by a refund; the edits' rows carry its id"


async def test_a_payout_run_after_such_an_edit_pays_the_seller_its_books(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    expect_ok(
        await client.post("/api/v1/payout-terms", json={"hold_days": 0, "currency": "TRY"}, headers=admin.headers), 201
    )
    seller, product = await seller_with_parcels(client, admin, "100.00")
    order = await place(client, service_key, basket("c-fee-run", (product, 2)))
    one = {"lines": [{"product_id": product["id"], "quantity": 1}], "include_fees": True}
    expect_ok(await client.post(f"{ORDERS}/{order['id']}/refunds", json=one, headers={**admin.headers, **key()}), 201)
    await edited(client, service_key, order["id"], {"add": [{"product_id": product["id"], "quantity": 1}]})

    made = expect_ok(await client.post("/api/v1/payouts/run", json={}, headers=admin.headers), 201)
    [payout] = [p for p in made["payouts"] if p["seller_id"] == seller]
    assert (payout["amount"], len(payout["entries"])) == ("206.00", 3)
    assert made["sellers_held"] == []


async def test_an_edit_writes_no_entry_for_a_seller_it_did_not_touch(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, lamp = await seller_with_parcels(client, admin, "40.00")
    theirs, mug = await seller_with_parcels(client, admin, "15.00")
    order = await place(client, service_key, basket("c-untouched", (lamp, 1), (mug, 2)))

    await edited(client, service_key, order["id"], {"add": [{"product_id": lamp["id"], "quantity": 1}]})
    await edited(client, service_key, order["id"], {"remove": [{"product_id": lamp["id"], "quantity": 1}]})

    assert [e["kind"] for e in (await books(client, admin, mine))[1]] == ["order", "edit", "edit"]
    assert [e["kind"] for e in (await books(client, admin, theirs))[1]] == ["order"], "no entry of 0.00"

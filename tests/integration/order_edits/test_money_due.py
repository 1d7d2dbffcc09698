"""Money an edit makes due (docs/orders-and-refunds.md#money-due-and-payments), on real PostgreSQL and Redis.

A positive difference is owed (`balance_due`) until a payment settles it; what is owed was never charged,
so taking those units out again, refunding or cancelling first cancels what is still due and only gives
back what was charged and paid: the customer never gets back more than it paid.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.order_edits.test_edits_api import ORDERS, Client, basket, commit, key, place, preview

D = Decimal


async def edited(client: Client, headers: dict[str, str], order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Preview and commit an edit; the order at its next revision."""
    shown = expect_ok(await preview(client, headers, order_id, body), 201)
    done: dict[str, Any] = expect_ok(await commit(client, headers, order_id, shown["edit_id"]))
    return done


async def pay(client: Client, headers: dict[str, str], order_id: str, amount: Any, **extra: str) -> Any:
    return await client.post(
        f"{ORDERS}/{order_id}/payments", json={"amount": amount}, headers={**headers, **(extra or key())}
    )


async def refunds_of(client: Client, headers: dict[str, str], order_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = expect_ok(await client.get(f"{ORDERS}/{order_id}/refunds", headers=headers))
    return found


async def test_taking_out_units_an_edit_added_cancels_what_is_due_and_refunds_nothing(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    case = await create_product(client, admin, stock=20)  # 25.50, 18 % tax: 30.09 a unit
    order = await place(client, shopper.headers, basket(str(shopper.id), (case, 2)))
    charged = D(order["total_amount"])
    for cycle in range(3):
        added = await edited(client, shopper.headers, order["id"], {"add": [{"product_id": case["id"], "quantity": 2}]})
        assert added["balance_due"] == "60.18", cycle
        back = await edited(
            client, shopper.headers, order["id"], {"remove": [{"product_id": case["id"], "quantity": 2}]}
        )
        assert back["balance_due"] == "0.00", cycle
        assert back["refunded_amount"] == "0.00", cycle
        assert back["refunds"] == [], cycle
        assert back["edits"][-1]["refund_id"] is None
        assert back["edits"][-1]["difference_due"] == "-60.18"
    assert await refunds_of(client, shopper.headers, order["id"]) == []
    # What the customer paid is still exactly what it holds.
    assert D(back["total_amount"]) == charged


async def test_a_cancel_with_money_due_cancels_the_due_and_refunds_only_what_was_charged(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    case = await create_product(client, admin, stock=20)
    order = await place(client, shopper.headers, basket(str(shopper.id), (case, 2)))
    await edited(client, shopper.headers, order["id"], {"add": [{"product_id": case["id"], "quantity": 2}]})
    cancelled = expect_ok(
        await client.post(f"{ORDERS}/{order['id']}/cancel", json={}, headers={**shopper.headers, **key()})
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["balance_due"] == "0.00"
    assert cancelled["refunded_amount"] == order["total_amount"]
    [refund] = await refunds_of(client, shopper.headers, order["id"])
    assert refund["kind"] == "cancel"
    assert refund["total_refunded"] == order["total_amount"]
    assert refund["balance_reduced"] == "60.18"  # the due it cancelled: never charged, never given back


async def test_a_refund_first_reduces_what_is_due(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=20)
    order = await place(client, service_key, basket("due-refund", (case, 2)))
    await edited(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 2}]})
    body = {"lines": [{"product_id": case["id"], "quantity": 1}]}
    first = expect_ok(
        await client.post(f"{ORDERS}/{order['id']}/refunds", json=body, headers={**admin.headers, **key()}), 201
    )
    assert first["total_refunded"] == "0.00"  # the unit's 30.09 came off the 60.18 still due
    assert first["balance_reduced"] == "30.09"
    assert [line["quantity"] for line in first["lines"]] == [1]  # its unit came back all the same
    now = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=service_key))
    assert (now["balance_due"], now["refunded_amount"]) == ("30.09", "0.00")
    rest = {"lines": [{"product_id": case["id"], "quantity": 3}], "include_fees": True}
    last = expect_ok(
        await client.post(f"{ORDERS}/{order['id']}/refunds", json=rest, headers={**admin.headers, **key()}), 201
    )
    assert D(last["total_refunded"]) == D(order["total_amount"])
    done = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=service_key))
    assert done["status"] == "refunded"
    assert (done["balance_due"], done["refunded_amount"]) == ("0.00", order["total_amount"])
    assert await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(case["id"])) == 20


async def test_a_payment_settles_what_is_due_once_per_key(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], settings: Settings, password_hash: str
) -> None:
    case = await create_product(client, admin, stock=20)
    order = await place(client, service_key, basket("due-pay", (case, 2)))
    oid = order["id"]
    await edited(client, service_key, oid, {"add": [{"product_id": case["id"], "quantity": 2}]})
    same = key()
    paid = expect_ok(await pay(client, service_key, oid, "40.00", **same), 201)
    assert paid["order_id"] == oid
    assert (paid["amount"], paid["balance_due"], paid["currency"]) == ("40.00", "20.18", "TRY")
    again = expect_ok(await pay(client, service_key, oid, "40.00", **same), 201)
    assert again == paid  # the same payment, not a second one
    expect_error(await pay(client, service_key, oid, "20.00", **same), 409, "IDEMPOTENCY_CONFLICT")
    refused = expect_error(await pay(client, service_key, oid, "20.19"), 422, "VALIDATION_FAILED")
    assert [d["field"] for d in refused["error"]["details"]] == ["amount"]  # more than is due
    now = expect_ok(await client.get(f"{ORDERS}/{oid}", headers=service_key))
    assert (now["balance_due"], now["paid_amount"]) == ("20.18", "40.00")
    assert [(p["id"], p["amount"]) for p in now["payments"]] == [(paid["id"], "40.00")]
    # Who may record one: an admin or a service key, with a key; a shopper may not.
    expect_error(await pay(client, shopper.headers, oid, "1.00"), 403, "FORBIDDEN")
    expect_error(
        await client.post(f"{ORDERS}/{oid}/payments", json={"amount": "1.00"}, headers=service_key),
        422,
        "VALIDATION_FAILED",
    )
    expect_ok(await pay(client, admin.headers, oid, 20.18), 201)
    settled = expect_ok(await client.get(f"{ORDERS}/{oid}", headers=admin.headers))
    assert (settled["balance_due"], settled["paid_amount"]) == ("0.00", "60.18")
    seller = await make_caller(settings, password_hash, "due-pay-seller", "seller", seller_id="seller-1")
    seen = expect_ok(await client.get(f"{ORDERS}/{oid}", headers=seller.headers))
    assert (seen["payments"], seen["paid_amount"]) == ([], "0.00")  # the buyer's, not the seller's
    # Paid now: taking the units out again gives back what was paid for them, as a refund.
    back = await edited(client, service_key, oid, {"remove": [{"product_id": case["id"], "quantity": 2}]})
    assert back["refunded_amount"] == "60.18"
    [refund] = await refunds_of(client, service_key, oid)
    assert (refund["kind"], refund["total_refunded"], refund["balance_reduced"]) == ("edit", "60.18", "0.00")
    expect_error(await pay(client, service_key, oid, "0.01"), 422, "VALIDATION_FAILED")  # nothing is due


async def test_an_edit_refunds_only_what_exceeds_the_due(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=20)
    order = await place(client, service_key, basket("due-part", (case, 3)))
    await edited(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]})
    back = await edited(client, service_key, order["id"], {"remove": [{"product_id": case["id"], "quantity": 2}]})
    assert (back["balance_due"], back["refunded_amount"]) == ("0.00", "30.09")
    [refund] = await refunds_of(client, service_key, order["id"])
    assert (refund["total_refunded"], refund["balance_reduced"]) == ("30.09", "30.09")
    assert back["edits"][-1]["refund_id"] == refund["id"]


async def test_a_payment_is_refused_for_what_it_cannot_be(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=20)
    order = await place(client, service_key, basket("due-bad", (case, 2)))
    await edited(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]})
    for amount in ("0", "-1.00", "1.001", "abc", None):
        refused = expect_error(await pay(client, service_key, order["id"], amount), 422, "VALIDATION_FAILED")
        assert [d["field"] for d in refused["error"]["details"]] == ["amount"], amount
    extra = await client.post(
        f"{ORDERS}/{order['id']}/payments", json={"amount": "1.00", "method": "card"}, headers={**service_key, **key()}
    )
    expect_error(extra, 422, "VALIDATION_FAILED")
    expect_error(await pay(client, service_key, str(uuid.uuid4()), "1.00"), 404, "NOT_FOUND")
    now = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=service_key))
    assert (now["balance_due"], now["paid_amount"], now["payments"]) == ("30.09", "0.00", [])

"""Order edits of lines sold from offers (docs/offers.md#stock, docs/orders-and-refunds.md#edits-and-exchanges):
units taken out by `offer_id` go back to the offer, units put in from an offer are taken from its stock under
its lock and never oversold, the edited lines keep their offer and its seller, and an order shows `offer_id`
on such lines only."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.offers.test_offers_api import make_offer

Client = AsyncTestClient[Litestar]
D = Decimal
ORDERS = "/api/v1/orders"


@pytest.fixture
async def product(client: Client, admin: Caller) -> dict[str, Any]:
    """seller-a's product at 40.00, 10 in stock (its default offer)."""
    return await create_product(
        client, admin, seller_id="seller-a", base_price="40.00", min_price="0", cost_price="0", stock=10
    )


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"edit-{uuid.uuid4()}"}


async def place(client: Client, headers: dict[str, str], *items: dict[str, Any]) -> dict[str, Any]:
    """POST /quote then POST /orders, as a checkout does; the order."""
    body = {
        "customer_id": "c-offer-edits",
        "items": list(items),
        "delivery_address": {"city": "Ankara", "country": "TR"},
        "currency": "TRY",
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=headers))
    order: dict[str, Any] = expect_ok(
        await client.post(ORDERS, json={"quote_id": quote["quote_id"]}, headers={**headers, **key()}), 201
    )
    return order


async def preview(client: Client, headers: dict[str, str], order_id: str, body: dict[str, Any]) -> Any:
    return await client.post(f"{ORDERS}/{order_id}/edits", json=body, headers=headers)


async def commit(client: Client, headers: dict[str, str], order_id: str, edit_id: str) -> Any:
    return await client.post(f"{ORDERS}/{order_id}/edits/{edit_id}/commit", headers={**headers, **key()})


async def stocks(pool: asyncpg.Pool, product: dict[str, Any], offer: dict[str, Any]) -> tuple[int, int]:
    """(the product's own stock, the offer's stock)."""
    own = await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(product["id"]))
    theirs = await pool.fetchval("SELECT stock FROM offers WHERE id = $1", uuid.UUID(offer["id"]))
    return own, theirs


def lines(order: dict[str, Any]) -> list[tuple[str | None, str | None, int, str]]:
    """Each line's (offer_id, seller_id, quantity, unit_price); offer_id None where the key is absent."""
    return [(line.get("offer_id"), line["seller_id"], line["quantity"], line["unit_price"]) for line in order["items"]]


async def test_units_of_an_offer_come_out_by_offer_id_and_go_back_to_the_offer(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=5)
    order = await place(
        client,
        service_key,
        {"product_id": product["id"], "quantity": 1, "seller_id": "seller-a"},
        {"product_id": product["id"], "quantity": 3, "offer_id": offer["id"]},
    )
    # The order shows offer_id on the line the offer sold, and no such key on the default offer's line.
    assert lines(order) == [(None, "seller-a", 1, "40.00"), (offer["id"], "seller-b", 3, "30.00")]
    assert "offer_id" not in order["items"][0]
    assert await stocks(pool, product, offer) == (9, 2)

    # The product alone is on lines of two sellers: the offer (or the line) says which units come out.
    ambiguous = await preview(
        client, service_key, order["id"], {"remove": [{"product_id": product["id"], "quantity": 1}]}
    )
    assert set(field_errors(expect_error(ambiguous, 422, "VALIDATION_FAILED"))) == {"remove[0].line"}
    too_many = await preview(client, service_key, order["id"], {"remove": [{"offer_id": offer["id"], "quantity": 4}]})
    assert set(field_errors(expect_error(too_many, 409, "EDIT_EXCEEDS_ORDER"))) == {"remove[0].quantity"}

    shown = expect_ok(
        await preview(client, service_key, order["id"], {"remove": [{"offer_id": offer["id"], "quantity": 2}]}), 201
    )
    assert D(shown["difference_due"]) == D(shown["totals"]["total_amount"]) - D(order["total_amount"])
    assert D(shown["difference_due"]) < 0
    assert [(i.get("offer_id"), i["seller_id"], i["quantity"]) for i in shown["items"]] == [
        (None, "seller-a", 1),
        (offer["id"], "seller-b", 1),
    ]
    parts = {s["seller_id"]: s for s in shown["sellers"]}
    assert D(parts["seller-b"]["difference_due"]) < 0  # the offer's seller gives up its goods, not seller-a
    assert D(parts.get("seller-a", {"difference_due": "0"})["difference_due"]) >= 0
    assert await stocks(pool, product, offer) == (9, 2)  # a preview moves nothing

    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert done["revision"] == 2
    assert [(offer_id, seller, n) for offer_id, seller, n, _ in lines(done)] == [
        (None, "seller-a", 1),
        (offer["id"], "seller-b", 1),
    ]
    assert D(done["refunded_amount"]) == -D(shown["difference_due"])
    assert await stocks(pool, product, offer) == (9, 4)  # two units back to the offer, the product's untouched
    ledger = await pool.fetch(
        "SELECT seller_id, goods FROM seller_ledger WHERE kind = 'edit' AND id = $1", uuid.UUID(shown["edit_id"])
    )
    assert {r["seller_id"] for r in ledger if r["goods"]} == {"seller-b"}

    # A cancel of the edited order gives the offer's one unit left back to it, and the product's to the product.
    cancel = await client.post(f"{ORDERS}/{order['id']}/cancel", json={}, headers={**service_key, **key()})
    assert cancel.status_code in (200, 201), cancel.text
    assert await stocks(pool, product, offer) == (10, 5)


async def test_an_added_item_from_an_offer_is_taken_from_its_stock_and_keeps_its_seller(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=5)
    order = await place(client, service_key, {"product_id": product["id"], "quantity": 2, "seller_id": "seller-a"})
    assert all("offer_id" not in line for line in order["items"])
    assert await stocks(pool, product, offer) == (8, 5)

    by_id = {"product_id": product["id"], "quantity": 2, "offer_id": offer["id"]}
    by_seller = {"product_id": product["id"], "quantity": 1, "seller_id": "seller-b"}
    shown = expect_ok(await preview(client, service_key, order["id"], {"add": [by_id, by_seller]}), 201)
    assert [(i.get("offer_id"), i["seller_id"], i["quantity"], i["unit_price"], i["kept"]) for i in shown["items"]] == [
        (None, "seller-a", 2, "40.00", True),
        (offer["id"], "seller-b", 3, "30.00", False),  # both additions are the offer's: one line
    ]
    assert D(shown["difference_due"]) > 0
    parts = {s["seller_id"]: s for s in shown["sellers"]}
    assert D(parts["seller-b"]["difference_due"]) > 0

    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert [(offer_id, seller, n) for offer_id, seller, n, _ in lines(done)] == [
        (None, "seller-a", 2),
        (offer["id"], "seller-b", 3),
    ]
    assert done["balance_due"] == shown["difference_due"]
    assert await stocks(pool, product, offer) == (8, 2)
    stored = await pool.fetch(
        "SELECT offer_id, seller_id, quantity FROM order_lines WHERE order_id = $1 AND retired_by IS NULL"
        " ORDER BY position",
        uuid.UUID(order["id"]),
    )
    assert [(r["offer_id"], r["seller_id"], r["quantity"]) for r in stored] == [
        (None, "seller-a", 2),
        (uuid.UUID(offer["id"]), "seller-b", 3),
    ]
    # The edited order's offer line is refunded by its number, back to the offer.
    refund = await client.post(
        f"{ORDERS}/{order['id']}/refunds",
        json={"lines": [{"product_id": product["id"], "quantity": 1, "line": done["items"][1]["line"]}]},
        headers={**admin.headers, **key()},
    )
    assert refund.status_code == 201, refund.text
    assert await stocks(pool, product, offer) == (8, 3)


async def test_an_exchange_moves_units_between_the_products_stock_and_an_offers(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=5)
    order = await place(client, service_key, {"product_id": product["id"], "quantity": 2, "offer_id": offer["id"]})
    assert await stocks(pool, product, offer) == (10, 3)

    to_own = {"offer_id": offer["id"], "quantity": 1, "with": {"product_id": product["id"], "quantity": 1,
                                                               "seller_id": "seller-a"}}  # fmt: skip
    shown = expect_ok(await preview(client, service_key, order["id"], {"replace": [to_own]}), 201)
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert sorted((offer_id or "", seller, n) for offer_id, seller, n, _ in lines(done)) == sorted(
        [("", "seller-a", 1), (offer["id"], "seller-b", 1)]
    )
    assert await stocks(pool, product, offer) == (9, 4)

    # And back: the product's own unit for two of the offer's.
    own_line = next(line["line"] for line in done["items"] if "offer_id" not in line)
    back = {"product_id": product["id"], "quantity": 1, "line": own_line,
            "with": {"product_id": product["id"], "quantity": 2, "offer_id": offer["id"]}}  # fmt: skip
    shown = expect_ok(await preview(client, service_key, order["id"], {"replace": [back]}), 201)
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert lines(done) == [(offer["id"], "seller-b", 3, "30.00")]
    assert await stocks(pool, product, offer) == (10, 2)


async def test_an_offer_is_never_oversold_by_an_edit_and_a_refusal_changes_nothing(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=3)
    order = await place(client, service_key, {"product_id": product["id"], "quantity": 1, "seller_id": "seller-a"})
    more = {"add": [{"product_id": product["id"], "quantity": 4, "offer_id": offer["id"]}]}
    shown = expect_ok(await preview(client, service_key, order["id"], more), 201)
    short = expect_error(await commit(client, service_key, order["id"], shown["edit_id"]), 409, "INSUFFICIENT_STOCK")
    assert set(field_errors(short)) == {"add[0].quantity"}
    assert await stocks(pool, product, offer) == (9, 3)
    # The refusal names the addition that wanted the offer's units, not another one of the product.
    own = {"product_id": product["id"], "quantity": 1, "seller_id": "seller-a"}
    both = {"add": [own, {"product_id": product["id"], "quantity": 4, "seller_id": "seller-b"}]}
    shown = expect_ok(await preview(client, service_key, order["id"], both), 201)
    short = expect_error(await commit(client, service_key, order["id"], shown["edit_id"]), 409, "INSUFFICIENT_STOCK")
    assert set(field_errors(short)) == {"add[1].quantity"}
    assert await stocks(pool, product, offer) == (9, 3)
    unchanged = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=service_key))
    assert unchanged["revision"] == 1
    assert lines(unchanged) == lines(order)

    # An offer deactivated between the preview and the commit sells no more units.
    fits = {"add": [{"product_id": product["id"], "quantity": 1, "offer_id": offer["id"]}]}
    shown = expect_ok(await preview(client, service_key, order["id"], fits), 201)
    off = await client.patch(f"/api/v1/offers/{offer['id']}", json={"is_active": False}, headers=admin.headers)
    assert off.status_code == 200, off.text
    gone = expect_error(await commit(client, service_key, order["id"], shown["edit_id"]), 409, "PRODUCT_UNAVAILABLE")
    assert set(field_errors(gone)) == {"add[0].offer_id"}
    assert await stocks(pool, product, offer) == (9, 3)
    # ... and an edit naming it is refused as a quote naming it is.
    named = expect_error(await preview(client, service_key, order["id"], fits), 422, "VALIDATION_FAILED")
    assert set(field_errors(named)) == {"add[0].offer_id"}


async def test_edits_of_two_orders_racing_for_an_offers_last_units_sell_them_once(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], pool: asyncpg.Pool
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=3)
    orders = [
        await place(client, service_key, {"product_id": product["id"], "quantity": 1, "seller_id": "seller-a"})
        for _ in range(4)
    ]
    body = {"add": [{"product_id": product["id"], "quantity": 2, "offer_id": offer["id"]}]}
    previews = [expect_ok(await preview(client, service_key, o["id"], body), 201) for o in orders]

    answers = await asyncio.gather(
        *(commit(client, service_key, o["id"], p["edit_id"]) for o, p in zip(orders, previews, strict=True))
    )

    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    for answer in answers:
        if answer.status_code == 409:
            expect_error(answer, 409, "INSUFFICIENT_STOCK")
    assert await stocks(pool, product, offer) == (6, 1)
    sold = await pool.fetchval(
        "SELECT sum(quantity) FROM order_lines WHERE offer_id = $1 AND retired_by IS NULL", uuid.UUID(offer["id"])
    )
    assert sold == 2


async def test_a_kept_offer_line_keeps_its_discount_under_the_offers_own_floor(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    """The product's floor (38.00) is above the offer's price (30.00): the offer's own floor (0) lets a
    promotion discount its line, in the order and again in an edit that changes nothing (0.00 due)."""
    product = await create_product(
        client, admin, seller_id="seller-a", base_price="40.00", min_price="38.00", cost_price="0", stock=10
    )
    offer = await make_offer(client, admin, product, current_price="30.00", min_price="0", stock=5)
    promotion = {"name": "10 % off", "kind": "PERCENT_OFF", "config": {"percent": "10"},
                 "conditions": {"product_ids": [product["id"]]}, "starts_at": "2025-01-01T00:00:00Z"}  # fmt: skip
    expect_ok(await client.post("/api/v1/promotions", json=promotion, headers=admin.headers), 201)
    order = await place(client, service_key, {"product_id": product["id"], "quantity": 2, "offer_id": offer["id"]})
    assert order["items"][0]["discount"] == "6.00"

    same = {"offer_id": offer["id"], "quantity": 1, "with": {"product_id": product["id"], "quantity": 1,
                                                             "offer_id": offer["id"]}}  # fmt: skip
    shown = expect_ok(await preview(client, service_key, order["id"], {"replace": [same]}), 201)
    assert shown["difference_due"] == "0.00"
    assert [(i["quantity"], i["discount"]) for i in shown["items"]] == [(2, "6.00")]

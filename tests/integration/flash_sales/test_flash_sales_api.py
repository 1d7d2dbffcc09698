"""Flash sales over HTTP on real PostgreSQL and Redis: admin CRUD, lifecycle, purchases, reads."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import SALES, Client, at, buy, flash_product, ledger, new_sale, sale_body, stock_of
from tests.waiting import until


async def movements(settings: Settings, product_id: str) -> list[asyncpg.Record]:
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetch(
            "SELECT delta, stock_after, reason FROM stock_movements WHERE product_id = $1 ORDER BY id",
            uuid.UUID(product_id),
        )
    finally:
        await conn.close()


async def test_creating_a_sale_allocates_stock_and_reads_live(
    client: Client, admin: Caller, settings: Settings
) -> None:
    sale, product = await new_sale(client, admin, stock=100)
    assert sale["status"] == "active"  # started a minute ago: the clock, not the scheduler, decides
    assert sale["name"] == "Midnight sale"
    assert sale["items"] == [
        {
            "product_id": product["id"],
            "flash_price": "15.00",
            "currency": "TRY",
            "allocated_stock": 10,
            "remaining_stock": 10,
            "per_user_limit": 2,
        }
    ]
    assert await stock_of(settings.database_url or "", product["id"]) == 90
    moves = await movements(settings, product["id"])
    assert [(m["delta"], m["stock_after"]) for m in moves][-1] == (-10, 90)
    read = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=admin.headers))
    assert read["items"][0]["remaining_stock"] == 10


async def test_a_future_sale_is_scheduled_and_refuses_purchases(client: Client, admin: Caller, shopper: Caller) -> None:
    sale, _ = await new_sale(client, admin, starts_at=at(30), ends_at=at(90))
    assert sale["status"] == "scheduled"
    expect_error(await buy(client, shopper.headers, sale), 409, "SALE_NOT_ACTIVE")


@pytest.mark.parametrize(
    ("item", "window", "field"),
    [
        ({"flash_price": "0"}, {}, "items[0].flash_price"),
        ({"flash_price": "-1.00"}, {}, "items[0].flash_price"),
        ({"flash_price": "19.99"}, {}, "items[0].flash_price"),  # below min_price 20.00
        ({"flash_price": "21.001"}, {}, "items[0].flash_price"),  # TRY has two decimals
        ({"allocated_stock": 0}, {}, "items[0].allocated_stock"),
        ({"per_user_limit": 0}, {}, "items[0].per_user_limit"),
        ({"product_id": str(uuid.uuid4())}, {}, "items[0].product_id"),
        ({}, {"ends_at": at(-5)}, "ends_at"),
        ({}, {"starts_at": at(10), "ends_at": at(5)}, "ends_at"),
    ],
)
async def test_invalid_sales_are_refused_naming_the_field_and_take_nothing(
    client: Client,
    admin: Caller,
    settings: Settings,
    item: dict[str, Any],
    window: dict[str, Any],
    field: str,
) -> None:
    product = await create_product(client, admin, stock=50)
    body = sale_body(product["id"], item={"flash_price": "21.00", **item}, **window)
    response = await client.post(SALES, json=body, headers=admin.headers)
    assert field in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    assert await stock_of(settings.database_url or "", product["id"]) == 50
    assert expect_ok(await client.get(SALES, headers=admin.headers))["items"] == []


async def test_a_product_twice_in_one_sale_is_refused(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin, stock=50)
    body = sale_body(product["id"])
    body["items"].append(dict(body["items"][0]))
    response = await client.post(SALES, json=body, headers=admin.headers)
    assert "items[1].product_id" in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))


async def test_allocation_beyond_stock_is_409_and_changes_nothing(
    client: Client, admin: Caller, settings: Settings
) -> None:
    product = await flash_product(client, admin, stock=5)
    response = await client.post(SALES, json=sale_body(product["id"]), headers=admin.headers)
    assert "items[0].allocated_stock" in field_errors(expect_error(response, 409, "INSUFFICIENT_STOCK"))
    assert await stock_of(settings.database_url or "", product["id"]) == 5


async def test_overlapping_sales_of_one_product_are_refused(client: Client, admin: Caller) -> None:
    _, product = await new_sale(client, admin, stock=100)
    response = await client.post(SALES, json=sale_body(product["id"], name="Second"), headers=admin.headers)
    assert "items[0].product_id" in field_errors(expect_error(response, 409, "FLASH_SALE_OVERLAP"))
    later = sale_body(product["id"], starts_at=at(120), ends_at=at(180))
    expect_ok(await client.post(SALES, json=later, headers=admin.headers), 201)


async def test_only_admins_manage_sales(client: Client, admin: Caller, shopper: Caller) -> None:
    product = await create_product(client, admin, stock=50)
    expect_error(await client.post(SALES, json=sale_body(product["id"]), headers=shopper.headers), 403, "FORBIDDEN")
    sale, _ = await new_sale(client, admin)
    for response in (
        await client.post(f"{SALES}/{sale['id']}/end", headers=shopper.headers),
        await client.post(f"{SALES}/{sale['id']}/reconcile", headers=shopper.headers),
        await client.get(f"{SALES}/{sale['id']}/purchases", headers=shopper.headers),
        await client.delete(f"{SALES}/{sale['id']}", headers=shopper.headers),
    ):
        expect_error(response, 403, "FORBIDDEN")
    expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=shopper.headers))


async def test_a_purchase_is_priced_by_the_server_recorded_and_counted(
    client: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    sale, product = await new_sale(client, admin)
    bought = expect_ok(await buy(client, shopper.headers, sale, quantity=2, expected_unit_price="15"), 201)
    assert bought["flash_sale_id"] == sale["id"]
    assert bought["product_id"] == product["id"]
    assert bought["customer_id"] == str(shopper.id)
    # A one-line quote at the flash price (docs/flash-sales.md#a-purchase-is-an-order): 30.00, tax 18 % 5.40,
    # the default delivery fee 10.00 and the small-basket fee 5.00 (goods under 50.00).
    assert (bought["quantity"], bought["unit_price"], bought["subtotal"]) == (2, "15.00", "30.00")
    assert (bought["tax_amount"], bought["delivery_fee"], bought["small_basket_fee"]) == ("5.40", "10.00", "5.00")
    assert bought["total"] == "50.40"
    assert bought["status"] == "confirmed"
    assert {"purchase_id", "created_at", "currency", "order_id"} <= set(bought)
    rows = await ledger(settings.database_url or "", sale["id"])
    assert [(r["customer_id"], r["quantity"]) for r in rows] == [(str(shopper.id), 2)]
    read = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=shopper.headers))
    assert read["items"][0]["remaining_stock"] == 8
    mine = expect_ok(await client.get(f"{SALES}/{sale['id']}/purchases/me", headers=shopper.headers))
    assert mine == {"items": [{"product_id": product["id"], "purchased": 2, "remaining_limit": 0}]}


async def test_refusals_sell_nothing(client: Client, admin: Caller, shopper: Caller, settings: Settings) -> None:
    sale, _ = await new_sale(client, admin, item={"allocated_stock": 3, "per_user_limit": 5})
    expect_error(await buy(client, shopper.headers, sale, expected_unit_price="14.99"), 409, "PRICE_CHANGED")
    expect_error(await buy(client, shopper.headers, sale, quantity=4), 409, "SOLD_OUT")
    expect_ok(await buy(client, shopper.headers, sale, quantity=3), 201)
    expect_error(await buy(client, shopper.headers, sale, quantity=1), 409, "SOLD_OUT")
    rows = await ledger(settings.database_url or "", sale["id"])
    assert sum(r["quantity"] for r in rows) == 3


async def test_the_per_customer_limit_holds(client: Client, admin: Caller, shopper: Caller) -> None:
    sale, _ = await new_sale(client, admin)
    expect_ok(await buy(client, shopper.headers, sale, quantity=1), 201)
    expect_error(await buy(client, shopper.headers, sale, quantity=2), 409, "PURCHASE_LIMIT_EXCEEDED")
    expect_ok(await buy(client, shopper.headers, sale, quantity=1), 201)
    expect_error(await buy(client, shopper.headers, sale, quantity=1), 409, "PURCHASE_LIMIT_EXCEEDED")


async def test_a_replayed_key_returns_the_first_purchase(
    client: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    sale, _ = await new_sale(client, admin)
    first = expect_ok(await buy(client, shopper.headers, sale, key="k-1"), 201)
    again = expect_ok(await buy(client, shopper.headers, sale, key="k-1"), 201)
    assert again == first
    expect_error(await buy(client, shopper.headers, sale, key="k-1", quantity=2), 409, "IDEMPOTENCY_CONFLICT")
    assert len(await ledger(settings.database_url or "", sale["id"])) == 1


async def test_a_refused_key_answers_its_refusal_again_even_once_it_could_buy(
    client: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    """One key, one answer: a double submit or a quick retry of a refused purchase is refused the
    same way, even once the customer could buy (here: the sale was activated meanwhile); a new
    key buys."""
    sale, _ = await new_sale(client, admin, starts_at=at(30))
    refused = expect_error(await buy(client, shopper.headers, sale, key="k-early"), 409, "SALE_NOT_ACTIVE")
    expect_ok(await client.post(f"{SALES}/{sale['id']}/activate", headers=admin.headers))
    again = expect_error(await buy(client, shopper.headers, sale, key="k-early"), 409, "SALE_NOT_ACTIVE")
    assert again["message"] == refused["message"]
    expect_error(await buy(client, shopper.headers, sale, key="k-early", quantity=2), 409, "IDEMPOTENCY_CONFLICT")
    expect_ok(await buy(client, shopper.headers, sale, key="k-now"), 201)
    assert len(await ledger(settings.database_url or "", sale["id"])) == 1


async def test_a_replay_after_redis_lost_its_markers_is_answered_from_the_ledger(
    client: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    sale, _ = await new_sale(client, admin)
    first = expect_ok(await buy(client, shopper.headers, sale, key="k-2"), 201)
    redis = Redis.from_url(settings.redis_url or "")
    await redis.flushdb()
    await redis.aclose()
    assert expect_ok(await buy(client, shopper.headers, sale, key="k-2"), 201) == first
    assert len(await ledger(settings.database_url or "", sale["id"])) == 1
    read = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=shopper.headers))
    assert read["items"][0]["remaining_stock"] == 9


async def test_who_buys(client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]) -> None:
    sale, _ = await new_sale(client, admin)
    response = await buy(client, service_key, sale)
    assert "customer_id" in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    bought = expect_ok(await buy(client, service_key, sale, customer_id="c-42"), 201)
    assert bought["customer_id"] == "c-42"
    expect_error(await buy(client, shopper.headers, sale, customer_id="c-42"), 403, "FORBIDDEN")
    mine = expect_ok(
        await client.get(f"{SALES}/{sale['id']}/purchases/me", params={"customer_id": "c-42"}, headers=service_key)
    )
    assert mine["items"][0]["purchased"] == 1


async def test_bad_purchase_requests(client: Client, admin: Caller, shopper: Caller) -> None:
    sale, _ = await new_sale(client, admin)
    other = await create_product(client, admin)
    response = await buy(client, shopper.headers, sale, product_id=other["id"])
    assert "product_id" in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    response = await buy(client, shopper.headers, sale, quantity=0)
    expect_error(response, 422, "VALIDATION_FAILED")
    response = await buy(client, shopper.headers, sale, key="x" * 129)
    assert "Idempotency-Key" in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    response = await client.post(
        f"{SALES}/{sale['id']}/purchases", json={"product_id": other["id"], "quantity": 1}, headers=shopper.headers
    )
    assert "Idempotency-Key" in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    fake = {**sale, "id": str(uuid.uuid4())}
    expect_error(await buy(client, shopper.headers, fake), 404, "NOT_FOUND")


async def test_editing_a_scheduled_sale_moves_its_allocation(client: Client, admin: Caller, settings: Settings) -> None:
    sale, product = await new_sale(client, admin, stock=100, starts_at=at(30), ends_at=at(90))
    assert await stock_of(settings.database_url or "", product["id"]) == 90
    body = {"name": "Renamed", "items": [{**sale_body(product["id"])["items"][0], "allocated_stock": 25}]}
    edited = expect_ok(await client.put(f"{SALES}/{sale['id']}", json=body, headers=admin.headers))
    assert edited["name"] == "Renamed"
    assert edited["items"][0]["allocated_stock"] == 25
    assert edited["items"][0]["remaining_stock"] == 25
    assert await stock_of(settings.database_url or "", product["id"]) == 75
    too_much = {"items": [{**body["items"][0], "allocated_stock": 101}]}
    response = await client.put(f"{SALES}/{sale['id']}", json=too_much, headers=admin.headers)
    expect_error(response, 409, "INSUFFICIENT_STOCK")
    assert await stock_of(settings.database_url or "", product["id"]) == 75


async def test_an_active_sale_may_only_change_its_end(client: Client, admin: Caller) -> None:
    sale, _ = await new_sale(client, admin)
    response = await client.put(f"{SALES}/{sale['id']}", json={"name": "Nope"}, headers=admin.headers)
    expect_error(response, 409, "INVALID_SALE_STATE")
    new_end = at(120)
    edited = expect_ok(await client.put(f"{SALES}/{sale['id']}", json={"ends_at": new_end}, headers=admin.headers))
    assert edited["ends_at"].startswith(new_end[:16])


async def test_deleting_returns_the_allocation_and_only_while_scheduled(
    client: Client, admin: Caller, settings: Settings
) -> None:
    scheduled, product = await new_sale(client, admin, stock=40, starts_at=at(30), ends_at=at(90))
    expect_ok(await client.delete(f"{SALES}/{scheduled['id']}", headers=admin.headers))
    assert await stock_of(settings.database_url or "", product["id"]) == 40
    expect_error(await client.get(f"{SALES}/{scheduled['id']}", headers=admin.headers), 404, "NOT_FOUND")
    active, _ = await new_sale(client, admin, product=product)
    expect_error(await client.delete(f"{SALES}/{active['id']}", headers=admin.headers), 409, "INVALID_SALE_STATE")


async def test_admin_lifecycle_activate_then_end_returns_unsold_once(
    client: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    sale, product = await new_sale(client, admin, stock=30, starts_at=at(30), ends_at=at(90))
    url = f"{SALES}/{sale['id']}"
    assert expect_ok(await client.post(f"{url}/activate", headers=admin.headers))["status"] == "active"
    expect_error(await client.post(f"{url}/activate", headers=admin.headers), 409, "INVALID_SALE_STATE")
    expect_ok(await buy(client, shopper.headers, sale, quantity=2), 201)
    ended = expect_ok(await client.post(f"{url}/end", headers=admin.headers))
    assert ended["status"] == "ended"
    assert ended["items"][0]["remaining_stock"] == 0
    assert await stock_of(settings.database_url or "", product["id"]) == 30 - 2
    expect_error(await client.post(f"{url}/end", headers=admin.headers), 409, "INVALID_SALE_STATE")
    expect_error(await client.post(f"{url}/activate", headers=admin.headers), 409, "INVALID_SALE_STATE")
    assert await stock_of(settings.database_url or "", product["id"]) == 28
    expect_error(await buy(client, shopper.headers, sale), 409, "SALE_NOT_ACTIVE")


async def test_lists_filter_by_status_and_paginate(client: Client, admin: Caller) -> None:
    product = await flash_product(client, admin, stock=500)
    for hours in range(3):
        body = sale_body(product["id"], starts_at=at(70 * (hours + 1)), ends_at=at(70 * (hours + 1) + 30))
        expect_ok(await client.post(SALES, json=body, headers=admin.headers), 201)
    await new_sale(client, admin, product=product)
    scheduled = expect_ok(await client.get(SALES, params={"status": "scheduled", "limit": 2}, headers=admin.headers))
    assert len(scheduled["items"]) == 2
    assert scheduled["next_cursor"]
    rest = expect_ok(
        await client.get(
            SALES, params={"status": "scheduled", "limit": 2, "cursor": scheduled["next_cursor"]}, headers=admin.headers
        )
    )
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    active = expect_ok(await client.get(SALES, params={"status": "active"}, headers=admin.headers))
    assert [s["status"] for s in active["items"]] == ["active"]
    paused = await client.get(SALES, params={"status": "paused"}, headers=admin.headers)
    assert "status" in field_errors(expect_error(paused, 422, "VALIDATION_FAILED"))


async def test_admin_purchase_list_is_paginated(client: Client, admin: Caller, service_key: dict[str, str]) -> None:
    sale, _ = await new_sale(client, admin)
    for n in range(5):
        expect_ok(await buy(client, service_key, sale, customer_id=f"c-{n}"), 201)
    url = f"{SALES}/{sale['id']}/purchases"
    first = expect_ok(await client.get(url, params={"limit": 3}, headers=admin.headers))
    second = expect_ok(
        await client.get(url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin.headers)
    )
    customers = [p["customer_id"] for p in first["items"] + second["items"]]
    assert sorted(customers) == [f"c-{n}" for n in range(5)]
    assert customers[0] == "c-4"  # newest first
    assert second["next_cursor"] is None


async def test_reconcile_reports_and_corrects_drift(
    client: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    sale, product = await new_sale(client, admin)
    expect_ok(await buy(client, shopper.headers, sale, quantity=2), 201)
    redis = Redis.from_url(settings.redis_url or "")
    key = f"qs:{{fs:{sale['id']}}}:sale"
    await redis.hset(key, f"s:{product['id']}", 3)
    await redis.hset(key, f"b:{product['id']}:{shopper.id}", 0)
    report = expect_ok(await client.post(f"{SALES}/{sale['id']}/reconcile", headers=admin.headers))
    assert report["counters_were_missing"] is False
    corrected = {(c["counter"], c["redis"], c["ledger"]) for c in report["corrections"]}
    assert corrected == {("remaining_stock", 3, 8), ("purchased", 0, 2)}
    assert int(await redis.hget(key, f"s:{product['id']}") or 0) == 8
    clean = expect_ok(await client.post(f"{SALES}/{sale['id']}/reconcile", headers=admin.headers))
    assert clean["corrections"] == []
    await redis.flushdb()
    await redis.aclose()
    gone = expect_ok(await client.post(f"{SALES}/{sale['id']}/reconcile", headers=admin.headers))
    assert gone["counters_were_missing"] is True
    read = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=admin.headers))
    assert read["items"][0]["remaining_stock"] == 8


async def stats_once(client: Client, admin: Caller, sale: dict[str, Any], **expected: Any) -> dict[str, Any]:
    """The sale's stats once they show `expected` (the scheduler's next pass, every second,
    refreshes them off the request path); fails after 5 s. A pass reads the purchases from
    PostgreSQL and the attempts from Redis, so wait for every figure asserted on: a pass
    between the last purchase and the last refusal shows the one without the other."""

    async def stats() -> dict[str, Any] | None:
        found: dict[str, Any] = expect_ok(await client.get(f"{SALES}/{sale['id']}/stats", headers=admin.headers))
        return found if all(found[name] == value for name, value in expected.items()) else None

    return await until(stats, f"the sale's stats show {expected}", within=5)


async def test_viewers_and_background_stats(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    sale, _ = await new_sale(client, admin)
    url = f"{SALES}/{sale['id']}"
    for _ in range(3):
        expect_ok(await client.get(url, headers=shopper.headers))
    for customer in ("c-1", "c-2", "c-3"):
        expect_ok(await client.get(url, params={"customer_id": customer}, headers=service_key))
    expect_ok(await buy(client, shopper.headers, sale, quantity=2), 201)
    expect_ok(await buy(client, service_key, sale, customer_id="c-1"), 201)
    expect_error(await buy(client, shopper.headers, sale), 409, "PURCHASE_LIMIT_EXCEEDED")
    stats = await stats_once(client, admin, sale, units_sold=3, attempts={"RESERVED": 2, "PURCHASE_LIMIT_EXCEEDED": 1})
    assert stats["purchases"] == 2
    assert stats["units_sold"] == 3
    assert stats["revenue"] == {"TRY": "45.00"}
    assert stats["buyers"] == 2
    assert stats["unique_viewers"] == 4
    assert stats["conversion_rate"] == "50.00"


async def test_a_quote_prices_flash_units_up_to_stock_and_limit(client: Client, admin: Caller, shopper: Caller) -> None:
    sale, product = await new_sale(client, admin, item={"allocated_stock": 10, "per_user_limit": 3})
    expect_ok(await buy(client, shopper.headers, sale, quantity=1), 201)
    body = {
        "customer_id": str(shopper.id),
        "currency": "TRY",
        "items": [{"product_id": product["id"], "quantity": 5}],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
    lines = [(i["price_source"], i["quantity"], i["unit_price"]) for i in quote["items"]]
    assert lines[0] == ("flash_sale", 2, "15.00")  # limit 3, one already bought
    assert lines[1][:2] == ("catalog", 3)


def quote_body(customer_id: str, product_id: str, quantity: int) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "currency": "TRY",
        "items": [{"product_id": product_id, "quantity": quantity}],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
    }


async def order_of(client: Client, headers: dict[str, str], quote_id: str) -> Any:
    return await client.post(
        "/api/v1/orders", json={"quote_id": quote_id}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )


async def test_an_order_buys_its_flash_units_from_the_sale(
    client: Client, admin: Caller, shopper: Caller, settings: Settings
) -> None:
    sale, product = await new_sale(client, admin, stock=100, item={"allocated_stock": 10, "per_user_limit": 2})
    body = quote_body(str(shopper.id), product["id"], 3)
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
    assert [(i["price_source"], i["quantity"]) for i in quote["items"]] == [("flash_sale", 2), ("catalog", 1)]
    order = expect_ok(await order_of(client, shopper.headers, quote["quote_id"]), 201)
    assert order["total_amount"] == quote["total_amount"]
    rows = await ledger(settings.database_url or "", sale["id"])
    assert [(r["customer_id"], r["quantity"]) for r in rows] == [(str(shopper.id), 2)]
    assert await stock_of(settings.database_url or "", product["id"]) == 90 - 1  # the catalog unit
    mine = expect_ok(await client.get(f"{SALES}/{sale['id']}/purchases/me", headers=shopper.headers))
    assert mine["items"][0] == {"product_id": product["id"], "purchased": 2, "remaining_limit": 0}
    # The limit is spent: the next quote prices every unit from the catalog.
    again = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
    assert [i["price_source"] for i in again["items"]] == ["catalog"]


async def test_an_order_whose_flash_units_sold_meanwhile_is_refused_whole(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    sale, product = await new_sale(client, admin, stock=100, item={"allocated_stock": 2, "per_user_limit": 2})
    body = quote_body(str(shopper.id), product["id"], 2)
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
    assert quote["items"][0]["price_source"] == "flash_sale"
    expect_ok(await buy(client, service_key, sale, customer_id="faster", quantity=2), 201)
    expect_error(await order_of(client, shopper.headers, quote["quote_id"]), 409, "SOLD_OUT")
    rows = await ledger(settings.database_url or "", sale["id"])
    assert [r["customer_id"] for r in rows] == ["faster"]
    orders = expect_ok(await client.get("/api/v1/orders", headers=admin.headers))
    assert [o["customer_id"] for o in orders["items"]] == ["faster"]  # the purchase's own order only
    assert await stock_of(settings.database_url or "", product["id"]) == 98


async def test_an_order_refused_after_holding_flash_units_is_not_counted_as_a_reservation(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    sale, product = await new_sale(client, admin, stock=100, item={"allocated_stock": 10, "per_user_limit": 2})
    quote = expect_ok(
        await client.post("/api/v1/quote", json=quote_body(str(shopper.id), product["id"], 3), headers=shopper.headers)
    )
    assert [(i["price_source"], i["quantity"]) for i in quote["items"]] == [("flash_sale", 2), ("catalog", 1)]
    conn = await asyncpg.connect(settings.database_url or "")
    try:  # the catalog unit sells elsewhere meanwhile: the order takes its flash units, then fails
        await conn.execute("UPDATE products SET stock = 0 WHERE id = $1", uuid.UUID(product["id"]))
    finally:
        await conn.close()
    expect_error(await order_of(client, shopper.headers, quote["quote_id"]), 409, "INSUFFICIENT_STOCK")
    expect_ok(await buy(client, service_key, sale, customer_id="c-1"), 201)
    expect_ok(await buy(client, service_key, sale, customer_id="c-2"), 201)

    await stats_once(client, admin, sale, purchases=2, attempts={"RESERVED": 2, "RELEASED": 1})
    mine = expect_ok(await client.get(f"{SALES}/{sale['id']}/purchases/me", headers=shopper.headers))
    assert mine["items"][0]["purchased"] == 0  # the held units went back


async def test_malformed_purchase_bodies_get_the_envelope_and_sell_nothing(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    sale, product = await new_sale(client, admin)
    url = f"{SALES}/{sale['id']}/purchases"
    headers = {**service_key, "Idempotency-Key": "bad-bodies", "Content-Type": "application/json"}
    cases = [
        (b"{not json", 400, "MALFORMED_REQUEST", None),
        (b"[" * 10_000, 400, "MALFORMED_REQUEST", None),
        (
            b'{"product_id": "%s", "quantity": "two", "customer_id": "c"}' % product["id"].encode(),
            422,
            "VALIDATION_FAILED",
            "quantity",
        ),
        (
            b'{"product_id": "%s", "quantity": 1, "customer_id": "c\\u0000"}' % product["id"].encode(),
            422,
            "VALIDATION_FAILED",
            "customer_id",
        ),
        (
            b'{"product_id": "%s", "quantity": 1, "customer_id": "c", "extra": 1}' % product["id"].encode(),
            422,
            "VALIDATION_FAILED",
            "extra",
        ),
    ]
    for body, status, code, field in cases:
        response = await client.post(url, content=body, headers=headers)
        found = field_errors(expect_error(response, status, code))
        if field is not None:
            assert field in found, found
    assert await ledger(settings.database_url or "", sale["id"]) == []


async def test_a_customers_own_purchases_across_sales_newest_first(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    """GET /flash-sales/purchases/me: what a customer bought with "Buy now" in every sale (each with its own
    order), with the sale's and the product's names; units bought within an order of a quote belong to that
    order."""
    first, lamp = await new_sale(client, admin, name="Morning sale")
    second, _ = await new_sale(client, admin, name="Evening sale")
    expect_ok(await buy(client, shopper.headers, first, quantity=2), 201)
    expect_ok(await buy(client, shopper.headers, second), 201)
    expect_ok(await buy(client, service_key, second, customer_id="c-42"), 201)  # another customer's
    _, product = await new_sale(client, admin, name="Order sale")
    quote = expect_ok(
        await client.post("/api/v1/quote", json=quote_body(str(shopper.id), product["id"], 1), headers=shopper.headers)
    )
    expect_ok(await order_of(client, shopper.headers, quote["quote_id"]), 201)  # flash units inside an order
    url = f"{SALES}/purchases/me"

    page = expect_ok(await client.get(url, params={"limit": 1}, headers=shopper.headers))
    rest = expect_ok(await client.get(url, params={"limit": 1, "cursor": page["next_cursor"]}, headers=shopper.headers))

    mine = page["items"] + rest["items"]
    # Each charged as a one-line quote: goods, 18 % tax, delivery 10.00, small-basket fee 5.00.
    assert [(p["sale_name"], p["quantity"], p["subtotal"], p["total"]) for p in mine] == [
        ("Evening sale", 1, "15.00", "32.70"),
        ("Morning sale", 2, "30.00", "50.40"),
    ]
    assert all(p["order_id"] is not None for p in mine)
    assert mine[1]["product_name"] == lamp["name"]
    assert mine[1]["product_id"] == lamp["id"]
    assert {p["customer_id"] for p in mine} == {str(shopper.id)}
    assert rest["next_cursor"] is None
    others = expect_ok(await client.get(url, params={"customer_id": "c-42"}, headers=service_key))
    assert [p["sale_name"] for p in others["items"]] == ["Evening sale"]
    assert "customer_id" in field_errors(
        expect_error(await client.get(url, headers=service_key), 422, "VALIDATION_FAILED")
    )
    expect_error(await client.get(url, params={"customer_id": "c-42"}, headers=shopper.headers), 403, "FORBIDDEN")

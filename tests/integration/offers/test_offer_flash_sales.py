"""Flash-sale items for one offer (docs/offers.md#price-lists-and-flash-sales): an item naming `offer_id` sells
only that offer, its units allocated from the offer's stock and given back to it (end, delete, item
replacement), its flash price at least the offer's min_price; an item without one sells the product's own
(default) offer from the product's stock, exactly as before. Quotes give the flash price to a line sold from
offer X only from an item naming X; purchases and orders take units from that item's counters and never
oversell it; the hold reconciler and reconcile handle its counters; sales without offers read as before."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.flash_sales.counters import marker_key
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import SALES, at
from tests.integration.holdsetup import GRACE, shop
from tests.integration.offers.test_offers_api import OFFERS, Client, make_offer, quote
from tests.integration.offers.test_offers_api import product as product  # the fixture
from tests.integration.orders.test_orders_api import key
from tests.integration.orders.test_orders_concurrency import http as http  # the fixture
from tests.integration.orders.test_orders_concurrency import outcomes

ITEM_KEYS = {"product_id", "flash_price", "currency", "allocated_stock", "remaining_stock", "per_user_limit"}


def item(product: dict[str, Any], flash_price: str = "30.00", **fields: Any) -> dict[str, Any]:
    return {
        "product_id": product["id"],
        "flash_price": flash_price,
        "allocated_stock": 3,
        "per_user_limit": 2,
        **fields,
    }


def body(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": "Offer sale", "starts_at": at(-1), "ends_at": at(60), "items": list(items), **fields}


async def create(client: Client, admin: Caller, *items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(SALES, json=body(*items, **fields), headers=admin.headers), 201)
    return data


async def stocks(client: Client, admin: Caller, product: dict[str, Any], offer: dict[str, Any]) -> tuple[int, int]:
    """(the product's own stock, the offer's)."""
    own = expect_ok(await client.get(f"/api/v1/products/{product['id']}", headers=admin.headers))["stock"]
    theirs = expect_ok(await client.get(f"{OFFERS}/{offer['id']}", headers=admin.headers))["stock"]
    return own, theirs


def line(product: dict[str, Any], quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {"product_id": product["id"], "quantity": quantity, **fields}


async def lines(client: Client, headers: dict[str, str], *items: dict[str, Any], **fields: Any) -> list[Any]:
    found: list[Any] = expect_ok(await quote(client, headers, *items, **fields))["items"]
    return found


def purchase(product: dict[str, Any], quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {"product_id": product["id"], "quantity": quantity, "customer_id": "c-1", **fields}


async def buy(client: Client | httpx.AsyncClient, headers: dict[str, str], sale: dict[str, Any], data: Any) -> Any:
    return await client.post(f"{SALES}/{sale['id']}/purchases", json=data, headers={**headers, **key()})


async def test_an_offers_item_is_allocated_from_the_offers_stock_and_given_back_at_the_end(
    client: Client, admin: Caller, product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", min_price="20.00", stock=8)
    sale = await create(
        client, admin, item(product, "15.00"), item(product, "25.00", allocated_stock=5, offer_id=offer["id"])
    )

    assert [set(i) for i in sale["items"]] == [ITEM_KEYS, {*ITEM_KEYS, "offer_id"}]
    assert sale["items"][1]["offer_id"] == offer["id"]
    assert [(i["flash_price"], i["remaining_stock"]) for i in sale["items"]] == [("15.00", 3), ("25.00", 5)]
    assert await stocks(client, admin, product, offer) == (7, 3)
    read = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=admin.headers))
    assert read["items"] == sale["items"]

    ended = expect_ok(await client.post(f"{SALES}/{sale['id']}/end", headers=admin.headers))
    assert [i["remaining_stock"] for i in ended["items"]] == [0, 0]
    assert await stocks(client, admin, product, offer) == (10, 8)


async def test_replacing_and_deleting_items_move_the_offers_stock(
    client: Client, admin: Caller, product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, stock=8)
    sale = await create(
        client, admin, item(product, allocated_stock=5, offer_id=offer["id"]), starts_at=at(30), ends_at=at(90)
    )
    url = f"{SALES}/{sale['id']}"
    assert await stocks(client, admin, product, offer) == (10, 3)

    fewer = await client.put(
        url, json={"items": [item(product, allocated_stock=2, offer_id=offer["id"])]}, headers=admin.headers
    )
    assert expect_ok(fewer)["items"][0]["allocated_stock"] == 2
    assert await stocks(client, admin, product, offer) == (10, 6)
    # The offer's whole stock (the 2 the sale gives back included) may be allocated; one more is 409.
    short = await client.put(
        url, json={"items": [item(product, allocated_stock=9, offer_id=offer["id"])]}, headers=admin.headers
    )
    assert field_errors(expect_error(short, 409, "INSUFFICIENT_STOCK")) == {
        "items[0].allocated_stock": "9 asked, 8 in the offer's stock"
    }
    moved = await client.put(url, json={"items": [item(product, allocated_stock=4)]}, headers=admin.headers)
    assert set(expect_ok(moved)["items"][0]) == ITEM_KEYS
    assert await stocks(client, admin, product, offer) == (6, 8)
    both = [item(product, allocated_stock=1), item(product, allocated_stock=8, offer_id=offer["id"])]
    expect_ok(await client.put(url, json={"items": both}, headers=admin.headers))
    assert await stocks(client, admin, product, offer) == (9, 0)

    expect_ok(await client.delete(url, headers=admin.headers))
    assert await stocks(client, admin, product, offer) == (10, 8)


async def test_bad_offer_items_are_refused_naming_their_fields_and_take_nothing(
    client: Client, admin: Caller, product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", min_price="20.00", stock=4)
    other_product = await create_product(client, admin, min_price="0", cost_price="0", stock=5)
    theirs = await make_offer(client, admin, other_product, stock=5)
    cases = [
        ([item(product, offer_id=str(uuid.uuid4()))], {"items[0].offer_id": "is not an active offer of this product"}),
        ([item(product, offer_id=theirs["id"])], {"items[0].offer_id": "is not an active offer of this product"}),
        ([item(product, offer_id="not-a-uuid")], None),
        (
            [item(product, "19.99", offer_id=offer["id"])],
            {"items[0].flash_price": "must be at least the offer's min_price 20.00"},
        ),
        (
            [item(product, offer_id=offer["id"]), item(product, offer_id=offer["id"])],
            {"items[1].offer_id": "appears more than once in this sale for this product"},
        ),
        ([item(product), item(product)], {"items[1].product_id": "appears more than once in this sale"}),
    ]
    for items, expected in cases:
        response = await client.post(SALES, json=body(*items), headers=admin.headers)
        errors = field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
        if expected is None:
            assert "items[0].offer_id" in str(response.json()), response.text
        else:
            assert errors == expected, response.text
    short = await client.post(
        SALES, json=body(item(product, allocated_stock=5, offer_id=offer["id"])), headers=admin.headers
    )
    assert field_errors(expect_error(short, 409, "INSUFFICIENT_STOCK")) == {
        "items[0].allocated_stock": "5 asked, 4 in the offer's stock"
    }
    # An inactive offer is no offer to sell.
    expect_ok(await client.patch(f"{OFFERS}/{offer['id']}", json={"is_active": False}, headers=admin.headers))
    gone = await client.post(SALES, json=body(item(product, offer_id=offer["id"])), headers=admin.headers)
    assert field_errors(expect_error(gone, 422, "VALIDATION_FAILED")) == {
        "items[0].offer_id": "is not an active offer of this product"
    }
    assert await stocks(client, admin, product, offer) == (10, 4)


async def test_one_offer_is_in_one_sale_at_a_time_the_default_offer_apart(
    client: Client, admin: Caller, product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, stock=8)
    first = await create(client, admin, item(product, offer_id=offer["id"]))
    # The product's default offer may be in another sale meanwhile; the same offer may not.
    await create(client, admin, item(product))
    clash = await client.post(SALES, json=body(item(product, offer_id=offer["id"])), headers=admin.headers)
    assert field_errors(expect_error(clash, 409, "FLASH_SALE_OVERLAP")) == {
        "items[0].offer_id": f"in flash sale {first['id']}"
    }


async def test_quote_lines_get_the_flash_price_only_from_the_item_of_their_own_offer(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", stock=8)
    other = await make_offer(client, admin, product, seller_id="seller-c", current_price="36.00", stock=8)
    sale = await create(
        client, admin, item(product, "25.00", allocated_stock=5, per_user_limit=2, offer_id=offer["id"])
    )
    own_before = await lines(client, service_key, line(product, seller_id="seller-a"))

    sold = await lines(client, service_key, line(product, 3, offer_id=offer["id"]))
    assert [(x["price_source"], x["quantity"], x["unit_price"], x["offer_id"]) for x in sold] == [
        ("flash_sale", 2, "25.00", offer["id"]),
        ("catalog", 1, "35.00", offer["id"]),
    ]
    assert sold[0]["flash_sale_id"] == sale["id"]
    by_seller = await lines(client, service_key, line(product, seller_id="seller-b"))
    assert (by_seller[0]["price_source"], by_seller[0]["unit_price"]) == ("flash_sale", "25.00")
    # The default offer, and another offer, have no flash item: their lines read as before.
    assert await lines(client, service_key, line(product, seller_id="seller-a")) == own_before
    assert own_before[0]["price_source"] == "catalog"
    unnamed = await lines(client, service_key, line(product, offer_id=other["id"]))
    assert (unnamed[0]["price_source"], unnamed[0]["unit_price"]) == ("catalog", "36.00")

    # A default item prices only the default offer's lines.
    await create(client, admin, item(product, "15.00"))
    assert [x["unit_price"] for x in await lines(client, service_key, line(product, seller_id="seller-a"))] == ["15.00"]
    assert [x["unit_price"] for x in await lines(client, service_key, line(product, offer_id=other["id"]))] == ["36.00"]
    assert [x["unit_price"] for x in await lines(client, service_key, line(product, offer_id=offer["id"]))] == ["25.00"]


async def test_the_best_landed_choice_ranks_offers_by_their_own_prices_not_the_flash_price(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    cheap = await make_offer(client, admin, product, current_price="30.00", stock=8)
    dear = await make_offer(client, admin, product, seller_id="seller-c", current_price="39.00", stock=8)
    await create(client, admin, item(product, "20.00", offer_id=dear["id"]))
    chosen = await lines(client, service_key, line(product))
    assert [(x["offer_id"], x["offer_selection"], x["unit_price"]) for x in chosen] == [
        (cheap["id"], "best_landed", "30.00")
    ]


async def test_a_purchase_of_an_offers_item_is_an_order_of_that_offer(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="35.00", stock=8)
    sale = await create(
        client, admin, item(product, "25.00", allocated_stock=5, per_user_limit=3, offer_id=offer["id"])
    )

    once = {**service_key, "Idempotency-Key": f"offer-{sale['id']}"}
    first = await client.post(
        f"{SALES}/{sale['id']}/purchases", json=purchase(product, 2, offer_id=offer["id"]), headers=once
    )
    bought = expect_ok(first, 201)
    assert (bought["offer_id"], bought["unit_price"], bought["quantity"]) == (offer["id"], "25.00", 2)
    again = await client.post(
        f"{SALES}/{sale['id']}/purchases", json=purchase(product, 2, offer_id=offer["id"]), headers=once
    )
    assert expect_ok(again, 201) == bought
    placed = expect_ok(await client.get(f"/api/v1/orders/{bought['order_id']}", headers=admin.headers))
    assert [(x["seller_id"], x["offer_id"], x["price_source"], x["unit_price"]) for x in placed["items"]] == [
        ("seller-b", offer["id"], "flash_sale", "25.00")
    ]
    # The units came from the sale's allocation: the offer's stock moved only when the sale was made.
    assert await stocks(client, admin, product, offer) == (10, 3)
    read = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=admin.headers))
    assert read["items"][0]["remaining_stock"] == 3
    mine = expect_ok(await client.get(f"{SALES}/{sale['id']}/purchases/me?customer_id=c-1", headers=service_key))
    assert mine["items"] == [
        {"product_id": product["id"], "purchased": 2, "remaining_limit": 1, "offer_id": offer["id"]}
    ]
    limit = await buy(client, service_key, sale, purchase(product, 2, offer_id=offer["id"]))
    expect_error(limit, 409, "PURCHASE_LIMIT_EXCEEDED")

    # The item of another offer, or of the default offer, is not in this sale.
    not_default = await buy(client, service_key, sale, purchase(product))
    assert field_errors(expect_error(not_default, 422, "VALIDATION_FAILED")) == {
        "product_id": "is not in this flash sale"
    }
    stranger = await buy(client, service_key, sale, purchase(product, offer_id=str(uuid.uuid4())))
    assert field_errors(expect_error(stranger, 422, "VALIDATION_FAILED")) == {
        "offer_id": "this offer of the product is not in this flash sale"
    }

    # An order of a quote's flash units of the offer buys them from the same item.
    made = expect_ok(await quote(client, service_key, line(product, 2, offer_id=offer["id"]), customer_id="c-2"))
    assert [(x["price_source"], x["quantity"]) for x in made["items"]] == [("flash_sale", 2)]
    ordered = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": made["quote_id"]}, headers={**service_key, **key()}), 201
    )
    assert [(x["offer_id"], x["price_source"]) for x in ordered["items"]] == [(offer["id"], "flash_sale")]
    after = expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=admin.headers))
    assert after["items"][0]["remaining_stock"] == 1
    assert await stocks(client, admin, product, offer) == (10, 3)
    # A cancel gives an offer's flash units back to the offer (as any line sold from an offer), not the sale.
    cancel = await client.post(f"/api/v1/orders/{ordered['id']}/cancel", json={}, headers={**service_key, **key()})
    assert cancel.status_code in (200, 201), cancel.text
    assert await stocks(client, admin, product, offer) == (10, 5)
    assert (
        expect_ok(await client.get(f"{SALES}/{sale['id']}", headers=admin.headers))["items"][0]["remaining_stock"] == 1
    )


async def test_a_sale_without_offers_reads_as_before(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    await make_offer(client, admin, product, stock=8)
    sale = await create(client, admin, item(product, "15.00"))
    assert [set(i) for i in sale["items"]] == [ITEM_KEYS]
    bought = expect_ok(await buy(client, service_key, sale, purchase(product)), 201)
    assert "offer_id" not in bought
    mine = expect_ok(await client.get(f"{SALES}/{sale['id']}/purchases/me?customer_id=c-1", headers=service_key))
    assert mine["items"] == [{"product_id": product["id"], "purchased": 1, "remaining_limit": 1}]
    listed = expect_ok(await client.get(f"{SALES}/{sale['id']}/purchases", headers=admin.headers))
    assert all("offer_id" not in p for p in listed)


async def test_reconcile_and_the_hold_reconciler_handle_an_offers_counters(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], settings: Settings,
    redis: Redis,
) -> None:  # fmt: skip
    offer = await make_offer(client, admin, product, stock=8)
    sale = await create(client, admin, item(product), item(product, allocated_stock=5, offer_id=offer["id"]))
    expect_ok(await buy(client, service_key, sale, purchase(product, 2, offer_id=offer["id"])), 201)
    slot = f"{product['id']}/{offer['id']}"
    hash_key = f"qs:{{fs:{sale['id']}}}:sale"
    await redis.hset(hash_key, f"s:{slot}", 1)
    report = expect_ok(await client.post(f"{SALES}/{sale['id']}/reconcile", headers=admin.headers))
    assert [
        (c["product_id"], c.get("offer_id"), c["counter"], c["redis"], c["ledger"]) for c in report["corrections"]
    ] == [(product["id"], offer["id"], "remaining_stock", 1, 3)]

    assert settings.database_url is not None
    async with shop(settings.database_url, redis, max_size=2) as store:
        sale_id = uuid.UUID(sale["id"])
        marker = marker_key(sale_id, uuid.UUID(int=0), "stranded")
        taken = await store.sales.counters.reserve(
            sale_id=sale_id, slot=slot, customer_id="c-9", quantity=2, now=utcnow(), marker=marker,
            marker_value="P|x", marker_ttl=60,
        )  # fmt: skip
        assert not isinstance(taken, bytes)
        assert taken.outcome == "OK"
        assert (await store.sales.counters.remaining(sale_id, [slot])) == [1]
        store.reconciler.clock = lambda: utcnow() + timedelta(seconds=GRACE + 1)
        assert (await store.reconciler.tick())["returned"] == 1
        assert (await store.sales.counters.remaining(sale_id, [slot])) == [3]


async def test_a_process_whose_snapshot_lacks_the_sales_offer_catches_up_and_sells(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    """A sale naming an offer created through another process a moment ago: this process has not yet followed
    the announcement (its snapshot lacks the offer), so the purchase reads the configuration's version and
    sells, rather than take the units and answer 422 on its own stale offer book (CI, 2026-11-28: seven of
    twenty racing purchases on a second process answered VALIDATION_FAILED and none sold)."""
    store = client.app.state.config_store
    behind = store.snapshot
    offer = await make_offer(client, admin, product, current_price="35.00", stock=10)
    sale = await create(client, admin, item(product, "25.00", allocated_stock=5, offer_id=offer["id"]))
    assert offer["id"] in store.snapshot.offers.by_id
    store.snapshot = behind  # as a process the announcement has not reached yet
    assert behind.offers is None or offer["id"] not in behind.offers.by_id

    bought = expect_ok(await buy(client, service_key, sale, purchase(product, offer_id=offer["id"])), 201)

    assert (bought["offer_id"], bought["quantity"], bought["unit_price"]) == (offer["id"], 1, "25.00")
    assert offer["id"] in store.snapshot.offers.by_id


@pytest.fixture
async def offer_sale(client: Client, admin: Caller, product: dict[str, Any]) -> dict[str, Any]:
    """An offer (stock 10) with an item of 5 units, 1 per customer, in an active sale."""
    offer = await make_offer(client, admin, product, current_price="35.00", stock=10)
    sale = await create(
        client, admin, item(product, "25.00", allocated_stock=5, per_user_limit=1, offer_id=offer["id"])
    )
    return {"sale": sale, "offer": offer, "product": product}


async def sold_units(pool: asyncpg.Pool, sale: dict[str, Any], offer: dict[str, Any]) -> int:
    units: int = await pool.fetchval(
        "SELECT coalesce(sum(quantity), 0) FROM flash_purchases WHERE flash_sale_id = $1 AND offer_id = $2",
        uuid.UUID(sale["id"]),
        uuid.UUID(offer["id"]),
    )
    return units


@pytest.mark.slow
async def test_twenty_racing_purchases_of_an_offers_five_units_sell_exactly_five(
    client: Client,
    http: httpx.AsyncClient,
    admin: Caller,
    service_key: dict[str, str],
    offer_sale: dict[str, Any],
    pool: asyncpg.Pool,
) -> None:
    sale, offer, product = offer_sale["sale"], offer_sale["offer"], offer_sale["product"]
    bodies = [purchase(product, offer_id=offer["id"], customer_id=f"racer-{i}") for i in range(20)]
    responses = list(await asyncio.gather(*(buy(http, service_key, sale, b) for b in bodies)))
    assert outcomes(responses) == {(201, "ok"): 5, (409, "SOLD_OUT"): 15}
    assert await sold_units(pool, sale, offer) == 5
    assert await stocks(client, admin, product, offer) == (10, 5)


@pytest.mark.slow
async def test_twenty_racing_orders_of_an_offers_five_flash_units_sell_exactly_five(
    client: Client,
    http: httpx.AsyncClient,
    admin: Caller,
    service_key: dict[str, str],
    offer_sale: dict[str, Any],
    pool: asyncpg.Pool,
) -> None:
    sale, offer, product = offer_sale["sale"], offer_sale["offer"], offer_sale["product"]
    quotes = []
    for i in range(20):
        made = expect_ok(
            await quote(client, service_key, line(product, offer_id=offer["id"]), customer_id=f"orderer-{i}")
        )
        assert [x["price_source"] for x in made["items"]] == ["flash_sale"]
        quotes.append(made["quote_id"])
    responses = list(
        await asyncio.gather(
            *(http.post("/api/v1/orders", json={"quote_id": q}, headers={**service_key, **key()}) for q in quotes)
        )
    )
    assert outcomes(responses) == {(201, "ok"): 5, (409, "SOLD_OUT"): 15}
    assert await sold_units(pool, sale, offer) == 5
    assert await stocks(client, admin, product, offer) == (10, 5)

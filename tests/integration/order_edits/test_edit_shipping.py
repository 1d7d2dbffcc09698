"""An order edit's delivery options (docs/orders-and-refunds.md#edits-and-exchanges), on real PostgreSQL and
Redis: the order's choices apply to the sellers still in the edited basket, a seller that an exchange, a
removal or an addition takes out of the basket leaves its choice behind, a seller the edit brings in gets
the option a quote would choose for it unless the edit's `shipping` names one, and an option the edit
itself names that its shipment does not offer is still 422 naming `shipping.<seller_id>`."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.offers.test_offers_api import make_offer
from tests.integration.order_edits.test_edits_api import ORDERS, commit, key, preview
from tests.integration.shipping.test_shipping_profiles_api import create_profile, option
from tests.integration.shipping.test_shipping_quotes import basket, quote_of

Client = AsyncTestClient[Litestar]


async def three_sellers(client: Client, admin: Caller) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Seller A's 40.00 (its profile: standard 4.90 + 0.50/kg, express 9.90), seller B's 30.00 (no profile:
    the delivery rules) and seller C's 20.00, whose profile offers only `economy` (3.00) and `courier`
    (8.00), none of them express."""
    mine, theirs = await basket(client, admin)
    options = [option("courier", base_fee="8.00", eta_days_max=2), option("economy", base_fee="3.00")]
    await create_profile(client, admin, seller_id="seller-c", options=options)
    third = await create_product(client, admin, seller_id="seller-c", base_price="20.00", min_price="0", cost_price="0")
    return mine, theirs, third


async def ordered(client: Client, headers: dict[str, str], *lines: tuple[dict[str, Any], int], **fields: Any) -> Any:
    quote = expect_ok(await quote_of(client, headers, *lines, **fields))
    return expect_ok(await client.post(ORDERS, json={"quote_id": quote["quote_id"]}, headers={**headers, **key()}), 201)


def parcels(data: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(s["seller_id"], s["selected"], s["delivery_fee"]) for s in data.get("shipments") or []]


async def test_exchanging_a_sellers_only_line_for_another_sellers_product_leaves_its_choice_behind(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, theirs, third = await three_sellers(client, admin)
    chosen = {"seller-a": "express", "seller-c": "courier"}
    order = await ordered(client, service_key, (theirs, 1), (mine, 2), (third, 1), shipping=chosen)
    assert parcels(order) == [
        ("seller-b", None, "10.00"),
        ("seller-a", "express", "9.90"),
        ("seller-c", "courier", "8.00"),
    ]

    swap = {"product_id": mine["id"], "quantity": 2, "with": {"product_id": theirs["id"], "quantity": 1}}
    shown = expect_ok(await preview(client, service_key, order["id"], {"replace": [swap]}), 201)
    assert shown["totals"]["delivery_fee"] == "18.00"  # B's 10.00 by the delivery rules, C's courier kept
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert parcels(done) == [("seller-b", None, "10.00"), ("seller-c", "courier", "8.00")]


async def test_exchanging_a_line_sold_from_another_sellers_offer_leaves_that_sellers_choice_behind(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, theirs, _ = await three_sellers(client, admin)
    offer = await make_offer(client, admin, mine, seller_id="seller-c", current_price="35.00")
    items = [
        {"product_id": mine["id"], "offer_id": offer["id"], "quantity": 1},
        {"product_id": theirs["id"], "quantity": 1},
    ]
    quote = expect_ok(await quote_of(client, service_key, shipping={"seller-c": "courier"}, items=items))
    order = expect_ok(
        await client.post(ORDERS, json={"quote_id": quote["quote_id"]}, headers={**service_key, **key()}), 201
    )
    assert parcels(order) == [("seller-c", "courier", "8.00"), ("seller-b", None, "10.00")]

    swap = {"offer_id": offer["id"], "quantity": 1, "with": {"product_id": theirs["id"], "quantity": 1}}
    shown = expect_ok(await preview(client, service_key, order["id"], {"replace": [swap]}), 201)
    assert [(i["seller_id"], i["quantity"]) for i in shown["items"]] == [("seller-b", 2)]
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert (parcels(done), done["delivery_fee"]) == ([], "10.00")


async def test_removing_all_of_a_sellers_units_leaves_its_choice_behind(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, theirs, _ = await three_sellers(client, admin)
    order = await ordered(client, service_key, (theirs, 1), (mine, 2))
    assert parcels(order) == [("seller-b", None, "10.00"), ("seller-a", "standard", "6.40")]

    body = {"remove": [{"product_id": mine["id"], "quantity": 2}]}
    shown = expect_ok(await preview(client, service_key, order["id"], body), 201)
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    # No seller left has a profile: the order is priced as a quote of B's line alone (no shipments).
    assert ("shipments" in done, done["delivery_fee"]) == (False, "10.00")


async def test_a_seller_an_exchange_brings_in_gets_the_option_a_quote_would_choose_or_the_one_the_edit_names(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, theirs, third = await three_sellers(client, admin)
    order = await ordered(client, service_key, (theirs, 1), (mine, 1), shipping={"seller-a": "express"})
    swap = {"product_id": mine["id"], "quantity": 1, "with": {"product_id": third["id"], "quantity": 1}}
    quoted = expect_ok(await quote_of(client, service_key, (theirs, 1), (third, 1)))
    assert parcels(quoted) == [("seller-b", None, "10.00"), ("seller-c", "economy", "3.00")]

    shown = expect_ok(await preview(client, service_key, order["id"], {"replace": [swap]}), 201)
    assert shown["totals"]["delivery_fee"] == quoted["delivery_fee"] == "13.00"
    named = {"replace": [swap], "shipping": {"seller-c": "courier"}}
    chosen = expect_ok(await preview(client, service_key, order["id"], named), 201)
    assert chosen["totals"]["delivery_fee"] == "18.00"

    # An option the edit names is still checked: one seller C does not offer, or one for seller A, whom the
    # exchange takes out of the basket, is 422 naming it, and changes nothing.
    for shipping, field in (
        ({"seller-c": "express"}, "shipping.seller-c"),
        ({"seller-a": "express"}, "shipping.seller-a"),
    ):
        refused = await preview(client, service_key, order["id"], {"replace": [swap], "shipping": shipping})
        assert set(field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))) == {field}

    done = expect_ok(await commit(client, service_key, order["id"], chosen["edit_id"]))
    assert parcels(done) == [("seller-b", None, "10.00"), ("seller-c", "courier", "8.00")]
    kept = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=service_key))
    assert parcels(kept) == parcels(done)


async def test_an_added_seller_gets_its_default_option_and_the_sellers_kept_keep_theirs(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, _, third = await three_sellers(client, admin)
    order = await ordered(client, service_key, (mine, 1), shipping={"seller-a": "express"})

    body = {"add": [{"product_id": third["id"], "quantity": 1}]}
    shown = expect_ok(await preview(client, service_key, order["id"], body), 201)
    assert shown["totals"]["delivery_fee"] == "12.90"  # A's express 9.90 kept, C's economy 3.00
    by_seller = {s["seller_id"]: s["difference_due"] for s in shown["sellers"]}
    assert by_seller == {"seller-a": "0.00", "seller-c": "26.60"}  # 20.00 + 3.60 tax + 3.00
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert parcels(done) == [("seller-a", "express", "9.90"), ("seller-c", "economy", "3.00")]

"""What a shopper may read of the catalog: prices, never the floor, the cost or the market view.

`min_price` (the floor no move goes below) and `cost_price` (what the seller pays) are the
seller's business; the market view (competitors' prices, our rank) is the pricing team's.
Admins and service keys (checkout systems, back offices) read all three.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import PRODUCTS, create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok

Client = AsyncTestClient[Litestar]
HIDDEN = {"min_price", "cost_price"}


async def _item_and_listing(client: Client, headers: dict[str, str], product_id: str) -> list[dict[str, Any]]:
    item = expect_ok(await client.get(f"{PRODUCTS}/{product_id}", headers=headers))
    listed = expect_ok(await client.get(PRODUCTS, params={"q": item["sku"]}, headers=headers))["items"]
    searched = expect_ok(await client.get(PRODUCTS, headers=headers))["items"]
    return [item, *listed, *searched]


async def test_a_shopper_reads_products_without_floor_or_cost(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin)

    as_shopper = await _item_and_listing(client, shopper.headers, product["id"])
    as_service = await _item_and_listing(client, service_key, product["id"])
    as_admin = await _item_and_listing(client, admin.headers, product["id"])

    assert len(as_shopper) == 3
    for seen in as_shopper:
        assert HIDDEN.isdisjoint(seen), seen
        assert seen["current_price"] == "25.50"
        assert seen["base_price"] == "25.50"
    for seen in [*as_service, *as_admin]:
        assert (seen["min_price"], seen["cost_price"]) == ("20.00", "10.00")


async def test_only_admins_and_service_keys_read_the_market_view(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin)
    market = f"{PRODUCTS}/{product['id']}/market"

    expect_error(await client.get(market, headers=shopper.headers), 403, "FORBIDDEN")
    assert expect_ok(await client.get(market, headers=service_key))["our_price"] == "25.50"
    assert expect_ok(await client.get(market, headers=admin.headers))["competitors"] == []

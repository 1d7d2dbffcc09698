"""seed-demo's promotions (docs/promotions.md): a grocery buy-2-get-1 and 5 % off big baskets."""

from __future__ import annotations

from decimal import Decimal as D

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cli import demo
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.promotions.test_promotion_quotes import quote_of
from tests.waiting import until

Client = AsyncTestClient[Litestar]


async def test_the_demo_promotions_price_quotes_and_are_seeded_once(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    assert await demo.seed_promotions(pool) == len(demo.DEMO_PROMOTIONS) == 9
    assert await demo.seed_promotions(pool) == 0
    grocery = [
        await create_product(
            client, admin, base_price=price, min_price="0.00", cost_price="0.00", category_id="grocery"
        )
        for price in ("59.00", "89.00", "179.00")
    ]
    laptop = await create_product(client, admin, base_price="4000.00", min_price="0.00", cost_price="0.00")
    lamp = await create_product(client, admin, base_price="250.00", min_price="0.00", cost_price="0.00",
                                category_id="home")  # fmt: skip

    async def promoted() -> bool:  # seeded straight into PostgreSQL: the app sees the new version within ~1 s
        return bool((await quote_of(client, service_key, grocery))["applied_promotions"])

    await until(promoted, "the app prices with the seeded promotions")
    three_for_two = await quote_of(client, service_key, grocery)
    big_basket = await quote_of(client, service_key, [laptop])

    assert [(p["name"], p["amount"]) for p in three_for_two["applied_promotions"]] == [
        ("Grocery: buy 2, get 1 free", "59.00")
    ]
    assert [(p["name"], p["amount"]) for p in big_basket["applied_promotions"]] == [
        ("5 % off baskets from 3000.00", "200.00")
    ]

    on_us = await quote_of(client, service_key, [lamp])
    assert [(p["name"], p["amount"], p["funded_by"]) for p in on_us["applied_promotions"]] == [
        ("Home week: 10 % off, paid by the platform", "25.00", "platform")
    ]
    assert on_us["items"][0]["platform_funded"] == "25.00"

    # On the newsletter the home week stacks before the spend tiers whichever id each drew (its
    # priority is higher): 10 % of the whole 925.00 (not of 885.00), and the 500.00 tier's 40.00.
    lamps = [lamp, *[await create_product(client, admin, base_price=price, min_price="0.00", cost_price="0.00",
                                          category_id="home") for price in ("375.00", "300.00")]]  # fmt: skip
    newsletter = await quote_of(client, service_key, lamps, channel="newsletter")
    assert [(p["name"], p["amount"]) for p in newsletter["applied_promotions"]] == [
        ("Home week: 10 % off, paid by the platform", "92.50"),
        ("Newsletter: home spend 500 get 40, spend 1000 get 100", "40.00"),
    ]


async def test_the_demo_shows_the_checkout_rules(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    """docs/demo.md: FULLPRICE10 skips reduced lines, half delivery on the demo-app channel."""
    await demo.seed_promotions(pool)
    [coupon] = [c for c in demo.DEMO_COUPONS if c["code"] == "FULLPRICE10"]
    expect_ok(await client.post("/api/v1/coupons", json=coupon, headers=admin.headers), 201)
    oil = await create_product(client, admin, base_price="389.00", min_price="0.00", cost_price="0.00",
                               category_id="grocery")  # fmt: skip

    async def promoted() -> bool:  # seeded straight into PostgreSQL: the app sees the new version within ~1 s
        return bool((await quote_of(client, service_key, [oil], channel="demo-app"))["applied_promotions"])

    await until(promoted, "the app prices with the seeded promotions")
    plain = await quote_of(client, service_key, [oil])
    app = await quote_of(client, service_key, [oil], channel="demo-app")
    [half] = app["applied_promotions"]
    assert half["name"] == "App: half delivery, at most 15.00 a parcel"
    assert D(half["amount"]) == min(D(plain["delivery_fee"]) / 2, D("15.00")).quantize(D("0.01")) > 0

    # Three grocery units: the buy-2-get-1 reduces one of them, which FULLPRICE10 leaves out.
    stacked = await quote_of(client, service_key, [oil, oil, oil], coupon_codes=["FULLPRICE10"])
    [promotion] = stacked["applied_promotions"]
    [applied] = stacked["applied_coupons"]
    assert D(applied["amount"]) == D("77.80")  # 10 % of the two lines still at 389.00
    assert promotion["amount"] == "389.00"

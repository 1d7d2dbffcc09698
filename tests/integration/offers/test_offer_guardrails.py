"""A seller's price guardrail holds whatever the route (docs/sellers.md#guardrails): issue 87's probe saw a
149.00 -> 10.00 PATCH of an offer become a change request, but deleting the offer and creating a new one at
10.00 went live at once. A price a seller puts live is measured against every price at which it sold that
product live within SELLER_PRICE_CHANGE_WINDOW_HOURS, on whichever of its offers."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.integration.audit.requests import requested
from tests.integration.audit.test_four_eyes import applied
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.offers.test_offers_api import OFFERS, Client, seller_b  # noqa: F401 (fixture)


@pytest.fixture
async def product(client: Client, admin: Caller) -> dict[str, Any]:
    """seller-a's product at 150.00 (its default offer)."""
    return await create_product(
        client, admin, seller_id="seller-a", base_price="150.00", min_price="0", cost_price="0", stock=10
    )


async def offer_at(client: Client, seller: Caller, product: dict[str, Any], price: str, **fields: Any) -> Any:
    body = {"product_id": product["id"], "current_price": price, "stock": 4, **fields}
    return await client.post(OFFERS, json=body, headers=seller.headers)


async def live_offers(pool: asyncpg.Pool) -> list[tuple[str, int]]:
    rows = await pool.fetch("SELECT seller_id, current_price FROM offers WHERE is_active ORDER BY created_at")
    return [(r["seller_id"], int(r["current_price"])) for r in rows]


async def test_deleting_an_offer_and_making_a_new_one_far_below_waits_for_an_admin(
    client: Client,
    admin: Caller,
    seller_b: Caller,  # noqa: F811
    product: dict[str, Any],
    pool: asyncpg.Pool,
) -> None:
    first = expect_ok(await offer_at(client, seller_b, product, "149.00"), 201)
    at = f"{OFFERS}/{first['id']}"
    assert (await client.patch(at, json={"current_price": "10.00"}, headers=seller_b.headers)).status_code == 202
    expect_ok(await client.delete(at, headers=seller_b.headers))

    # The probe: a new offer at 10.00 (201, live at once, before).
    change_id = await requested(await offer_at(client, seller_b, product, "10.00"))
    assert await live_offers(pool) == []
    shown = expect_ok(await client.get(f"/api/v1/change-requests/{change_id}", headers=admin.headers))
    assert (shown["entity_type"], shown["action"], shown["body"]["seller_id"]) == ("offer", "create", "seller-b")
    made = await applied(client, change_id, admin.headers)  # an admin approves: then it is live
    assert (made["seller_id"], made["current_price"]) == ("seller-b", "10.00")
    history = expect_ok(await client.get(f"{OFFERS}/{made['id']}/price-history", headers=seller_b.headers))["items"]
    assert [(h["new_price"], h["source"]) for h in history] == [("10.00", "seller")]
    assert await live_offers(pool) == [("seller-b", 10)]

    # A new offer within the threshold of the last live price is made at once, as a small PATCH is.
    expect_ok(await client.delete(f"{OFFERS}/{made['id']}", headers=seller_b.headers))
    assert expect_ok(await offer_at(client, seller_b, product, "12.00"), 201)["current_price"] == "12.00"


async def test_re_activating_an_old_offer_far_from_the_last_live_price_waits(
    client: Client,
    admin: Caller,
    seller_b: Caller,  # noqa: F811
    product: dict[str, Any],
    pool: asyncpg.Pool,
) -> None:
    live = expect_ok(await offer_at(client, seller_b, product, "149.00"), 201)
    expect_ok(await client.delete(f"{OFFERS}/{live['id']}", headers=seller_b.headers))
    # Made inactive, nothing goes live: at once. Its activation is the move.
    spare = expect_ok(await offer_at(client, seller_b, product, "10.00", is_active=False), 201)
    at = f"{OFFERS}/{spare['id']}"
    change_id = await requested(await client.patch(at, json={"is_active": True, "stock": 9}, headers=seller_b.headers))
    still = expect_ok(await client.get(at, headers=seller_b.headers))
    assert (still["is_active"], still["stock"]) == (False, 9)  # the stock at once, the activation waits
    assert await live_offers(pool) == []
    assert (await applied(client, change_id, admin.headers))["is_active"] is True
    assert await live_offers(pool) == [("seller-b", 10)]


async def test_an_admins_deactivation_leaves_its_last_live_price_the_reference(
    client: Client,
    admin: Caller,
    seller_b: Caller,  # noqa: F811
    product: dict[str, Any],
) -> None:
    live = expect_ok(await offer_at(client, seller_b, product, "149.00"), 201)
    expect_ok(await client.delete(f"{OFFERS}/{live['id']}", headers=admin.headers))
    await requested(await offer_at(client, seller_b, product, "10.00"))
    # The other checks first: a second active offer of the pair is refused at once, not asked for.
    expect_ok(await offer_at(client, seller_b, product, "140.00"), 201)
    expect_error(await offer_at(client, seller_b, product, "10.00"), 409, "OFFER_EXISTS")

"""An agent's whole ACP checkout (docs/agents.md): a three-seller session (an item by offer id, the others by
product id), the address, per-seller options, a code, a price change seen after its quote expired (a short
QUOTE_VALIDITY_SECONDS and the quotes' clock moved past it), a complete refused while the price moves, one
declined by the allowance, then completed with an order made as POST /orders makes it, replayed byte for byte."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import PRODUCTS
from tests.integration.checkout_sessions.setup import (
    ACP,
    ADDRESS,
    Agent,
    Client,
    acp_session,
    agent_key,
    market,
    totals_of,
)
from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupons_api import create_coupon
from tests.integration.expect import expect_ok
from tests.integration.reservations.test_reservations import Clock

VALIDITY = 60


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, quote_validity_seconds=VALIDITY)


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def timed(settings: Settings, clock: Clock) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings, quote_clock=clock)) as held:
        yield held


def errors(session: dict[str, Any]) -> dict[str, str]:
    return {m["param"]: m["content"] for m in session["messages"] if m["type"] == "error"}


def allowance(max_amount: int, currency: str = "TRY") -> dict[str, Any]:
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "payment_data": {
            "token": "spt_secret_123",
            "provider": "stripe",
            "allowance": {"max_amount": max_amount, "currency": currency, "expires_at": expires},
        }
    }


async def test_an_agent_checks_out_a_three_seller_basket_once(timed: Client, admin: Caller, clock: Clock) -> None:
    goods = await market(timed, admin)
    agent = Agent(timed, await agent_key(timed, admin))
    items = [
        {"id": goods["a"]["id"], "quantity": 2},
        {"id": goods["offer"]["id"], "quantity": 1},
        {"id": goods["b"]["id"], "quantity": 1},
        {"id": goods["c"]["id"], "quantity": 1},
    ]
    created = acp_session(await agent.create({"items": items}), 201)
    sid = created["id"]
    assert created["status"] == "not_ready_for_payment"
    assert [line["seller_id"] for line in created["line_items"]] == ["seller-a", "seller-b", "seller-b", "seller-c"]
    assert [line["base_amount"] for line in created["line_items"]] == [8000, 2700, 3000, 2500]
    quote = expect_ok(await timed.get(f"/api/v1/quotes/{created['quote_id']}", headers=agent.headers))
    assert totals_of(created)["total"] == int(Decimal(quote["total_amount"]) * 100)

    addressed = acp_session(await agent.update(sid, {"fulfillment_address": ADDRESS}))
    assert addressed["status"] == "not_ready_for_payment"  # no seller has an option yet
    assert [o["id"] for o in addressed["fulfillment_options"]] == ["standard", "express"]
    assert addressed["fulfillment_options"][0]["total"] == 490 + 550 + 300  # the sellers' standard fees

    picked = {
        "fulfillment_groups": [
            {"id": "seller:seller-a", "selected_option_id": "express"},
            {"id": "seller:seller-b", "selected_option_id": "standard"},
            {"id": "seller:seller-c", "selected_option_id": "standard"},
        ]
    }
    chosen = acp_session(await agent.update(sid, picked))
    assert chosen["status"] == "ready_for_payment", chosen["messages"]
    assert chosen["fulfillment_option_id"] is None  # the sellers' options differ
    assert totals_of(chosen)["fulfillment"] == 990 + 550 + 300

    await create_coupon(timed, admin)  # save10: 10 %
    coded = acp_session(await agent.update(sid, {"discounts": {"codes": ["save10", "nope"]}}))
    applied = coded["discounts"]["applied"]
    assert [(a["code"], a["automatic"]) for a in applied] == [("SAVE10", False)]
    assert sum(part["amount"] for part in applied[0]["allocations"]) == applied[0]["amount"] > 0
    assert [r["code"] for r in coded["discounts"]["rejected"]] == ["NOPE"]
    assert list(errors(coded)) == ["$.discounts.codes[1]"]
    totals = totals_of(coded)
    assert totals["items_discount"] == applied[0]["amount"]
    assert (
        totals["total"]
        == totals["subtotal"] - totals["discount"] + totals["fulfillment"] + totals["tax"] + totals["fee"]
    )
    assert totals["subtotal"] == totals["items_base_amount"] - totals["items_discount"]
    coded = acp_session(await agent.update(sid, {"discounts": {"codes": ["save10"]}}))
    before = totals_of(coded)["total"]

    # The quote expires; A's price has moved meanwhile: a read prices the basket again and says so.
    await set_price(timed, admin, goods["a"], "45.00")
    clock.offset = timedelta(seconds=VALIDITY + 1)
    seen = acp_session(await agent.get(sid))
    infos = [m for m in seen["messages"] if m["type"] == "info"]
    assert [(m["param"], m["content"].split(":")[0]) for m in infos] == [("$.totals", "price_changed")]
    after = totals_of(seen)["total"]
    assert after > before
    assert seen["quote_id"] != coded["quote_id"]

    # Again: a complete after the quote expired with another total is not completed.
    await set_price(timed, admin, goods["a"], "46.00")
    clock.offset = timedelta(seconds=2 * (VALIDITY + 1))
    refused = acp_session(await agent.complete(sid, allowance(10**7)))
    assert refused["status"] == "ready_for_payment"
    assert errors(refused)["$.totals"].startswith("quote_expired")
    total = totals_of(refused)["total"]

    declined = acp_session(await agent.complete(sid, allowance(total - 1)))
    assert declined["status"] == "ready_for_payment"
    assert [(m["code"], m["param"]) for m in declined["messages"] if m["type"] == "error"] == [
        ("payment_declined", "$.payment_data")
    ]
    wrong_currency = acp_session(await agent.complete(sid, allowance(total, "USD")))
    assert wrong_currency["status"] == "ready_for_payment"

    paying = allowance(total)  # one body: a retry sends the same bytes
    done = acp_session(await agent.complete(sid, paying, key="complete-1"))
    assert done["status"] == "completed"
    order = expect_ok(await timed.get(f"/api/v1/orders/{done['order']['id']}", headers=agent.headers))
    assert int(Decimal(order["total_amount"]) * 100) == total
    assert order["quote_id"] == done["quote_id"]
    assert done["order"]["permalink_url"].endswith(f"/api/v1/orders/{order['id']}")

    again = await agent.complete(sid, paying, key="complete-1")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == done
    other = await agent.complete(sid, paying, key="complete-2")
    assert (other.status_code, other.json()["code"]) == (409, "session_completed")
    canceled = await timed.post(f"{ACP}/{sid}/cancel", headers=agent.keyed())
    assert (canceled.status_code, canceled.json()["code"]) == (405, "session_completed")
    orders = expect_ok(await timed.get("/api/v1/orders", headers=admin.headers))
    assert [o["id"] for o in orders["items"]] == [order["id"]]


async def set_price(client: Client, admin: Caller, product: dict[str, Any], price: str) -> None:
    expect_ok(await client.patch(f"{PRODUCTS}/{product['id']}", json={"current_price": price}, headers=admin.headers))

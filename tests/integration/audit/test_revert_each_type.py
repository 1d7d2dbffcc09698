"""Revert works for every entity type it accepts (docs/governance.md#revert): a type whose table lacks a
column the revert wrote (an offer has no `updated_by`: issue 87's 500) is caught here, and a type added to
the revertible ones without a case here fails the first test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import pytest

from quote_service.audit.revert import REVERTIBLE
from quote_service.config import Settings
from tests.integration.audit.requests import RATE, RATES, Client, approve, requested
from tests.integration.audit.test_approval_policies import POLICIES, policy_set
from tests.integration.audit.test_revert import entries, revert
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupons_api import coupon_body
from tests.integration.expect import expect_ok
from tests.integration.flags.test_feature_flags_api import FLAGS, create_flag
from tests.integration.installments.test_installments import PLAN, PLANS
from tests.integration.price_lists.test_price_lists_api import list_body
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.integration.rules.test_pricing_rules_api import RULES, rule_body
from tests.integration.shipping.test_shipping_profiles_api import PROFILES, create_profile

Made = tuple[str, str]
"""What a case made: (the route that deletes it, its audit log entity id)."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_allow_private=True)  # an extension on 127.0.0.1


async def _made(client: Client, admin: Caller, route: str, body: dict[str, Any], key: str = "id") -> Made:
    made = expect_ok(await client.post(route, json=body, headers=admin.headers), 201)
    return f"{route}/{made[key]}", str(made[key])


async def _rate(client: Client, admin: Caller, reviewer: Caller) -> Made:
    return await _made(client, admin, RATES, RATE)


async def _rule(client: Client, admin: Caller, reviewer: Caller) -> Made:
    return await _made(client, admin, RULES, rule_body())


async def _flag(client: Client, admin: Caller, reviewer: Caller) -> Made:
    flag = await create_flag(client, admin, key="revert_each")
    return f"{FLAGS}/{flag['id']}", flag["id"]


async def _coupon(client: Client, admin: Caller, reviewer: Caller) -> Made:
    coupons = "/api/v1/coupons"
    return await _made(client, admin, coupons, coupon_body(code="EACH10"), key="code")


async def _promotion(client: Client, admin: Caller, reviewer: Caller) -> Made:
    promotion = await create_promotion(client, admin)
    return f"/api/v1/promotions/{promotion['id']}", promotion["id"]


async def _price_list(client: Client, admin: Caller, reviewer: Caller) -> Made:
    return await _made(client, admin, "/api/v1/price-lists", list_body())


async def _shipping_profile(client: Client, admin: Caller, reviewer: Caller) -> Made:
    profile = await create_profile(client, admin)
    return f"{PROFILES}/{profile['id']}", profile["id"]


async def _installment_plan(client: Client, admin: Caller, reviewer: Caller) -> Made:
    return await _made(client, admin, PLANS, PLAN)


async def _extension(client: Client, admin: Caller, reviewer: Caller) -> Made:
    body = {"kind": "tax", "url": "http://127.0.0.1:9/tax", "timeout_ms": 500}
    return await _made(client, admin, "/api/v1/extensions", body)


async def _offer(client: Client, admin: Caller, reviewer: Caller) -> Made:
    product = await create_product(client, admin, seller_id="seller-a", min_price="0", cost_price="0")
    body = {"product_id": product["id"], "seller_id": "seller-b", "current_price": "35.00", "stock": 5}
    return await _made(client, admin, "/api/v1/offers", body)


async def _approval_policy(client: Client, admin: Caller, reviewer: Caller) -> Made:
    await policy_set(client, admin, reviewer, "coupon", 2)
    return f"{POLICIES}/coupon", "coupon"


CASES: dict[str, Callable[[Client, Caller, Caller], Awaitable[Made]]] = {
    "commission_rate": _rate,
    "pricing_rule": _rule,
    "feature_flag": _flag,
    "coupon": _coupon,
    "promotion": _promotion,
    "price_list": _price_list,
    "shipping_profile": _shipping_profile,
    "installment_plan": _installment_plan,
    "extension": _extension,
    "offer": _offer,
    "approval_policy": _approval_policy,
}


def test_every_revertible_type_has_a_case() -> None:
    assert set(CASES) == REVERTIBLE


async def _done(client: Client, answer: Any, reviewer: Caller) -> dict[str, Any]:
    """A write's answer; one that is a change request (an approval policy's, always) approved by `reviewer`."""
    if answer.status_code != 202:
        data: dict[str, Any] = expect_ok(answer)
        return data
    applied = expect_ok(await approve(client, await requested(answer), reviewer.headers))
    assert applied["status"] == "applied", applied
    result: dict[str, Any] = applied["result"]["data"]
    return result


@pytest.mark.parametrize("entity_type", sorted(CASES))
async def test_a_delete_of_each_type_is_reverted_and_the_revert_reverted(
    entity_type: str, client: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    route, entity_id = await CASES[entity_type](client, admin, reviewer)
    await _done(client, await client.delete(route, headers=admin.headers), reviewer)
    [deleted, *_] = await entries(client, admin, entity_id)
    assert deleted["entity_type"] == entity_type, deleted
    assert deleted["action"] == ("update" if entity_type == "pricing_rule" else "delete"), deleted  # a rule retires

    back = await _done(client, await revert(client, admin, deleted["id"]), reviewer)
    assert back["entity"] is not None, back
    assert back["entity"].get("is_active", True) is True
    assert back["entity"].get("retired_at") is None
    # The revert is an entry of its own, and reverting it deletes the record again.
    [reverted, *_] = await entries(client, admin, entity_id)
    assert reverted["id"] > deleted["id"]
    again = await _done(client, await revert(client, admin, reverted["id"]), reviewer)
    assert again["entity"] is None or again["entity"].get("is_active") is False or again["entity"].get("retired_at")


async def test_an_offers_price_move_is_reverted_with_its_price_history(
    client: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    route, offer_id = await _offer(client, admin, reviewer)
    expect_ok(await client.patch(route, json={"current_price": "10.00", "stock": 7}, headers=admin.headers))
    await pool.execute("UPDATE offers SET stock = 3 WHERE id = $1::uuid", offer_id)  # an order took 4 since
    [moved, *_] = await entries(client, admin, offer_id)

    reverted = expect_ok(await revert(client, admin, moved["id"]))
    assert (reverted["entity"]["current_price"], reverted["entity"]["stock"]) == ("35.00", 3)  # stock: orders'
    history = expect_ok(await client.get(f"{route}/price-history", headers=admin.headers))["items"]
    assert [(h["old_price"], h["new_price"], h["reason"]) for h in history[:2]] == [
        ("10.00", "35.00", "audit entry reverted"),
        ("35.00", "10.00", "manual update"),
    ]
    offer = expect_ok(await client.get(route, headers=admin.headers))
    assert (offer["current_price"], offer["stock"]) == ("35.00", 3)


async def test_under_a_policy_an_offers_revert_applies_once_approved(
    client: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    route, offer_id = await _offer(client, admin, reviewer)
    expect_ok(await client.patch(route, json={"current_price": "10.00"}, headers=admin.headers))
    [moved, *_] = await entries(client, admin, offer_id)
    await policy_set(client, admin, reviewer, "offer", 1)

    change_id = await requested(await revert(client, admin, moved["id"]))
    applied = expect_ok(await approve(client, change_id, reviewer.headers))
    assert applied["status"] == "applied", applied
    assert await pool.fetchval("SELECT current_price FROM offers WHERE id = $1::uuid", offer_id) == 35

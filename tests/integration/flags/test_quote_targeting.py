"""Targeting rules in quotes (docs/flags.md): a quote's attributes decide which flags it is served,
a `user` is targeted by its account, and a rule change reaches the next quote at once."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.flags.test_feature_flags_api import create_flag, evaluate
from tests.integration.price_lists.test_price_list_quotes import key_headers, user_headers
from tests.integration.quotes.test_quote_api import quote

Client = AsyncTestClient[Litestar]


def rule(attribute: str, operator: str, *values: Any) -> dict[str, Any]:
    return {"attribute": attribute, "operator": operator, "values": list(values)}


async def test_a_quotes_attributes_decide_its_flags(client: Client, admin: Caller, service_key: dict[str, str]) -> None:
    await create_flag(client, admin, key="big_basket", rollout={"rules": [rule("subtotal", "gte", 100)]})
    await create_flag(client, admin, key="three_units", rollout={"rules": [rule("item_count", "gte", 3)]})
    await create_flag(client, admin, key="gold_tr", rollout={
        "rules": [rule("customer_tier", "eq", "gold"), rule("country", "in", "TR"), rule("currency", "eq", "try")]
    })  # fmt: skip
    await create_flag(client, admin, key="app", rollout={"rules": [rule("context.user_agent", "contains", "app/")]})
    await create_flag(client, admin, key="istanbul", rollout={"rules": [rule("city", "starts_with", "ist")]})
    item = {"product_id": "sku", "unit_price": "25.50", "category_id": "books"}

    small = await quote(client, service_key, items=[{**item, "quantity": 2}], customer_tier="gold")
    big = await quote(
        client,
        service_key,
        items=[{**item, "quantity": 4}],
        customer_tier="silver",
        context={"user_agent": "Shop App/2.4"},
        delivery_address={"city": "Ankara", "country": "TR"},
    )

    # 2 x 25.50 = 51.00 at list price; 4 x 25.50 = 102.00 (subtotal is the basket at list prices)
    assert set(small["feature_flags"]) == {"gold_tr", "istanbul"}
    assert set(big["feature_flags"]) == {"big_basket", "three_units", "app"}


async def test_a_users_customer_attributes_come_from_its_account(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin)
    await create_flag(client, admin, key="vip_gold", rollout={
        "rules": [rule("customer_tier", "eq", "gold"), rule("customer_segment", "eq", "vip")]
    })  # fmt: skip
    items = [{"product_id": product["id"], "quantity": 1}]

    # The shopper's account is gold and vip: it states neither, and is targeted by both.
    own = await quote(client, shopper.headers, customer_id=str(shopper.id), items=items)
    # A checkout quoting for the same customer states what it knows.
    stated = await quote(client, service_key, customer_id=str(shopper.id), items=items, customer_tier="basic")

    assert own["feature_flags"] == {"vip_gold": True}
    assert stated["feature_flags"] == {}


async def test_a_rule_change_reaches_the_next_quote(client: Client, admin: Caller, service_key: dict[str, str]) -> None:
    flag = await create_flag(client, admin, key="tr_only", rollout={"rules": [rule("country", "eq", "TR")]})
    before = await quote(client, service_key)

    body = {"name": "tr_only", "type": "BOOLEAN", "value": True, "rollout": {"rules": [rule("country", "eq", "DE")]}}
    expect_ok(await client.put(f"/api/v1/feature-flags/{flag['id']}", json=body, headers=admin.headers))
    after = await quote(client, service_key)

    assert before["feature_flags"] == {"tr_only": True}
    assert after["feature_flags"] == {}


async def test_rules_on_customer_group_and_channel_see_the_quotes(client: Client, admin: Caller) -> None:
    """A quote's customer group (a user's account's, a service key's own) and channel reach flag rules."""
    await create_flag(client, admin, key="b2b_only", rollout={"rules": [rule("customer_group", "in", "b2b")]})
    await create_flag(client, admin, key="web_only", rollout={"rules": [rule("channel", "in", "web")]})
    b2b_key = await key_headers(client, admin, customer_group="B2B")
    plain_key = await key_headers(client, admin)
    buyer, buyer_headers = await user_headers(client, admin, customer_group="b2b")
    shopper, shopper_headers = await user_headers(client, admin)
    items = [{"product_id": (await create_product(client, admin))["id"], "quantity": 1}]

    b2b_on_web = await quote(client, b2b_key, items=items, channel="web")
    b2b_on_app = await quote(client, b2b_key, items=items, channel="app")
    plain_on_web = await quote(client, plain_key, items=items, channel="WEB")
    plain_nowhere = await quote(client, plain_key, items=items)
    buyer_on_app = await quote(client, buyer_headers, customer_id=buyer, items=items, channel="app")
    shopper_on_web = await quote(client, shopper_headers, customer_id=shopper, items=items, channel="web")

    assert set(b2b_on_web["feature_flags"]) == {"b2b_only", "web_only"}
    assert set(b2b_on_app["feature_flags"]) == {"b2b_only"}
    assert set(plain_on_web["feature_flags"]) == {"web_only"}
    assert plain_nowhere["feature_flags"] == {}
    assert set(buyer_on_app["feature_flags"]) == {"b2b_only"}
    assert set(shopper_on_web["feature_flags"]) == {"web_only"}


async def test_a_group_and_channel_flag_answers_alike_in_a_quote_evaluate_and_ofrep(
    client: Client, admin: Caller
) -> None:
    """The same caller and context get the same answer from the three ways of asking."""
    await create_flag(client, admin, key="b2b_web", rollout={
        "rules": [rule("customer_group", "eq", "b2b"), rule("channel", "eq", "web")]
    })  # fmt: skip
    b2b_key = await key_headers(client, admin, customer_group="b2b")
    plain_key = await key_headers(client, admin)

    answers: dict[tuple[str, str], list[bool]] = {}
    for name, headers in (("b2b key", b2b_key), ("plain key", plain_key)):
        for channel in ("web", "app"):
            quoted = await quote(client, headers, customer_id="c-1", channel=channel)
            evaluated = await evaluate(client, "b2b_web", headers, user_id="c-1", attributes={"channel": channel})
            body = {"context": {"targetingKey": "c-1", "channel": channel}}
            ofrep = await client.post("/ofrep/v1/evaluate/flags/b2b_web", json=body, headers=headers)
            assert ofrep.status_code == 200, ofrep.text
            answers[name, channel] = [
                "b2b_web" in quoted["feature_flags"],
                evaluated["reason"] == "TARGETING_MATCH",
                ofrep.json()["reason"] == "TARGETING_MATCH",
            ]

    assert answers == {
        ("b2b key", "web"): [True, True, True],
        ("b2b key", "app"): [False, False, False],
        ("plain key", "web"): [False, False, False],
        ("plain key", "app"): [False, False, False],
    }

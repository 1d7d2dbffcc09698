"""Installment plans over HTTP (docs/taxes.md#installments): the admin API, the options a card gets, the choice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.price_lists.test_price_list_quotes import basket, priced
from tests.integration.quotes.test_markets import ordered, product

Client = AsyncTestClient[Litestar]
PLANS = "/api/v1/installment-plans"
QUOTE = "/api/v1/quote"
PLAN = {
    "name": "Bonus cards",
    "bin_prefixes": ["454360", "40438201"],
    "currency": "TRY",
    "min_total": "100.00",
    "options": [
        {"count": 3, "rate": 0, "funded_by": "platform"},
        {"count": 6, "rate": 0, "funded_by": "seller", "seller_commission_rate": "2.5"},
        {"count": 9, "rate": "7.5", "funded_by": "customer"},
    ],
}


async def plan(client: Client, admin: Caller, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = expect_ok(await client.post(PLANS, json={**PLAN, **fields}, headers=admin.headers), 201)
    return created


async def test_a_plan_is_created_read_changed_and_deactivated(client: Client, admin: Caller) -> None:
    created = await plan(client, admin)
    assert (created["min_total"], created["currency"], created["is_active"]) == ("100.00", "TRY", True)
    assert [(o["count"], o["rate"], o["funded_by"], o["seller_commission_rate"]) for o in created["options"]] == [
        (3, "0", "platform", None),
        (6, "0", "seller", "2.5"),
        (9, "7.5", "customer", None),
    ]
    at = f"{PLANS}/{created['id']}"
    assert expect_ok(await client.get(at, headers=admin.headers)) == created
    changed = expect_ok(await client.patch(at, json={"min_total": 250}, headers=admin.headers))
    assert (changed["min_total"], changed["options"]) == ("250.00", created["options"])
    gone = expect_ok(await client.delete(at, headers=admin.headers))
    assert gone["is_active"] is False
    listed = expect_ok(await client.get(PLANS, params={"is_active": "false"}, headers=admin.headers))
    assert [p["id"] for p in listed["items"]] == [created["id"]]


async def test_a_plan_is_replaced_whole_and_an_unknown_one_is_404_for_every_verb(client: Client, admin: Caller) -> None:
    created = await plan(client, admin)
    at = f"{PLANS}/{created['id']}"
    body = {**PLAN, "name": "Bonus cards 2", "options": [{"count": 6, "rate": "1.5", "funded_by": "customer"}]}
    replaced = expect_ok(await client.put(at, json=body, headers=admin.headers))
    assert (replaced["name"], replaced["id"], replaced["created_at"]) == (
        "Bonus cards 2",
        created["id"],
        created["created_at"],
    )
    assert [(o["count"], o["rate"]) for o in replaced["options"]] == [(6, "1.5")]
    # A PATCH that would make a bad plan is refused naming the field, and changes nothing.
    refused = expect_error(
        await client.patch(at, json={"min_total": "-1"}, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert set(field_errors(refused)) == {"min_total"}
    assert expect_ok(await client.get(at, headers=admin.headers)) == replaced
    unknown = f"{PLANS}/00000000-0000-4000-8000-000000000000"
    for call in (
        client.get(unknown, headers=admin.headers),
        client.put(unknown, json=PLAN, headers=admin.headers),
        client.patch(unknown, json={"name": "x"}, headers=admin.headers),
        client.delete(unknown, headers=admin.headers),
    ):
        missing = expect_error(await call, 404, "NOT_FOUND")
        assert missing["message"] == "installment plan 00000000-0000-4000-8000-000000000000 not found"


async def test_a_bad_plan_is_refused_naming_every_field_and_nothing_is_stored(client: Client, admin: Caller) -> None:
    bad = {
        **PLAN,
        "bin_prefixes": ["45436"],
        "min_total": "-1",
        "options": [
            {"count": 1, "rate": 0, "funded_by": "platform"},
        ],
    }
    problems = field_errors(
        expect_error(await client.post(PLANS, json=bad, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    assert set(problems) == {"bin_prefixes[0]"}  # the shape is checked first, as every body's
    worse = {
        **PLAN,
        "min_total": "-1",
        "options": [
            {"count": 3, "rate": 101, "funded_by": "customer"},
            {"count": 3, "rate": 0, "funded_by": "seller"},
            {"count": 4, "rate": 0, "funded_by": "platform", "seller_commission_rate": 1},
        ],
    }
    problems = field_errors(
        expect_error(await client.post(PLANS, json=worse, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    assert set(problems) == {
        "min_total",
        "options[0].rate",
        "options[1].count",
        "options[1].seller_commission_rate",
        "options[2].seller_commission_rate",
    }
    assert expect_ok(await client.get(PLANS, headers=admin.headers))["items"] == []


async def test_a_card_is_offered_its_plans_options_and_chooses_one(client: Client, admin: Caller) -> None:
    created = await plan(client, admin)
    await plan(client, admin, name="Other cards", bin_prefixes=["999999"])
    item = await product(client, admin, "1000.00")

    offered = await priced(client, admin.headers, basket("c-1", item, 1, card_bin="45436012"))

    assert offered["total_amount"] == "1190.00"  # 1000.00 + 18 % tax + 10.00 delivery
    options = {o["count"]: o for o in offered["installment_options"]}
    assert sorted(options) == [3, 6, 9]
    assert all(o["plan_id"] == created["id"] for o in options.values())
    assert (options[3]["installment_amount"], options[3]["first_installment_amount"]) == ("396.66", "396.68")
    assert options[3]["total_payable"] == "1190.00"
    # customer-funded: 1190.00 x 1.075 = 1279.25 in 9: 142.13 x 8 + 142.21
    assert (options[9]["total_payable"], options[9]["installment_amount"]) == ("1279.25", "142.13")
    assert options[9]["first_installment_amount"] == "142.21"
    assert "installment" not in offered

    chosen = await priced(client, admin.headers, basket("c-1", item, 1, card_bin="45436012", installments=9))
    assert chosen["installment"]["total_payable"] == "1279.25"
    assert chosen["total_amount"] == "1190.00"

    seller = await priced(client, admin.headers, basket("c-1", item, 1, card_bin="45436012", installments=6))
    breakdown = seller["commission_breakdown"]
    assert (breakdown["installment_commission"], seller["installment"]["installment_commission"]) == ("25.00", "25.00")
    assert Decimal(breakdown["total_commission"]) == Decimal(offered["commission_breakdown"]["total_commission"]) + 25

    refused = expect_error(
        await client.post(
            QUOTE, json=basket("c-1", item, 1, card_bin="45436012", installments=12), headers=admin.headers
        ),
        422,
        "VALIDATION_FAILED",
    )
    assert set(field_errors(refused)) == {"installments"}
    small = await priced(
        client, admin.headers, basket("c-1", await product(client, admin, "10.00"), 1, card_bin="454360")
    )
    assert small["installment_options"] == []  # 21.80 is below the plan's min_total
    without = await priced(client, admin.headers, basket("c-1", item, 1))
    assert "installment_options" not in without


async def test_the_order_carries_the_installment_chosen_and_refunds_reverse_its_commission(
    client: Client, admin: Caller, settings: Settings, password_hash: str
) -> None:
    await plan(client, admin)
    item = await product(client, admin, "1000.00", stock=5)
    quote = await priced(client, admin.headers, basket("c-1", item, 2, card_bin="454360", installments=6))
    assert quote["items"][0]["installment_commission"] == "50.00"  # 2.5 % of 2000.00

    order = await ordered(client, admin.headers, quote["quote_id"], "installment-order-1")
    again = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))
    assert order["installment"] == again["installment"] == quote["installment"]
    assert (order["items"][0]["installment_commission"], order["installment"]["installment_commission"]) == (
        "50.00",
        "50.00",
    )
    # Its commission_breakdown adds up, as the quote's did: the installment commission is one of its parts.
    breakdown = order["commission_breakdown"]
    assert breakdown["installment_commission"] == quote["commission_breakdown"]["installment_commission"] == "50.00"
    parts = ("seller_commission", "category_commission", "logistics_commission", "installment_commission")
    assert sum(Decimal(breakdown[part]) for part in parts) == Decimal(breakdown["total_commission"])
    seller_id = order["items"][0]["seller_id"]
    own = await make_caller(settings, password_hash, "installment-seller", "seller", seller_id=seller_id)
    seen = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=own.headers))["commission_breakdown"]
    assert seen["installment_commission"] == "50.00"
    assert sum(Decimal(seen[part]) for part in parts) == Decimal(seen["total_commission"])
    body = {"lines": [{"product_id": item, "quantity": 1}]}
    headers = {**admin.headers, "Idempotency-Key": "installment-refund-1"}
    refund = expect_ok(await client.post(f"/api/v1/orders/{order['id']}/refunds", json=body, headers=headers), 201)
    line = refund["lines"][0]
    assert line["installment_commission"] == "25.00"
    reversed_lines = Decimal(line["commission"]["seller"]) + Decimal(line["commission"]["category"])
    assert Decimal(refund["commission_reversed"]) == reversed_lines + 25

    seller = order["items"][0]["seller_id"]
    statement = expect_ok(await client.get(f"/api/v1/sellers/{seller}/statement", headers=admin.headers))
    line_commission = sum(Decimal(d["amount"]) for d in order["commission_breakdown"]["details"]
                          if d["dimension"] in ("seller", "category"))  # fmt: skip
    assert Decimal(statement["commission_charged"]) == line_commission + 50
    assert Decimal(statement["commission_reversed"]) == Decimal(refund["commission_reversed"])


async def test_a_repeated_quote_shows_a_changed_plan(client: Client, admin: Caller) -> None:
    created = await plan(client, admin)
    item = await product(client, admin, "1000.00")
    body = basket("c-1", item, 1, card_bin="454360")
    first = await priced(client, admin.headers, body)
    expect_ok(await client.patch(f"{PLANS}/{created['id']}", json={"is_active": False}, headers=admin.headers))

    again = await priced(client, admin.headers, body)

    assert len(first["installment_options"]) == 3
    assert again["installment_options"] == []

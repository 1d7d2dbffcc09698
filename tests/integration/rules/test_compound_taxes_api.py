"""Taxes as markets have them over HTTP (docs/taxes.md): compound components, exemptions, rounding modes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.price_lists.test_price_list_quotes import basket, key_headers, priced, user_headers
from tests.integration.quotes.test_markets import line, ordered, product

Client = AsyncTestClient[Litestar]
RULES = "/api/v1/pricing-rules"
QUOTE = "/api/v1/quote"
SINCE = "2025-01-01T00:00:00+00:00"
OTV_KDV = {"components": [{"code": "OTV", "rate": 20}, {"code": "KDV", "rate": 20, "compound": True}]}


async def tax_rule(client: Client, admin: Caller, category_id: str, configuration: dict[str, Any]) -> dict[str, Any]:
    body = {
        "name": f"tax-{category_id}",
        "type": "TAX_RATE",
        "category_id": category_id,
        "configuration": configuration,
        "effective_from": SINCE,
        "is_active": True,
    }
    created: dict[str, Any] = expect_ok(await client.post(RULES, json=body, headers=admin.headers), 201)
    return created


async def test_a_compound_tax_is_on_the_net_plus_the_taxes_before_it(client: Client, admin: Caller) -> None:
    """ÖTV 20 on the net, KDV 20 on the net plus ÖTV, on a net line and a gross (tax-inclusive) one."""
    rule = await tax_rule(client, admin, "phones", OTV_KDV)
    net = await product(client, admin, "100.00", category_id="phones")
    gross = await product(client, admin, "144.00", category_id="phones", prices_include_tax=True)
    body = basket("c-1", net, 1)
    body["items"].append({"product_id": gross, "quantity": 1})

    quote = await priced(client, admin.headers, body)

    added, held = line(quote, net), line(quote, gross)
    assert added["taxes"] == [
        {"code": "OTV", "rate": "20", "base": "100.00", "amount": "20.00"},
        {"code": "KDV", "rate": "20", "base": "120.00", "amount": "24.00"},
    ]
    assert (added["tax"], added["tax_rate"]) == ("44.00", "44")
    assert held["taxes"] == added["taxes"]
    assert (held["net"], held["tax"], held["gross"]) == ("100.00", "44.00", "144.00")
    assert (quote["tax_amount"], quote["tax_included"]) == ("44.00", "44.00")
    assert quote["total_amount"] == "298.00"  # 244.00 goods + 44.00 added tax + 10.00 delivery
    assert quote["rounding"] == {"mode": "HALF_UP", "tax_calculation": "LINE"}
    applied = [r for r in quote["applied_rules"] if r["type"] == "TAX_RATE"]
    assert [(r["rule_id"], r["amount"]) for r in applied] == [(rule["id"], "44.00")]
    assert rule["configuration"] == {
        "components": [{"code": "OTV", "rate": "20"}, {"code": "KDV", "rate": "20", "compound": True}]
    }


async def test_an_inverse_that_is_not_whole_leaves_the_remainder_to_the_last_component(
    client: Client, admin: Caller
) -> None:
    await tax_rule(client, admin, "phones", OTV_KDV)
    gross = await product(client, admin, "99.99", category_id="phones", prices_include_tax=True)

    item = line(await priced(client, admin.headers, basket("c-1", gross, 1)), gross)

    # tax = round(99.99 x 0.44 / 1.44) = 30.55; net 69.44; OTV round(13.888) = 13.89; KDV the rest 16.66
    assert (item["net"], item["tax"]) == ("69.44", "30.55")
    assert [(t["code"], t["base"], t["amount"]) for t in item["taxes"]] == [
        ("OTV", "69.44", "13.89"),
        ("KDV", "83.33", "16.66"),
    ]


async def test_a_quote_without_these_features_reads_as_before(client: Client, admin: Caller) -> None:
    net = await product(client, admin, "50.00")

    quote = await priced(client, admin.headers, basket("c-1", net, 1))

    assert not {"rounding", "tax_exemption", "tax_exempted", "installment_options", "installment"} & set(quote)
    assert not {"taxes", "tax_exemption"} & set(quote["items"][0])


async def test_bad_components_are_refused_naming_each_field(client: Client, admin: Caller) -> None:
    bad = {
        "name": "bad-tax",
        "type": "TAX_RATE",
        "configuration": {"components": [{"code": "kdv", "rate": 101}, {"code": "OTV", "rate": 1, "x": 1}]},
        "effective_from": SINCE,
    }
    problems = field_errors(
        expect_error(await client.post(RULES, json=bad, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    assert {"configuration.components[0].code", "configuration.components[0].rate"} <= set(problems)
    assert "configuration.components[1].x" in problems
    both = {**bad, "configuration": {"rate": 18, **OTV_KDV}}
    problems = field_errors(
        expect_error(await client.post(RULES, json=both, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    assert {"configuration.rate", "configuration.components"} <= set(problems)
    twice = {**bad, "configuration": {"components": [{"code": "KDV", "rate": 1}, {"code": "KDV", "rate": 2}]}}
    problems = field_errors(
        expect_error(await client.post(RULES, json=twice, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    assert set(problems) == {"configuration.components[1].code"}
    listed = expect_ok(await client.get(RULES, params={"limit": 500}, headers=admin.headers))
    assert not [r for r in listed["items"] if r["name"] == "bad-tax"]


async def test_an_exempt_quote_charges_no_tax_and_an_inclusive_line_its_net(client: Client, admin: Caller) -> None:
    await tax_rule(client, admin, "phones", OTV_KDV)
    gross = await product(client, admin, "144.00", category_id="phones", prices_include_tax=True)
    net = await product(client, admin, "50.00")
    body = basket("c-1", gross, 1, tax_exemption="exempt")
    body["items"].append({"product_id": net, "quantity": 1})

    quote = await priced(client, admin.headers, body)

    held, added = line(quote, gross), line(quote, net)
    assert (held["tax"], held["taxes"], held["tax_exemption"]) == ("0.00", [], "exempt")
    assert (held["net"], held["gross"], held["tax_exempted"]) == ("100.00", "100.00", "44.00")
    assert (added["tax"], added["taxes"], added["tax_exemption"]) == ("0.00", [], "exempt")
    assert (added["tax_rate"], held["tax_rate"]) == ("0", "0")
    assert (quote["tax_amount"], quote["tax_included"], quote["tax_exempted"]) == ("0.00", "0.00", "44.00")
    assert quote["total_amount"] == "160.00"  # 194.00 - 44.00 + 10.00 delivery
    assert quote["tax_exemption"] == "exempt"
    steps = {c["step"]: c["amount"] for c in quote["pricing_breakdown"]["calculations"]}
    assert steps["tax_exempted"] == "-44.00"
    assert quote["pricing_breakdown"]["calculations"][-1]["running_total"] == "160.00"


async def test_reverse_charge_needs_a_tax_id_and_a_shopper_cannot_state_an_exemption(
    client: Client, admin: Caller
) -> None:
    net = await product(client, admin, "50.00")
    service = await key_headers(client, admin, role="service")
    no_id = basket("c-1", net, 1, tax_exemption="reverse_charge")
    refused = expect_error(await client.post(QUOTE, json=no_id, headers=service), 422, "VALIDATION_FAILED")
    assert set(field_errors(refused)) == {"customer_tax_id"}
    for made_up in ("x", "DE123456789"):  # no VAT id; a German one whose check digit is wrong
        refused = await client.post(QUOTE, json={**no_id, "customer_tax_id": made_up}, headers=service)
        assert set(field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))) == {"customer_tax_id"}
    quote = await priced(client, service, {**no_id, "customer_tax_id": "DE136695976"})
    assert (quote["tax_amount"], quote["customer_tax_id"], quote["tax_exemption"]) == (
        "0.00",
        "DE136695976",
        "reverse_charge",
    )
    user_id, shopper = await user_headers(client, admin)
    mine = basket(user_id, net, 1, tax_exemption="exempt")
    refused = expect_error(await client.post(QUOTE, json=mine, headers=shopper), 422, "VALIDATION_FAILED")
    assert set(field_errors(refused)) == {"tax_exemption"}


async def test_a_price_list_rounds_taxes_its_own_way(client: Client, admin: Caller) -> None:
    """3 x 9.99 at 18 %: 5.39 on the line (the settings), 5.40 per unit (the b2b list's TAX_CALCULATION)."""
    item = await product(client, admin, "9.99")
    own = {"name": "Units", "currency": "TRY", "customer_groups": ["b2b"], "tax_calculation": "UNIT"}
    own["prices"] = [{"product_id": item, "amount": "9.99"}]
    created = expect_ok(await client.post("/api/v1/price-lists", json=own, headers=admin.headers), 201)
    assert (created["rounding_mode"], created["tax_calculation"]) == (None, "UNIT")
    bad = {**own, "rounding_mode": "HALF_SIDEWAYS"}
    refused = expect_error(
        await client.post("/api/v1/price-lists", json=bad, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert set(field_errors(refused)) == {"rounding_mode"}

    plain = await priced(client, admin.headers, basket("c-1", item, 3))
    listed = await priced(client, admin.headers, basket("c-1", item, 3, customer_group="b2b"))

    assert (plain["items"][0]["tax"], "rounding" in plain) == ("5.39", False)
    assert listed["items"][0]["tax"] == "5.40"
    assert listed["rounding"] == {"mode": "HALF_UP", "tax_calculation": "UNIT"}
    assert listed["items"][0]["taxes"] == [{"code": "TAX", "rate": "18", "base": "29.97", "amount": "5.40"}]


async def test_an_order_keeps_the_components_the_exemption_and_the_rounding(client: Client, admin: Caller) -> None:
    await tax_rule(client, admin, "phones", OTV_KDV)
    gross = await product(client, admin, "144.00", category_id="phones", prices_include_tax=True, stock=5)
    net = await product(client, admin, "100.00", category_id="phones", stock=5)
    body = basket("c-1", gross, 1)
    body["items"].append({"product_id": net, "quantity": 1})
    quote = await priced(client, admin.headers, body)
    exempt = await priced(client, admin.headers, {**body, "tax_exemption": "exempt"})

    order = await ordered(client, admin.headers, quote["quote_id"], "taxes-order-1")
    again = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))
    exempt_order = await ordered(client, admin.headers, exempt["quote_id"], "taxes-order-2")

    for shown in (order, again):
        assert [line["taxes"] for line in shown["items"]] == [line["taxes"] for line in quote["items"]]
        assert shown["rounding"] == {"mode": "HALF_UP", "tax_calculation": "LINE"}
        assert (shown["total_amount"], shown["tax_amount"]) == (quote["total_amount"], "44.00")
    assert (exempt_order["tax_exemption"], exempt_order["tax_exempted"]) == ("exempt", "44.00")
    assert exempt_order["total_amount"] == exempt["total_amount"] == "210.00"  # 244.00 - 44.00 + 10.00
    held = exempt_order["items"][0]
    assert (held["net"], held["gross"], held["tax"], held["tax_exempted"]) == ("100.00", "100.00", "0.00", "44.00")
    plain = await ordered(
        client,
        admin.headers,
        (await priced(client, admin.headers, basket("c-1", await product(client, admin, "5.00"), 1)))["quote_id"],
        "taxes-order-3",
    )
    assert not {"rounding", "tax_exemption", "installment"} & set(plain)
    assert "taxes" not in plain["items"][0]


async def test_refunds_give_back_each_component_exactly_and_an_exempt_line_what_it_charged(
    client: Client, admin: Caller
) -> None:
    await tax_rule(client, admin, "phones", OTV_KDV)
    net = await product(client, admin, "33.33", category_id="phones", stock=9)
    gross = await product(client, admin, "144.00", category_id="phones", prices_include_tax=True, stock=9)
    quote = await priced(client, admin.headers, basket("c-1", net, 3))
    order = await ordered(client, admin.headers, quote["quote_id"], "taxes-refund-1")
    charged = {t["code"]: t["amount"] for t in order["items"][0]["taxes"]}
    assert charged == {"OTV": "20.00", "KDV": "24.00"}  # on 99.99: 19.998 -> 20.00; 119.99 x 0.2 -> 24.00

    refunds = []
    for key, units in (("r-1", 1), ("r-2", 1), ("r-3", 1)):
        body = {"lines": [{"product_id": net, "quantity": units}]}
        response = await client.post(
            f"/api/v1/orders/{order['id']}/refunds", json=body, headers={**admin.headers, "Idempotency-Key": key}
        )
        refunds.append(expect_ok(response, 201))
    given = {code: sum(Decimal(t["amount"]) for r in refunds for t in r["lines"][0]["taxes"] if t["code"] == code)
             for code in charged}  # fmt: skip
    assert given == {code: Decimal(amount) for code, amount in charged.items()}
    for refund in refunds:
        line = refund["lines"][0]
        assert Decimal(line["tax"]) == sum(Decimal(t["amount"]) for t in line["taxes"])
    assert sum(Decimal(r["total_refunded"]) for r in refunds) == Decimal("99.99") + Decimal("44.00")

    exempt = await priced(client, admin.headers, basket("c-1", gross, 2, tax_exemption="exempt"))
    exempt_order = await ordered(client, admin.headers, exempt["quote_id"], "taxes-refund-2")
    body = {"lines": [{"product_id": gross, "quantity": 2}]}
    response = await client.post(
        f"/api/v1/orders/{exempt_order['id']}/refunds", json=body, headers={**admin.headers, "Idempotency-Key": "r-4"}
    )
    back = expect_ok(response, 201)
    assert back["total_refunded"] == "200.00"  # 2 x 144.00 less the 88.00 tax the prices held
    assert back["lines"][0]["tax_exempted"] == "88.00"
    seller = order["items"][0]["seller_id"]
    statement = expect_ok(await client.get(f"/api/v1/sellers/{seller}/statement", headers=admin.headers))
    assert statement["tax_collected_by_code"] == {"KDV": "24.00", "OTV": "20.00"}
    assert statement["tax_refunded_by_code"] == {"KDV": "24.00", "OTV": "20.00"}
    assert statement["gross_sales"] == "299.99"  # 99.99 + the exempt perfume's net 2 x 100.00
    assert statement["refunds"] == "299.99"


async def test_components_read_back_and_come_as_numbers_for_a_go_client(client: Client, admin: Caller) -> None:
    await tax_rule(client, admin, "phones", OTV_KDV)
    net = await product(client, admin, "100.00", category_id="phones")
    numbers = {**admin.headers, "X-Money-Format": "number"}

    quote = expect_ok(await client.post(QUOTE, json=basket("c-1", net, 1, card_bin="454360"), headers=numbers))
    stored = expect_ok(await client.get(f"/api/v1/quotes/{quote['quote_id']}", headers=admin.headers))

    assert quote["items"][0]["taxes"][1] == {"code": "KDV", "rate": 20, "base": 120.00, "amount": 24.00}
    assert quote["installment_options"] == []
    assert stored["items"][0]["taxes"][1] == {"code": "KDV", "rate": "20", "base": "120.00", "amount": "24.00"}
    assert stored["rounding"] == quote["rounding"]


async def test_per_seller_totals_hold_with_compound_taxes_an_exemption_and_seller_funded_installments(
    client: Client, admin: Caller
) -> None:
    """§22's sellers, each field summing to the quote's, under ÖTV + KDV, exempt, with a seller-funded option."""
    await tax_rule(client, admin, "phones", OTV_KDV)
    gross = await product(client, admin, "144.00", category_id="phones", prices_include_tax=True, seller_id="s1")
    net = await product(client, admin, "100.00", category_id="phones", seller_id="s2")
    option = {"code": "std", "name": "Std", "base_fee": "5.00", "eta_days_min": 1, "eta_days_max": 2}
    profile = {"seller_id": "s1", "currency": "TRY", "options": [option]}
    expect_ok(await client.post("/api/v1/shipping-profiles", json=profile, headers=admin.headers), 201)
    plan = {"name": "P", "bin_prefixes": ["454360"], "currency": "TRY",
            "options": [{"count": 2, "rate": 0, "funded_by": "seller", "seller_commission_rate": "1"}]}  # fmt: skip
    expect_ok(await client.post("/api/v1/installment-plans", json=plan, headers=admin.headers), 201)
    body = basket("c-1", gross, 1)
    body["items"].append({"product_id": net, "quantity": 1})

    for extra in ({}, {"tax_exemption": "exempt"}, {"card_bin": "454360", "installments": 2}):
        quote = await priced(client, admin.headers, {**body, **extra})
        sellers = quote["sellers"]

        def total(name: str, sellers: list[dict[str, Any]] = sellers) -> Decimal:
            return sum((Decimal(s[name]) for s in sellers), Decimal(0))

        assert total("goods") == Decimal(quote["subtotal"])
        assert total("tax") == Decimal(quote["tax_amount"])
        assert total("tax_included") == Decimal(quote.get("tax_included", "0"))
        assert total("delivery_fee") == Decimal(quote["delivery_fee"])
        assert total("commission") == Decimal(quote["commission_breakdown"]["total_commission"])
        # An exempt tax-inclusive line's goods already leave out the tax its price held (docs/taxes.md).
        if "tax_exempted" in quote:  # on every seller, summing to the quote's
            assert total("tax_exempted") == Decimal(quote["tax_exempted"])
        else:
            assert all("tax_exempted" not in s for s in sellers)
        assert total("payout") == total("goods") - total("discount") + total("tax") - total("commission") - total(
            "commission_tax"
        ) + total("delivery_fee")


async def test_a_statements_tax_by_code_adds_up_to_its_tax_with_single_rate_lines_too(
    client: Client, admin: Caller
) -> None:
    """A seller's phone (ÖTV + KDV, its components kept) and book (the default 18 %, in a quote that used
    nothing of docs/taxes.md: no components kept) count in tax_collected_by_code, the book as TAX."""
    await tax_rule(client, admin, "phones", OTV_KDV)
    phone = await product(client, admin, "100.00", category_id="phones", stock=9)
    book = await product(client, admin, "50.00", category_id="books", stock=9)
    compound = await priced(client, admin.headers, basket("c-1", phone, 1))
    await ordered(client, admin.headers, compound["quote_id"], "by-code-1")
    plain = await priced(client, admin.headers, basket("c-1", book, 2))
    assert "taxes" not in plain["items"][0]
    book_order = await ordered(client, admin.headers, plain["quote_id"], "by-code-2")
    body = {"lines": [{"product_id": book, "quantity": 1}]}
    headers = {**admin.headers, "Idempotency-Key": "by-code-3"}
    expect_ok(await client.post(f"/api/v1/orders/{book_order['id']}/refunds", json=body, headers=headers), 201)

    seller = book_order["items"][0]["seller_id"]
    statement = expect_ok(await client.get(f"/api/v1/sellers/{seller}/statement", headers=admin.headers))
    assert (statement["tax_collected"], statement["tax_refunded"]) == ("62.00", "9.00")  # 44.00 + 18.00; 9.00
    assert statement["tax_collected_by_code"] == {"KDV": "24.00", "OTV": "20.00", "TAX": "18.00"}
    assert statement["tax_refunded_by_code"] == {"KDV": "0.00", "OTV": "0.00", "TAX": "9.00"}


async def test_an_exempt_orders_parts_add_up_and_its_seller_shows_the_tax_it_held(
    client: Client, admin: Caller
) -> None:
    """§5's identity on an exempt tax-inclusive line: its subtotal is its net (docs/taxes.md#exemptions)."""
    await tax_rule(client, admin, "phones", OTV_KDV)
    gross = await product(client, admin, "144.00", category_id="phones", prices_include_tax=True, seller_id="s1")
    option = {"code": "std", "name": "Std", "base_fee": "5.00", "eta_days_min": 1, "eta_days_max": 2}
    profile = {"seller_id": "s1", "currency": "TRY", "options": [option]}
    expect_ok(await client.post("/api/v1/shipping-profiles", json=profile, headers=admin.headers), 201)
    quote = await priced(client, admin.headers, basket("c-1", gross, 2, tax_exemption="exempt"))
    order = await ordered(client, admin.headers, quote["quote_id"], "exempt-parts-1")

    for shown in (quote, order):
        parts = Decimal(shown["subtotal"]) - Decimal(shown["discount_amount"]) + Decimal(shown["tax_amount"])
        assert Decimal(shown["total_amount"]) == parts + Decimal(shown["delivery_fee"]) + Decimal(
            shown["small_basket_fee"]
        )
        assert (shown["subtotal"], shown["tax_exempted"]) == ("200.00", "88.00")  # 2 x 144.00 less 88.00 held
        assert [(i["line_subtotal"], i["net"], i["tax_exempted"]) for i in shown["items"]] == [
            ("200.00", "200.00", "88.00")
        ]
        [seller] = shown["sellers"]
        assert (seller["goods"], seller["tax_exempted"]) == ("200.00", "88.00")
        assert Decimal(seller["payout"]) == Decimal(seller["goods"]) - Decimal(seller["commission"]) + Decimal(
            seller["delivery_fee"]
        )
    statement = expect_ok(await client.get("/api/v1/sellers/s1/statement", headers=admin.headers))
    assert (statement["gross_sales"], statement["payout"]) == ("200.00", order["sellers"][0]["payout"])

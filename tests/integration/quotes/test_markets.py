"""Real markets over HTTP (docs/markets.md): tax-inclusive products and price lists through quote,
order and refund; commission rates in every currency; default fees in DEFAULT_CURRENCY; a quote's own
customer_group reaching price lists, promotions and flag targeting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import product_body
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.price_lists.test_price_list_quotes import basket, key_headers, priced, user_headers

Client = AsyncTestClient[Litestar]
D = Decimal
QUOTE = "/api/v1/quote"
RATES = "/api/v1/commission-rates"
RULES = "/api/v1/pricing-rules"
SINCE = "2025-01-01T00:00:00+00:00"


async def product(client: Client, admin: Caller, price: str, **fields: Any) -> str:
    body = product_body(base_price=price, current_price=price, min_price="0.00", cost_price="0.00", **fields)
    data = expect_ok(await client.post("/api/v1/products", json=body, headers=admin.headers), 201)
    product_id: str = data["id"]
    return product_id


def line(quote: dict[str, Any], product_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(item for item in quote["items"] if item["product_id"] == product_id)
    return found


async def ordered(client: Client, headers: dict[str, str], quote_id: str, key: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/orders", json={"quote_id": quote_id}, headers={**headers, "Idempotency-Key": key}
    )
    data: dict[str, Any] = expect_ok(response, 201)
    return data


# --- tax-inclusive prices -----------------------------------------------------------------------


async def test_an_inclusive_line_contains_its_tax_and_an_exclusive_one_adds_it(client: Client, admin: Caller) -> None:
    """docs/markets.md's first worked example: 118.00 gross + 50.00 net at 18 %, then a 10 % coupon."""
    gross = await product(client, admin, "118.00", prices_include_tax=True)
    net = await product(client, admin, "50.00")
    coupon = {"code": "TEN", "type": "PERCENTAGE", "value": 10, "valid_from": SINCE}
    expect_ok(await client.post("/api/v1/coupons", json=coupon, headers=admin.headers), 201)
    body = basket("c-1", gross, 1)
    body["items"].append({"product_id": net, "quantity": 1})

    plain = await priced(client, admin.headers, body)
    with_coupon = await priced(client, admin.headers, {**body, "coupon_codes": ["TEN"]})

    inclusive, exclusive = line(plain, gross), line(plain, net)
    assert (inclusive["prices_include_tax"], inclusive["gross"], inclusive["tax"], inclusive["net"]) == (
        True,
        "118.00",
        "18.00",
        "100.00",
    )
    assert (exclusive["prices_include_tax"], exclusive["net"], exclusive["tax"], exclusive["gross"]) == (
        False,
        "50.00",
        "9.00",
        "59.00",
    )
    assert (plain["subtotal"], plain["tax_amount"], plain["tax_included"]) == ("168.00", "9.00", "18.00")
    assert (plain["delivery_fee"], plain["total_amount"]) == ("10.00", "187.00")
    inclusive, exclusive = line(with_coupon, gross), line(with_coupon, net)
    assert (inclusive["discount"], inclusive["gross"], inclusive["tax"], inclusive["net"]) == (
        "11.80",
        "106.20",
        "16.20",
        "90.00",
    )
    assert (exclusive["discount"], exclusive["net"], exclusive["tax"], exclusive["gross"]) == (
        "5.00",
        "45.00",
        "8.10",
        "53.10",
    )
    assert (with_coupon["discount_amount"], with_coupon["tax_amount"], with_coupon["tax_included"]) == (
        "16.80",
        "8.10",
        "16.20",
    )
    assert with_coupon["total_amount"] == "169.30"  # 168.00 - 16.80 + 8.10 + 10.00
    bases = {d["product_id"]: (d["base"], d["amount"]) for d in with_coupon["commission_breakdown"]["details"]}
    assert bases == {gross: ("90.00", "13.50"), net: ("45.00", "6.75")}  # 15 % of each net
    tax_step = next(c for c in with_coupon["pricing_breakdown"]["calculations"] if c["step"] == "tax")
    assert tax_step["description"] == "per line, after discounts; 16.20 included in tax-inclusive prices"


async def test_a_quote_without_an_inclusive_line_has_no_tax_split(client: Client, admin: Caller) -> None:
    net = await product(client, admin, "50.00")

    quote = await priced(client, admin.headers, basket("c-1", net, 1))

    assert "tax_included" not in quote
    assert not {"prices_include_tax", "net", "gross"} & set(quote["items"][0])


async def test_an_inclusive_order_is_refunded_exactly_as_charged(client: Client, admin: Caller) -> None:
    gross = await product(client, admin, "9.99", prices_include_tax=True, stock=50)
    net = await product(client, admin, "10.00", stock=50)
    body = basket("c-1", gross, 3)
    body["items"].append({"product_id": net, "quantity": 1})
    quote = await priced(client, admin.headers, body)
    order = await ordered(client, admin.headers, quote["quote_id"], "markets-order-1")
    assert order["tax_included"] == quote["tax_included"] == "4.57"  # round(29.97 x 18 / 118)
    assert line(order, gross)["gross"] == "29.97"

    async def refund(lines: list[dict[str, Any]], key: str, **body: Any) -> dict[str, Any]:
        response = await client.post(
            f"/api/v1/orders/{order['id']}/refunds",
            json={"lines": lines, **body},
            headers={**admin.headers, "Idempotency-Key": key},
        )
        data: dict[str, Any] = expect_ok(response, 201)
        return data

    first = await refund([{"product_id": gross, "quantity": 1}], "markets-refund-1")
    rest = await refund(
        [{"product_id": gross, "quantity": 2}, {"product_id": net, "quantity": 1}],
        "markets-refund-2",
        include_fees=True,
    )
    after = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))

    # One unit of the gross line: 9.99 back, its tax (1.52) contained in it, not added.
    assert (first["total_refunded"], first["tax_included"], first["lines"][0]["tax"]) == ("9.99", "1.52", "1.52")
    assert first["lines"][0]["prices_include_tax"] is True
    # The rest: 19.98 gross (3.05 contained), 10.00 + 1.80 tax, and the fees.
    assert rest["tax_included"] == "3.05"
    assert D(first["total_refunded"]) + D(rest["total_refunded"]) == D(order["total_amount"])
    assert (after["status"], after["refunded_amount"]) == ("refunded", order["total_amount"])


async def test_catalog_prices_include_tax_is_the_default_of_a_new_product(settings: Settings, admin: Caller) -> None:
    inclusive = msgspec.structs.replace(settings, catalog_prices_include_tax=True)
    async with AsyncTestClient(app=create_app(inclusive)) as client:
        product_id = await product(client, admin, "59.00")
        stated = await product(client, admin, "59.00", prices_include_tax=False)
        shown = expect_ok(await client.get(f"/api/v1/products/{product_id}", headers=admin.headers))
        quote = await priced(client, admin.headers, basket("c-1", product_id, 1))
        stated_shown = expect_ok(await client.get(f"/api/v1/products/{stated}", headers=admin.headers))

    assert (shown["prices_include_tax"], stated_shown["prices_include_tax"]) == (True, False)
    assert (quote["items"][0]["tax"], quote["items"][0]["net"], quote["tax_amount"]) == ("9.00", "50.00", "0.00")


async def test_a_price_list_can_be_tax_inclusive(client: Client, admin: Caller) -> None:
    product_id = await product(client, admin, "100.00")
    body = {
        "name": "EU shelf",
        "currency": "EUR",
        "channels": ["web"],
        "prices_include_tax": True,
        "prices": [{"product_id": product_id, "amount": "23.60"}],
    }
    created = expect_ok(await client.post("/api/v1/price-lists", json=body, headers=admin.headers), 201)
    euro_rule = {
        "name": "eur-delivery",
        "type": "DELIVERY_FEE",
        "configuration": {"base_fee": "4.90", "currency": "EUR"},
    }
    expect_ok(await client.post(RULES, json={**euro_rule, "effective_from": SINCE}, headers=admin.headers), 201)

    quote = await priced(client, admin.headers, basket("c-1", product_id, 1, currency="EUR", channel="web"))

    assert created["prices_include_tax"] is True
    item = quote["items"][0]
    assert (item["price_source"], item["gross"], item["tax"], item["net"]) == ("price_list", "23.60", "3.60", "20.00")
    assert (quote["tax_amount"], quote["tax_included"], quote["delivery_fee"]) == ("0.00", "3.60", "4.90")
    assert quote["total_amount"] == "28.50"


# --- commission rates across currencies ---------------------------------------------------------


async def test_an_eur_quote_uses_a_currency_less_percentage_and_an_eur_flat_fee(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """Before: an EUR quote fell to the 15 % default (`rate_id: null`) when the rates were in TRY."""
    six = expect_ok(
        await client.post(
            RATES,
            json={"category_id": "books", "commission_type": "PERCENTAGE", "rate": "6", "effective_from": SINCE},
            headers=admin.headers,
        ),
        201,
    )
    flat = expect_ok(
        await client.post(
            RATES,
            json={
                "seller_id": "s-eu",
                "commission_type": "FLAT",
                "rate": "0.50",
                "currency": "EUR",
                "effective_from": SINCE,
            },
            headers=admin.headers,
        ),
        201,
    )
    item = {"product_id": "book-1", "quantity": 2, "unit_price": "10.00", "category_id": "books", "seller_id": "s-eu"}
    body = {**basket("c-1", "book-1"), "items": [item]}

    euro = await priced(client, service_key, {**body, "currency": "EUR"})
    lira = await priced(client, service_key, {**body, "currency": "TRY"})

    assert six["currency"] is None
    details = {(d["dimension"], d["rate_id"], d["amount"]) for d in euro["commission_breakdown"]["details"]}
    assert details == {("category", six["id"], "1.20"), ("seller", flat["id"], "1.00")}
    assert {d["dimension"] for d in lira["commission_breakdown"]["details"]} == {"category"}  # the EUR fee is not TRY


@pytest.mark.parametrize(
    ("fields", "amounts"),
    [
        ({"commission_type": "FLAT", "rate": "2"}, "FLAT"),
        ({"commission_type": "TIERED", "tiers": [{"up_to": None, "rate": 5}]}, "TIERED"),
        ({"commission_type": "PERCENTAGE", "rate": "5", "min_amount": "1.00"}, "min_amount"),
    ],
)
async def test_an_amount_without_a_currency_is_refused_naming_currency(
    client: Client, admin: Caller, fields: dict[str, Any], amounts: str
) -> None:
    response = await client.post(RATES, json={"effective_from": SINCE, **fields}, headers=admin.headers)

    errors = field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    assert list(errors) == ["currency"]
    assert amounts in errors["currency"]


# --- default fees have a currency ---------------------------------------------------------------


@pytest.mark.parametrize(("currency", "price", "zero"), [("KWD", "3.337", "0.000"), ("JPY", "40", "0")])
async def test_a_quote_in_another_currency_pays_no_default_fee(
    client: Client, service_key: dict[str, str], currency: str, price: str, zero: str
) -> None:
    """DEFAULT_DELIVERY_FEE and the small-basket defaults are TRY: a 3.337 KWD basket used to pay 5.000 KWD."""
    item = {"product_id": "thing", "quantity": 1, "unit_price": price}
    body = {**basket("c-1", "thing"), "items": [item], "currency": currency, "is_express_delivery": True}

    quote = await priced(client, service_key, body)

    assert (quote["delivery_fee"], quote["small_basket_fee"]) == (zero, zero)
    steps = {c["step"]: c["description"] for c in quote["pricing_breakdown"]["calculations"]}
    assert f"no delivery fee in {currency} (the default is in TRY)" in steps["delivery"]
    assert steps["small_basket"] == f"none: no small-basket fee in {currency} (the default is in TRY)"


async def test_a_fee_rule_applies_only_in_its_currency(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    rules = [
        {"name": "kwd-delivery", "type": "DELIVERY_FEE", "configuration": {"base_fee": "1.250", "currency": "KWD"}},
        {
            "name": "kwd-small",
            "type": "SMALL_BASKET",
            "configuration": {"threshold": "5", "fee": "0.5", "currency": "kwd"},
        },
        {"name": "try-delivery", "type": "DELIVERY_FEE", "configuration": {"base_fee": "30.00"}, "priority": 9},
    ]
    for rule in rules:
        expect_ok(await client.post(RULES, json={**rule, "effective_from": SINCE}, headers=admin.headers), 201)
    item = {"product_id": "thing", "quantity": 1, "unit_price": "3.337"}
    body = {**basket("c-1", "thing"), "items": [item]}

    kwd = await priced(client, service_key, {**body, "currency": "KWD"})
    lira = await priced(client, service_key, {**body, "currency": "TRY", "items": [{**item, "unit_price": "60.00"}]})

    assert (kwd["delivery_fee"], kwd["small_basket_fee"], kwd["total_amount"]) == ("1.250", "0.500", "5.688")
    assert lira["delivery_fee"] == "30.00"  # a rule without a currency is in DEFAULT_CURRENCY


async def test_a_fee_rule_in_an_unknown_currency_is_refused(client: Client, admin: Caller) -> None:
    for currency, message in (("XXQ", "not an ISO 4217"), ("EURO", "ISO 4217")):
        rule = {"name": "bad", "type": "DELIVERY_FEE", "configuration": {"base_fee": "1", "currency": currency}}
        response = await client.post(RULES, json={**rule, "effective_from": SINCE}, headers=admin.headers)

        errors = field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
        assert message in errors["configuration.currency"]


# --- customer_group per quote -------------------------------------------------------------------


async def test_a_service_key_states_the_customer_group_and_promotions_and_flags_see_it(
    client: Client, admin: Caller
) -> None:
    product_id = await product(client, admin, "100.00", category_id="books")
    trade = {
        "name": "Trade",
        "currency": "TRY",
        "customer_groups": ["b2b"],
        "prices": [{"product_id": product_id, "amount": "80.00"}],
    }
    expect_ok(await client.post("/api/v1/price-lists", json=trade, headers=admin.headers), 201)
    promotion = {
        "name": "B2B web 5 %",
        "kind": "PERCENT_OFF",
        "config": {"percent": 5},
        "conditions": {"customer_groups": ["b2b"], "channels": ["web"]},
        "starts_at": SINCE,
    }
    expect_ok(await client.post("/api/v1/promotions", json=promotion, headers=admin.headers), 201)
    rules = [{"attribute": "customer_group", "operator": "eq", "values": ["b2b"]}]
    flag = {"key": "b2b_banner", "name": "B2B banner", "type": "BOOLEAN", "value": True, "rollout": {"rules": rules}}
    expect_ok(await client.post("/api/v1/feature-flags", json=flag, headers=admin.headers), 201)
    plain_key = await key_headers(client, admin)
    b2b_key = await key_headers(client, admin, customer_group="b2b")

    stated = await priced(client, plain_key, basket("c-1", product_id, 1, customer_group="B2B", channel="web"))
    own = await priced(client, b2b_key, basket("c-1", product_id, 1, channel="web"))
    retail = await priced(client, b2b_key, basket("c-1", product_id, 1, customer_group="retail", channel="web"))

    for quote in (stated, own):
        assert quote["items"][0]["list_unit_price"] == "80.00"
        assert [p["name"] for p in quote["applied_promotions"]] == ["B2B web 5 %"]
        assert quote["feature_flags"].get("b2b_banner") is True
    assert retail["items"][0]["list_unit_price"] == "100.00"
    assert retail["applied_promotions"] == []
    assert "b2b_banner" not in retail["feature_flags"]


async def test_a_shopper_cannot_state_another_customer_group(client: Client, admin: Caller) -> None:
    product_id = await product(client, admin, "100.00")
    user_id, headers = await user_headers(client, admin, customer_group="retail")

    refused = await client.post(QUOTE, json=basket(user_id, product_id, 1, customer_group="b2b"), headers=headers)
    own = await priced(client, headers, basket(user_id, product_id, 1, customer_group="Retail"))

    errors = field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))
    assert "comes from its account" in errors["customer_group"]
    assert own["items"][0]["list_unit_price"] == "100.00"

"""Money in the audit log (docs/governance.md#money-in-the-log): `before` and `after` write it as the
API shows it, a string with the currency's digits, and every other decimal as a string without
padding; never a JSON number, which a reader takes for a float (1445.3, 10.0)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.audit.test_audit_log import RATE, RATES, audit
from tests.integration.audit.test_change_requests import CHANGES, four_eyes, requested
from tests.integration.campaigns.test_campaigns import start
from tests.integration.catalog.test_catalog import PRODUCTS, create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok

Client = AsyncTestClient[Litestar]
__all__ = ["four_eyes"]  # the fixture: an app with CHANGE_APPROVAL=required


def numbers_with_a_fraction(document: Any) -> list[Any]:
    """Every JSON number in `document` that is not a whole number (what a JSON reader makes a float)."""
    if isinstance(document, dict):
        return [n for value in document.values() for n in numbers_with_a_fraction(value)]
    if isinstance(document, list):
        return [n for value in document for n in numbers_with_a_fraction(value)]
    return [document] if isinstance(document, float) else []


async def only(client: Client, admin: Caller, entity_type: str, entity_id: str) -> dict[str, Any]:
    """The one audit row of an entity."""
    rows = await audit(client, admin, entity_type=entity_type, entity_id=entity_id)
    assert len(rows) == 1, rows
    return rows[0]


async def test_product_prices_are_written_with_their_currencys_digits(client: Client, admin: Caller) -> None:
    euros = await create_product(
        client, admin, currency="EUR", base_price="1445.3", min_price="10", cost_price="0.5", weight="1.500"
    )
    yen = await create_product(client, admin, currency="JPY", base_price="1200", min_price="1000", cost_price="700")
    dinars = await create_product(client, admin, currency="KWD", base_price="12.5", min_price="1", cost_price="0.125")
    expect_ok(await client.put(f"{PRODUCTS}/{euros['id']}/price", json={"price": "1500"}, headers=admin.headers))

    made = [(await only(client, admin, "product", p["id"]))["after"] for p in (yen, dinars)]
    rows = await audit(client, admin, entity_type="product", entity_id=euros["id"])

    priced, created = rows
    prices = ("current_price", "base_price", "min_price", "cost_price")
    assert [created["after"][name] for name in prices] == ["1445.30", "1445.30", "10.00", "0.50"]
    assert (priced["before"]["current_price"], priced["after"]["current_price"]) == ("1445.30", "1500.00")
    assert [made[0][name] for name in prices] == ["1200", "1200", "1000", "700"]
    assert [made[1][name] for name in prices] == ["12.500", "12.500", "1.000", "0.125"]
    assert (created["after"]["weight"], created["after"]["stock"]) == ("1.5", 10)  # a count stays a number
    for row in (*rows, *made):
        assert not numbers_with_a_fraction(row), row


async def test_rates_coupons_list_prices_and_campaigns_write_money_as_the_api_shows_it(
    client: Client, admin: Caller
) -> None:
    rate_body = {"category_id": "books", "currency": "JPY", "effective_from": "2025-01-01T00:00:00Z"}
    flat = expect_ok(
        await client.post(
            "/api/v1/commission-rates",
            json={**rate_body, "commission_type": "FLAT", "rate": "100", "max_amount": "1500"},
            headers=admin.headers,
        ),
        201,
    )
    percent = expect_ok(
        await client.post(
            "/api/v1/commission-rates",
            json={**rate_body, "commission_type": "PERCENTAGE", "rate": "12.50", "currency": "EUR", "min_amount": "2"},
            headers=admin.headers,
        ),
        201,
    )
    coupons = "/api/v1/coupons"
    base = {"valid_from": "2025-01-01T00:00:00Z"}
    fixed = {**base, "code": "KWD1", "type": "FIXED", "value": "1.5", "currency": "KWD", "min_subtotal": "10"}
    share = {**base, "code": "TENPC", "type": "PERCENTAGE", "value": "10.0", "max_discount": "150", "currency": "TRY"}
    for body in (fixed, share):
        expect_ok(await client.post(coupons, json=body, headers=admin.headers), 201)
    product = await create_product(client, admin, currency="EUR", base_price="80", min_price="10", cost_price="5")
    price_list = expect_ok(
        await client.post(
            "/api/v1/price-lists",
            json={"name": "Wholesale", "currency": "EUR", "prices": [{"product_id": product["id"], "amount": "99.9"}]},
            headers=admin.headers,
        ),
        201,
    )
    campaign = await start(client, admin, product["id"], price_manipulation_limit="12.50")

    flat_row = (await only(client, admin, "commission_rate", flat["id"]))["after"]
    percent_row = (await only(client, admin, "commission_rate", percent["id"]))["after"]
    fixed_row = (await only(client, admin, "coupon", "KWD1"))["after"]
    share_row = (await only(client, admin, "coupon", "TENPC"))["after"]
    price_row = (await only(client, admin, "price_list_price", f"{price_list['id']}/{product['id']}/1"))["after"]
    campaign_row = (await only(client, admin, "campaign", campaign["id"]))["after"]

    assert (flat_row["rate"], flat_row["max_amount"]) == ("100", "1500")  # a flat rate is yen
    assert (percent_row["rate"], percent_row["min_amount"]) == ("12.5", "2.00")  # a percent is no money
    assert (fixed_row["value"], fixed_row["min_subtotal"]) == ("1.500", "10.000")
    assert (share_row["value"], share_row["max_discount"]) == ("10", "150.00")
    assert price_row["amount"] == "99.90"
    assert (campaign_row["base_price"], campaign_row["price_manipulation_limit"]) == ("80.00", "12.5")
    for row in (flat_row, percent_row, fixed_row, share_row, price_row, campaign_row):
        assert not numbers_with_a_fraction(row), row


async def test_a_change_requests_before_writes_money_as_the_audit_log_does(
    client: Client, four_eyes: Client, admin: Caller
) -> None:
    rate = expect_ok(
        await client.post(
            RATES,
            json={**RATE, "commission_type": "FLAT", "rate": "2.5", "min_amount": "1"},
            headers=admin.headers,
        ),
        201,
    )
    asked = await requested(await four_eyes.patch(f"{RATES}/{rate['id']}", json={"rate": "3"}, headers=admin.headers))

    shown = expect_ok(await four_eyes.get(f"{CHANGES}/{asked}", headers=admin.headers))

    assert (shown["before"]["rate"], shown["before"]["min_amount"]) == ("2.50", "1.00")
    assert not numbers_with_a_fraction(shown["before"])

"""Seller statements (docs/orders-and-refunds.md): sales, refunds, commission and payout, as JSON and as CSV."""

from __future__ import annotations

import csv
import io

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.clock import utcnow
from quote_service.quotes.store import QuoteStore
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.orders.test_orders_api import build_quote, line, quotes
from tests.integration.orders.test_refunds_api import placed, refund
from tests.integration.shipping.test_shipping_orders import ordered
from tests.integration.statements.test_discount_funders import ledger

__all__ = ["quotes"]  # the fixture, shared with test_orders_api

Client = AsyncTestClient[Litestar]


def url(seller: str) -> str:
    return f"/api/v1/sellers/{seller}/statement"


async def test_a_statement_shows_sales_refunds_commission_and_payout(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], quotes: QuoteStore
) -> None:
    case = await create_product(client, admin, stock=10)  # seller-1, 25.50
    other = await create_product(client, admin, stock=10, seller_id="seller-2")
    quote = build_quote(str(shopper.id), [line(case, 2, discount="5.10"), line(other, 1)])
    the_order = await placed(client, shopper.headers, quotes, quote)
    body = {"lines": [{"product_id": case["id"], "quantity": 1}]}
    expect_ok(await refund(client, admin.headers, the_order["id"], body), 201)
    today = utcnow().date().isoformat()

    shown = expect_ok(await client.get(url("seller-1"), headers=service_key))
    # Goods 51.00 - 5.10 = 45.90, tax 18 % = 8.26, commission 15 % = 6.89; one unit back: 25.50 - 2.55 =
    # 22.95, its tax 4.13 and commission 3.45. Payout 22.95 + 8.26 - 4.13 - 3.44 = 23.64.
    figures = {
        "orders": 1,
        "gross_sales": "45.90",
        "refunds": "22.95",
        "net_sales": "22.95",
        "commission_charged": "6.89",
        "commission_reversed": "3.45",
        "net_commission": "3.44",
        "tax_collected": "8.26",
        "tax_refunded": "4.13",
        "platform_contribution": "0.00",
        "platform_contribution_reversed": "0.00",
        "commission_tax": "0.00",
        "delivery_fees": "0.00",
        "payout": "23.64",
    }
    span = {"from": shown["from"], "to": today, "tz": "UTC", "start": shown["start"], "end": shown["end"]}
    assert shown == {"seller_id": "seller-1", "currency": "TRY", **span, **figures,
                     "days": [{"date": today, **figures}]}  # fmt: skip

    answer = await client.get(url("seller-1"), params={"format": "csv"}, headers=admin.headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [row["date"] for row in rows] == [today, "total"]
    assert rows[1] == {"date": "total", "seller_id": "seller-1", "currency": "TRY",
                       **{k: str(v) for k, v in figures.items()}}  # fmt: skip


async def test_one_currency_per_statement_and_bad_input_named(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    lira = await create_product(client, admin, stock=10)
    euro = await create_product(client, admin, stock=10, currency="EUR", sku="EUR-1")
    await placed(client, shopper.headers, quotes, build_quote(str(shopper.id), [line(lira, 1)]))
    await placed(client, shopper.headers, quotes, build_quote(str(shopper.id), [line(euro, 1)], currency="EUR"))

    both = expect_error(await client.get(url("seller-1"), headers=admin.headers), 422, "VALIDATION_FAILED")
    assert "EUR, TRY" in field_errors(both)["currency"]
    euros = expect_ok(await client.get(url("seller-1"), params={"currency": "eur"}, headers=admin.headers))
    assert (euros["currency"], euros["gross_sales"], euros["orders"]) == ("EUR", "25.50", 1)
    nobody = expect_ok(await client.get(url("nobody"), headers=admin.headers))
    assert (nobody["orders"], nobody["days"]) == (0, [])
    bad = expect_error(
        await client.get(url("seller-1"), params={"format": "xls", "currency": "EUR"}, headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert "format" in field_errors(bad)
    expect_error(await client.get(url("seller-1"), params={"currency": "EURO"}, headers=admin.headers), 422,
                 "VALIDATION_FAILED")  # fmt: skip
    expect_error(await client.get(url("seller-1"), headers=shopper.headers), 403, "FORBIDDEN")


MONEY = ("gross_sales", "refunds", "net_sales", "commission_charged", "commission_reversed", "net_commission",
         "tax_collected", "tax_refunded", "platform_contribution", "platform_contribution_reversed", "commission_tax",
         "payout")  # fmt: skip


async def test_a_seller_with_nothing_in_the_period_gets_zeros_with_two_decimals(client: Client, admin: Caller) -> None:
    nobody = expect_ok(await client.get(url("nobody"), headers=admin.headers))
    assert nobody["currency"] is None
    assert {field: nobody[field] for field in MONEY} == dict.fromkeys(MONEY, "0.00")

    answer = await client.get(url("nobody"), params={"format": "csv"}, headers=admin.headers)
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    [total] = list(csv.DictReader(io.StringIO(answer.text)))
    assert {field: total[field] for field in MONEY} == dict.fromkeys(MONEY, "0.00")


async def test_a_ledger_entry_pays_the_seller_its_shipments_delivery_fee(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """Each seller ships its own parcel and is paid its delivery fee: the order's ledger entry pays what the
    order's per-seller payout says, the delivery fee included, and the statement pays the same."""
    _, order = await ordered(client, admin, service_key)
    for seller in order["sellers"]:
        [entry] = await ledger(client, admin, seller["seller_id"])
        assert entry["delivery_fees"] == seller["delivery_fee"] != "0.00", (entry, seller)
        assert entry["payout"] == seller["payout"], (entry, seller)
        shown = expect_ok(await client.get(url(seller["seller_id"]), headers=admin.headers))
        assert shown["payout"] == seller["payout"], (shown, seller)

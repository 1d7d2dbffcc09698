"""Who funds a discount, the tax on commission, and the seller's ledger (docs/orders-and-refunds.md),
over HTTP on real PostgreSQL and Redis, with quotes priced by the engine."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from quote_service.statements.schemas import Figures
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupons_api import coupon_body
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.orders.test_order_record import basket
from tests.integration.orders.test_refunds_api import cancel, refund
from tests.integration.promotions.test_promotions_api import create_promotion, promotion_body

Client = AsyncTestClient[Litestar]
D = Decimal
ORDERS = "/api/v1/orders"
QUOTE = "/api/v1/quote"
PROMOTIONS = "/api/v1/promotions"
COUPONS = "/api/v1/coupons"
FIGURES = tuple(f.name for f in msgspec.structs.fields(Figures) if f.name not in ("orders", "fees"))
"""Every amount of a statement."""
ENTRY_AMOUNTS = ("goods", "tax", "platform_contribution", "commission", "commission_tax", "payout")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, commission_tax_rate=D("20"))


def statement_url(seller: str) -> str:
    return f"/api/v1/sellers/{seller}/statement"


async def ordered(client: Client, caller: Caller, body: dict[str, Any]) -> tuple[Any, Any]:
    quote = expect_ok(await client.post(QUOTE, json=body, headers=caller.headers))
    headers = {**caller.headers, "Idempotency-Key": uuid.uuid4().hex}
    return quote, expect_ok(await client.post(ORDERS, json={"quote_id": quote["quote_id"]}, headers=headers), 201)


async def ledger(client: Client, caller: Caller, seller: str, limit: int = 50) -> list[dict[str, Any]]:
    """Every entry of the seller's ledger, page by page."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = expect_ok(await client.get(f"{statement_url(seller)}/entries", params=params, headers=caller.headers))
        entries += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


def entry_sums(entries: list[dict[str, Any]]) -> dict[str, Decimal]:
    """The statement's figures worked out from the ledger's entries."""

    def total(field: str, kind: str) -> Decimal:
        return sum((D(e[field]) for e in entries if e["kind"] == kind), D(0))

    figures = {
        "gross_sales": total("goods", "order"),
        "refunds": -total("goods", "refund"),
        "commission_charged": total("commission", "order"),
        "commission_reversed": -total("commission", "refund"),
        "tax_collected": total("tax", "order"),
        "tax_refunded": -total("tax", "refund"),
        "platform_contribution": total("platform_contribution", "order"),
        "platform_contribution_reversed": -total("platform_contribution", "refund"),
        "commission_tax": total("commission_tax", "order") + total("commission_tax", "refund"),
        "delivery_fees": total("delivery_fees", "order") + total("delivery_fees", "refund"),
        "payout": total("payout", "order") + total("payout", "refund"),
    }
    figures["net_sales"] = figures["gross_sales"] - figures["refunds"]
    figures["net_commission"] = figures["commission_charged"] - figures["commission_reversed"]
    return figures


async def test_funded_by_is_stored_shown_replaced_and_checked(client: Client, admin: Caller) -> None:
    promotion = await create_promotion(client, admin, funded_by="platform")
    assert promotion["funded_by"] == "platform"
    read = expect_ok(await client.get(f"{PROMOTIONS}/{promotion['id']}", headers=admin.headers))
    assert read["funded_by"] == "platform"
    replaced = expect_ok(
        await client.put(f"{PROMOTIONS}/{promotion['id']}", json=promotion_body(), headers=admin.headers)
    )
    assert replaced["funded_by"] == "seller"  # the default, as PUT replaces the whole promotion
    bad = expect_error(
        await client.post(PROMOTIONS, json=promotion_body(funded_by="customer"), headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert "funded_by" in field_errors(bad)

    coupon = expect_ok(await client.post(COUPONS, json=coupon_body(funded_by="platform"), headers=admin.headers), 201)
    assert coupon["funded_by"] == "platform"
    assert expect_ok(await client.get(f"{COUPONS}/SAVE10", headers=admin.headers))["funded_by"] == "platform"
    put = {k: v for k, v in coupon_body(funded_by="seller").items() if k != "code"}
    assert expect_ok(await client.put(f"{COUPONS}/SAVE10", json=put, headers=admin.headers))["funded_by"] == "seller"
    for body in (coupon_body(code="x1", funded_by=None), coupon_body(code="x2", funded_by=3)):
        bad = expect_error(await client.post(COUPONS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
        assert "funded_by" in field_errors(bad)


async def test_a_platform_funded_discount_is_paid_to_the_seller_and_stays_in_the_commission_base(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    """The worked example of docs/orders-and-refunds.md#a-worked-statement."""
    product = await create_product(
        client, admin, current_price="100.00", min_price="1.00", cost_price="0.50", seller_id="seller-w", stock=10
    )
    await create_promotion(
        client, admin, name="Platform 10 %", kind="PERCENT_OFF", config={"percent": 10}, funded_by="platform"
    )
    expect_ok(await client.post(COUPONS, json=coupon_body(), headers=admin.headers), 201)  # SAVE10, the seller's

    quote, placed = await ordered(client, shopper, basket(str(shopper.id), (product["id"], 2), coupons=("save10",)))

    # 200.00 - 20.00 (promotion, the platform's) - 18.00 (coupon, 10 % of 180.00, the seller's) = 162.00.
    [promoted] = quote["applied_promotions"]
    assert (promoted["amount"], promoted["funded_by"]) == ("20.00", "platform")
    assert quote["applied_coupons"] == [{"code": "SAVE10", "type": "PERCENTAGE", "amount": "18.00"}]
    [item] = quote["items"]
    assert (item["discount"], item["platform_funded"], item["tax"]) == ("38.00", "20.00", "29.16")
    # Commission on 200.00 - 18.00 = 182.00 (the seller-funded discount only): 15 % = 27.30.
    [detail] = [d for d in quote["commission_breakdown"]["details"] if d["product_id"] == product["id"]]
    assert (detail["base"], detail["amount"]) == ("182.00", "27.30")

    [line] = placed["items"]
    assert [(d["source"], d["funded_by"], d["amount"]) for d in line["discounts"]] == [
        ("promotion", "platform", "20.00"),
        ("coupon", "seller", "18.00"),
    ]
    assert placed["applied_promotions"][0]["funded_by"] == "platform"
    # 20 % tax on the commission: 5.46.
    assert (line["platform_contribution"], line["commission_tax"]) == ("20.00", "5.46")

    # One of the two units back: half of every part.
    expect_ok(
        await refund(client, admin.headers, placed["id"], {"lines": [{"product_id": product["id"], "quantity": 1}]}),
        201,
    )

    shown = expect_ok(await client.get(statement_url("seller-w"), headers=admin.headers))
    assert {field: shown[field] for field in FIGURES} == {
        "gross_sales": "162.00",
        "refunds": "81.00",
        "net_sales": "81.00",
        "commission_charged": "27.30",
        "commission_reversed": "13.65",
        "net_commission": "13.65",
        "tax_collected": "29.16",
        "tax_refunded": "14.58",
        "platform_contribution": "20.00",
        "platform_contribution_reversed": "10.00",
        "commission_tax": "2.73",
        "delivery_fees": "0.00",  # no shipments: the delivery fee is the platform's
        # 81.00 + 29.16 - 14.58 + 20.00 - 10.00 - 13.65 - 2.73
        "payout": "89.20",
    }

    entries = await ledger(client, admin, "seller-w", limit=1)  # a page per entry: the cursor walks them
    assert [(e["kind"], e["order_id"]) for e in entries] == [("order", placed["id"]), ("refund", placed["id"])]
    assert {k: entries[0][k] for k in ENTRY_AMOUNTS} == {
        "goods": "162.00",
        "tax": "29.16",
        "platform_contribution": "20.00",
        "commission": "27.30",
        "commission_tax": "5.46",
        "payout": "178.40",
    }
    assert {k: entries[1][k] for k in ENTRY_AMOUNTS} == {
        "goods": "-81.00",
        "tax": "-14.58",
        "platform_contribution": "-10.00",
        "commission": "-13.65",
        "commission_tax": "-2.73",
        "payout": "-89.20",
    }
    assert entry_sums(entries) == {field: D(shown[field]) for field in FIGURES}

    answer = await client.get(f"{statement_url('seller-w')}/entries", params={"format": "csv"}, headers=admin.headers)
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [row["kind"] for row in rows] == ["order", "refund", "total"]
    assert {k: rows[-1][k] for k in ENTRY_AMOUNTS} == {
        "goods": "81.00",
        "tax": "14.58",
        "platform_contribution": "10.00",
        "commission": "13.65",
        "commission_tax": "2.73",
        "payout": "89.20",
    }
    statement_csv = await client.get(statement_url("seller-w"), params={"format": "csv"}, headers=admin.headers)
    total = list(csv.DictReader(io.StringIO(statement_csv.text)))[-1]
    assert {field: total[field] for field in FIGURES} == {field: shown[field] for field in FIGURES}

    # The cancel is refused (something was refunded); refunding the rest reverses exactly what is left.
    expect_error(await cancel(client, admin.headers, placed["id"]), 409, "CANCEL_NOT_ALLOWED")
    expect_ok(
        await refund(client, admin.headers, placed["id"], {"lines": [{"product_id": product["id"], "quantity": 1}]}),
        201,
    )
    closed = expect_ok(await client.get(statement_url("seller-w"), headers=admin.headers))
    for field in ("net_sales", "net_commission", "commission_tax", "payout"):
        assert closed[field] == "0.00", field
    assert closed["platform_contribution_reversed"] == closed["platform_contribution"] == "20.00"
    assert closed["tax_refunded"] == closed["tax_collected"] == "29.16"


async def test_a_quote_with_only_seller_funded_discounts_shows_no_funder(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    product = await create_product(client, admin, current_price="100.00", min_price="1.00", cost_price="0.50")
    await create_promotion(client, admin, name="Seller 10 %", kind="PERCENT_OFF", config={"percent": 10})
    quote = expect_ok(
        await client.post(QUOTE, json=basket(str(shopper.id), (product["id"], 1)), headers=shopper.headers)
    )
    assert "funded_by" not in quote["applied_promotions"][0]
    assert "platform_funded" not in quote["items"][0]
    [detail] = [d for d in quote["commission_breakdown"]["details"] if d["product_id"] == product["id"]]
    assert detail["base"] == "90.00"


async def test_the_ledger_names_bad_input(client: Client, admin: Caller, shopper: Caller) -> None:
    url = f"{statement_url('seller-1')}/entries"
    for params, field in (
        ({"format": "xls"}, "format"),
        ({"cursor": "nope"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"currency": "EURO"}, "currency"),
        ({"from": "2026-13-01"}, "from"),
        ({"tz": "Mars/Base"}, "tz"),
    ):
        bad = expect_error(await client.get(url, params=params, headers=admin.headers), 422, "VALIDATION_FAILED")
        assert field in field_errors(bad), params
    nobody = expect_ok(await client.get(f"{statement_url('nobody')}/entries", headers=admin.headers))
    assert (nobody["currency"], nobody["items"], nobody["next_cursor"]) == (None, [], None)
    expect_error(await client.get(url, headers=shopper.headers), 403, "FORBIDDEN")

"""An edit is priced under the order's own terms, not today's (docs/orders-and-refunds.md#the-orders-own-terms).

Each test places an order, changes the configuration that priced it (a tax rule, a commission rate, a
promotion, a coupon), and checks that an edit still prices the basket as the order was priced; and
that promotions are re-evaluated on the edited basket.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.clock import utcnow
from tests.integration.catalog.test_catalog import create_product
from tests.integration.commissions.test_commission_rates_api import create_rate
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.installments.test_installments import plan
from tests.integration.order_edits.test_edits_api import basket, commit, place, preview
from tests.integration.orders.test_orders_api import coupon
from tests.integration.price_lists.test_price_list_quotes import basket as priced_basket
from tests.integration.price_lists.test_price_list_quotes import priced
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.integration.quotes.test_markets import ordered, product
from tests.integration.rules.test_compound_taxes_api import tax_rule

Client = AsyncTestClient[Litestar]
D = Decimal


async def test_a_tax_rate_changed_after_the_order_does_not_reach_its_edits(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=10)  # 25.50, electronics at the default 18 %
    order = await place(client, service_key, basket("terms-1", (case, 2)))
    await tax_rule(client, admin, "electronics", {"rate": 25})
    today = expect_ok(await client.post("/api/v1/quote", json=basket("terms-1", (case, 2)), headers=service_key))
    assert today["tax_amount"] == "12.75"  # today's 25 %
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    assert shown["tax_delta"] == "4.59"  # the order's 18 %
    assert shown["difference_due"] == "30.09"


async def test_a_commission_rate_changed_after_the_order_does_not_reach_its_edits(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("terms-2", (case, 2)))
    assert order["commission_breakdown"]["category_commission"] == "7.65"  # the default 15 %
    await create_rate(client, admin, category_id="electronics", currency="TRY", rate="40")
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    assert shown["commission_delta"] == "3.83"  # 15 % of 25.50 (the order's), not 40 %
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert done["commission_breakdown"]["category_commission"] == "11.48"  # 15 % of 76.50


async def test_the_orders_promotion_stays_its_own_and_is_lost_when_the_basket_no_longer_meets_it(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    promotion = await create_promotion(
        client, admin, name="10 % over 50", kind="PERCENT_OFF", config={"percent": 10},
        conditions={"min_subtotal": "50", "currency": "TRY"}, usage_limit=1,
    )  # fmt: skip
    order = await place(client, service_key, basket("terms-3", (case, 2)))
    assert order["discount_amount"] == "5.10"
    # Ended since, and used up by this very order: the order's terms keep it for its edits.
    gone = await client.delete(f"/api/v1/promotions/{promotion['id']}", headers=admin.headers)
    assert gone.status_code in (200, 204), gone.text
    more = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    assert more["promotions_kept"] == [promotion["id"]]
    assert more["promotions_lost"] == []
    assert more["totals"]["discount_amount"] == "7.65"  # 10 % of 76.50
    # (25.50 - 2.55) x 1.18, less the small-basket fee the order paid (45.90 after its discount was under 50).
    assert more["difference_due"] == "22.08"
    less = expect_ok(
        await preview(client, service_key, order["id"], {"remove": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    assert less["promotions_kept"] == []
    assert less["promotions_lost"] == [promotion["id"]]
    assert less["totals"]["discount_amount"] == "0.00"
    # Now 25.50 + 4.59 tax, the delivery fee and the small-basket fee, against what the order charged.
    assert less["difference_due"] == str(D("30.09") + D("10.00") + D("5.00") - D(order["total_amount"]))
    done = expect_ok(await commit(client, service_key, order["id"], less["edit_id"]))
    assert done["applied_promotions"] == []
    uses = await pool.fetchrow(
        "SELECT times_used, budget_used FROM promotions WHERE id = $1", uuid.UUID(promotion["id"])
    )
    assert (uses["times_used"], uses["budget_used"]) == (1, D(0))


async def test_the_orders_coupon_is_not_counted_again(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    await coupon(client, admin, "ONCE10", usage_limit=1, per_customer_limit=1)
    order = await place(client, service_key, basket("terms-4", (case, 1), coupon_codes=["ONCE10"]))
    assert order["applied_coupons"][0]["amount"] == "2.55"
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    assert shown["totals"]["discount_amount"] == "5.10"  # still 10 %, though its one use is taken
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert done["applied_coupons"] == [{"code": "ONCE10", "type": "PERCENTAGE", "amount": "5.10"}]
    assert await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'ONCE10'") == 1


async def test_an_order_placed_before_orders_kept_their_terms_cannot_be_edited(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("terms-5", (case, 1)))
    await pool.execute("UPDATE orders SET terms = NULL WHERE id = $1", uuid.UUID(order["id"]))
    response = await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "ORDER_TERMS_UNKNOWN"


def _sum(entries: list[dict[str, Any]], name: str) -> Decimal:
    return sum((D(e[name]) for e in entries), D(0))


async def test_a_sellers_ledger_has_an_entry_per_edit_and_still_adds_up_to_its_statement(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("terms-6", (case, 3)))
    for body in (
        {"add": [{"product_id": case["id"], "quantity": 2}]},
        {"remove": [{"product_id": case["id"], "quantity": 4}]},
    ):
        shown = expect_ok(await preview(client, service_key, order["id"], body), 201)
        expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    today = utcnow().date()
    window = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    ledger = expect_ok(await client.get(f"/api/v1/sellers/seller-1/statement/entries?{window}", headers=service_key))
    statement = expect_ok(await client.get(f"/api/v1/sellers/seller-1/statement?{window}", headers=service_key))
    assert [e["kind"] for e in ledger["items"]] == ["order", "edit", "edit"]
    assert [e["goods"] for e in ledger["items"]] == ["76.50", "51.00", "-102.00"]
    assert _sum(ledger["items"], "goods") == D(statement["net_sales"]) == D("25.50")
    assert _sum(ledger["items"], "tax") == D(statement["tax_collected"]) - D(statement["tax_refunded"])
    net_commission = D(statement["commission_charged"]) - D(statement["commission_reversed"])
    assert _sum(ledger["items"], "commission") == net_commission == D("3.83")
    assert _sum(ledger["items"], "payout") == D(statement["payout"])
    assert statement["orders"] == 1


async def test_the_orders_installment_option_is_priced_again_on_the_edited_total(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await plan(client, admin)
    item = await product(client, admin, "1000.00", stock=5)
    body = priced_basket("c-1", item, 2, card_bin="454360", installments=6)
    quote = await priced(client, admin.headers, body)
    order = await ordered(client, admin.headers, quote["quote_id"], "edit-installment-1")
    assert order["installment"]["installment_commission"] == "50.00"  # seller-funded: 2.5 % of 2000.00
    # The plan is gone since: the order's option is its own.
    expect_ok(
        await client.delete(f"/api/v1/installment-plans/{order['installment']['plan_id']}", headers=admin.headers)
    )
    shown = expect_ok(
        await preview(client, admin.headers, order["id"], {"add": [{"product_id": item, "quantity": 1}]}), 201
    )
    assert shown["commission_delta"] == str(D("150.00") + D("25.00"))  # 15 % of 1000.00, and 2.5 % of it
    done = expect_ok(await commit(client, admin.headers, order["id"], shown["edit_id"]))
    assert done["installment"]["count"] == 6
    assert done["installment"]["installment_commission"] == "75.00"
    assert done["installment"]["total_payable"] == done["total_amount"]
    breakdown = done["commission_breakdown"]
    parts = ("seller_commission", "category_commission", "logistics_commission", "installment_commission")
    assert sum(D(breakdown[part]) for part in parts) == D(breakdown["total_commission"])


async def test_reports_count_an_edited_order_at_its_revision_once(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("terms-7", (case, 3)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"remove": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    report = expect_ok(await client.get("/api/v1/analytics/pricing?group_by=day", headers=admin.headers))
    [row] = report["rows"]
    # Two units' goods, not three less the one an edit gave back, nor two less it again.
    assert (row["orders"], row["revenue"], row["refunds"]) == (1, "51.00", "0.00")

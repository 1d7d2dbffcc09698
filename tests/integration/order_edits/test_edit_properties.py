"""A property of order edits (docs/orders-and-refunds.md#edits-and-exchanges): any sequence of edits (adds,
removals, exchanges) and refunds of one order, with a promotion, a coupon, named fees of every kind and two
sellers in play, under a commission tax of 0 and of 18 % with the order paid in seller-funded installments
(tests/integration/money_terms.py), leaves

- the order's totals the exact sums of its lines and fees (subtotal, discount, tax, total);
- what the customer paid less what came back equal to what the order still charges: the order's first
  total + its `balance_due` - its `refunded_amount` = its live lines' parts no refund gave back + its fees
  not given back (worked out here from the tables, not by the service's code);
- each seller's ledger summing to its statement, field by field, named commission fees (per line, per
  shipment, per order: docs/commission.md) by name too, and to what the order still charges the seller of
  them (its live lines' fees no refund gave back, its fees charged once not reversed);
- the stock conserved: each product's stock + the units its live lines still hold = what it started with.

The database outlives the examples (one set of fixtures): each example sells products of its own, for
sellers of its own.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.commissions.test_commission_fees import rates
from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupons_api import coupon_body
from tests.integration.expect import expect_ok
from tests.integration.money_terms import NAMED_FEES, TERMS, at_rate, paid_as_asked, paid_so, taxed, taxed_world
from tests.integration.order_edits.test_edits_api import basket, commit, key, place, preview
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.integration.statements.test_discount_funders import Client, ledger, statement_url

pytestmark = [pytest.mark.long, pytest.mark.slow]  # ~32 s on a 2-core box: in `make test-all` (CI)

D = Decimal
STOCK = 50
STATEMENT_SUMS = {  # a ledger entry's field: the statement's figures it sums to (each entry signed)
    "goods": ("net_sales",),
    "tax": ("tax_collected", "-tax_refunded"),
    "platform_contribution": ("platform_contribution", "-platform_contribution_reversed"),
    "commission": ("commission_charged", "-commission_reversed"),
    "commission_tax": ("commission_tax",),
    "delivery_fees": ("delivery_fees",),
    "payout": ("payout",),
}

actions_drawn = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 2), st.integers(1, 3)),
        st.tuples(st.just("remove"), st.integers(0, 2), st.integers(1, 3)),
        st.tuples(st.just("replace"), st.integers(0, 2), st.integers(0, 2)),
        st.tuples(st.just("refund"), st.integers(0, 2), st.integers(1, 2)),
        st.tuples(st.just("fees"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=6,
)
"""(what, product index, units or the exchange's product index): indices wrap, units are capped."""


async def _world(client: Client, admin: Caller) -> None:
    """A promotion with a threshold an edit can cross, and a coupon, for every example."""
    await create_promotion(
        client, admin, name="8 % over 60", kind="PERCENT_OFF", config={"percent": 8},
        conditions={"min_subtotal": "60", "currency": "TRY"},
    )  # fmt: skip
    expect_ok(await client.post("/api/v1/coupons", json=coupon_body(code="EDIT5", value=5), headers=admin.headers), 201)
    await rates(client, admin, *NAMED_FEES)


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return at_rate(settings, request)


@TERMS
@examples(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.decimals(D("1.00"), D("40.00"), places=2), min_size=3, max_size=3),
    owners=st.lists(st.integers(0, 1), min_size=3, max_size=3),
    first=st.lists(st.integers(1, 3), min_size=3, max_size=3),
    actions=actions_drawn,
)
async def test_edits_and_refunds_keep_the_order_the_books_and_the_stock_exact(
    client: Client,
    admin: Caller,
    service_key: dict[str, str],
    pool: asyncpg.Pool,
    settings: Settings,
    prices: list[Decimal],
    owners: list[int],
    first: list[int],
    actions: Any,
) -> None:
    if not await pool.fetchval("SELECT count(*) FROM coupons WHERE code = 'EDIT5'"):
        await _world(client, admin)
    if taxed(settings):
        await taxed_world(client, admin, pool, fees=False)
    sellers = [f"s-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    products = [
        await create_product(
            client,
            admin,
            base_price=str(price),
            min_price="0.01",
            cost_price="0.01",
            seller_id=sellers[owner],
            stock=STOCK,
        )
        for price, owner in zip(prices, owners, strict=True)
    ]
    customer = f"prop-{uuid.uuid4().hex[:8]}"
    lines = zip(products[:2], first[:2], strict=True)
    order = paid_as_asked(
        settings, await place(client, service_key, paid_so(settings, basket(customer, *lines, coupon_codes=["EDIT5"])))
    )
    oid = order["id"]
    for what, index, amount in actions:
        product = products[index % 3]
        if what in ("add", "remove", "replace"):
            held = await _units(pool, oid, product["id"])
            if what == "add":
                body: dict[str, Any] = {"add": [{"product_id": product["id"], "quantity": amount}]}
            elif held == 0:
                continue
            elif what == "remove":
                body = {"remove": [{"product_id": product["id"], "quantity": min(amount, held)}]}
            else:
                exchanged = {"product_id": products[amount % 3]["id"], "quantity": 1}
                body = {"replace": [{"product_id": product["id"], "quantity": 1, "with": exchanged}]}
            shown = await preview(client, service_key, oid, body)
            if shown.status_code == 422:  # it would leave the order without a line
                continue
            edit = expect_ok(shown, 201)
            expect_ok(await commit(client, service_key, oid, edit["edit_id"]))
        elif what == "refund":
            held = await _units(pool, oid, product["id"])
            if held:
                body = {"lines": [{"product_id": product["id"], "quantity": min(amount, held)}]}
                response = await client.post(
                    f"/api/v1/orders/{oid}/refunds", json=body, headers={**admin.headers, **key()}
                )
                assert response.status_code in (201, 422), response.text  # 422: on lines of its two sellers
        else:
            response = await client.post(
                f"/api/v1/orders/{oid}/refunds", json={"include_fees": True}, headers={**admin.headers, **key()}
            )
            assert response.status_code in (201, 409), response.text  # 409: given back already
        await _check(client, admin, service_key, pool, order, products, sellers)


async def _units(pool: asyncpg.Pool, order_id: str, product_id: str) -> int:
    """The units of a product the order's live lines still hold (none given back)."""
    held: int = await pool.fetchval(
        """SELECT COALESCE(sum(quantity - refunded_quantity), 0) FROM order_lines
           WHERE order_id = $1 AND product_id = $2 AND retired_by IS NULL""",
        uuid.UUID(order_id),
        product_id,
    )
    return held


async def _check(
    client: Client,
    admin: Caller,
    service_key: dict[str, str],
    pool: asyncpg.Pool,
    placed: dict[str, Any],
    products: list[dict[str, Any]],
    sellers: list[str],
) -> None:
    now = expect_ok(await client.get(f"/api/v1/orders/{placed['id']}", headers=service_key))
    lines = now["items"]

    def total(name: str) -> Decimal:
        return sum((D(line[name]) for line in lines), D(0))

    assert D(now["subtotal"]) == total("line_subtotal")
    assert D(now["discount_amount"]) == total("discount")
    assert D(now["tax_amount"]) == total("tax")
    fees = D(now["delivery_fee"]) + D(now["small_basket_fee"])
    assert D(now["total_amount"]) == total("line_subtotal") - total("discount") + total("tax") + fees
    charged = D(placed["total_amount"]) + D(now["balance_due"]) - D(now["refunded_amount"])
    assert charged == await _still_charged(pool, placed["id"]), now
    for product in products:
        stock = await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(product["id"]))
        assert stock + await _units(pool, placed["id"], product["id"]) == STOCK, product["id"]
    for seller in sellers:
        shown = expect_ok(await client.get(statement_url(seller), headers=admin.headers))
        entries = await ledger(client, admin, seller)
        for field, figures in STATEMENT_SUMS.items():
            expected = sum((-D(shown[f[1:]]) if f.startswith("-") else D(shown[f]) for f in figures), D(0))
            assert sum((D(e[field]) for e in entries), D(0)) == expected, (seller, field)
        named: dict[str, D] = {}
        for entry in entries:
            for name, amount in entry.get("fees", {}).items():
                named[name] = named.get(name, D(0)) + D(amount)
        assert {k: v for k, v in named.items() if v} == {k: D(v) for k, v in shown.get("fees", {}).items() if D(v)}
        assert sum(named.values(), D(0)) == await _fees_still_charged(pool, placed["id"], seller), (seller, entries)


async def _still_charged(pool: asyncpg.Pool, order_id: str) -> Decimal:
    """What the order charges that no refund gave back: its live lines' goods after discount and their
    tax, less what refunds took of them, and its fees unless they were given back."""
    oid = uuid.UUID(order_id)
    lines = await pool.fetchval(
        """SELECT COALESCE(sum(l.line_subtotal - l.discount + l.tax), 0)
                  - COALESCE((SELECT sum(r.amount - r.discount + r.tax) FROM refund_lines r JOIN order_lines k
                              ON k.order_id = r.order_id AND k.position = r.position
                              WHERE r.order_id = $1 AND k.retired_by IS NULL), 0)
           FROM order_lines l WHERE l.order_id = $1 AND l.retired_by IS NULL""",
        oid,
    )
    order = await pool.fetchrow("SELECT delivery_fee, small_basket_fee, fees_refunded FROM orders WHERE id = $1", oid)
    fees = D(0) if order["fees_refunded"] else order["delivery_fee"] + order["small_basket_fee"]
    return D(lines) + fees


async def _fees_still_charged(pool: asyncpg.Pool, order_id: str, seller: str) -> Decimal:
    """The named commission fees the order still charges `seller`: its live lines' less what refunds gave
    back of them, and those charged to it once per shipment or order not reversed."""
    oid = uuid.UUID(order_id)
    lines = await pool.fetchval(
        """SELECT COALESCE(sum(f.value::numeric), 0) FROM order_lines l, jsonb_each_text(l.commission_fees) f
           WHERE l.order_id = $1 AND l.retired_by IS NULL AND l.seller_id = $2""",
        oid,
        seller,
    )
    back = await pool.fetchval(
        """SELECT COALESCE(sum(f.value::numeric), 0) FROM refund_lines r
           JOIN order_lines l ON l.order_id = r.order_id AND l.position = r.position,
                jsonb_each_text(r.commission_fees) f
           WHERE r.order_id = $1 AND l.retired_by IS NULL AND l.seller_id = $2""",
        oid,
        seller,
    )
    once = await pool.fetchval(
        """SELECT COALESCE(sum(amount), 0) FROM order_commissions WHERE order_id = $1 AND retired_by IS NULL
           AND per IS NOT NULL AND refund_id IS NULL AND seller_id = $2""",
        oid,
        seller,
    )
    return D(lines) - D(back) + D(once)

"""A property of the books (docs/orders-and-refunds.md, §17): random orders with discounts of both funders, partial
refunds and cancels in random order; for every seller the ledger's entries sum to the statement, field
by field, and per order line what was charged - what was refunded = what stays, part by part.

The database outlives the examples (hypothesis runs them on one set of fixtures): each example sells
for sellers of its own, so each statement holds that example's orders only.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupons_api import coupon_body
from tests.integration.expect import expect_ok
from tests.integration.orders.test_order_record import basket
from tests.integration.orders.test_refunds_api import cancel, refund
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.integration.statements.test_discount_funders import (
    FIGURES,
    Client,
    entry_sums,
    ledger,
    ordered,
    statement_url,
)

D = Decimal
COUPONS = "/api/v1/coupons"
PARTS = ("line_subtotal", "discount", "tax", "commission_category", "commission_seller", "platform_contribution",
         "commission_tax")  # fmt: skip
"""An order line's parts, and the refund_lines columns that take them back (`_REFUNDED`)."""
_REFUNDED = ("amount", "discount", "tax", "category_commission", "seller_commission", "platform_contribution",
             "commission_tax")  # fmt: skip


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, commission_tax_rate=D("18"))


orders_drawn = st.lists(
    st.tuples(
        st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), min_size=1, max_size=3, unique_by=lambda t: t[0]),
        st.sets(st.sampled_from(["PLAT5", "SELL3"])),
    ),
    min_size=1,
    max_size=3,
)
"""Each order: (product index, quantity) lines and the coupons it asks for."""
actions_drawn = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["refund", "cancel"]), st.integers(0, 2), st.integers(1, 3)),
    max_size=5,
)
"""(order index, refund or cancel, line index, units): indices wrap around, units are capped by what is left."""


async def _world(client: Client, admin: Caller) -> None:
    """A platform-funded promotion and coupon, and a seller-funded coupon, for every example."""
    await create_promotion(client, admin, name="Platform 5 %", kind="PERCENT_OFF", config={"percent": 5},
                           funded_by="platform")  # fmt: skip
    for body in (
        coupon_body(code="PLAT5", value=5, funded_by="platform"),
        coupon_body(code="SELL3", type="FIXED", value="3.00", currency="TRY"),
    ):
        expect_ok(await client.post(COUPONS, json=body, headers=admin.headers), 201)


@examples(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.decimals(D("1.00"), D("250.00"), places=2), min_size=3, max_size=3),
    owners=st.lists(st.integers(0, 1), min_size=3, max_size=3),
    orders=orders_drawn,
    actions=actions_drawn,
)
async def test_the_ledger_sums_to_the_statement_and_every_part_balances(
    client: Client,
    admin: Caller,
    shopper: Caller,
    pool: asyncpg.Pool,
    prices: list[Decimal],
    owners: list[int],
    orders: Any,
    actions: Any,
) -> None:
    if not await pool.fetchval("SELECT count(*) FROM coupons WHERE code = 'PLAT5'"):
        await _world(client, admin)
    sellers = [f"s-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    products = [
        await create_product(
            client,
            admin,
            current_price=str(price),
            min_price="0.01",
            cost_price="0.01",
            seller_id=sellers[owner],
            stock=100,
        )
        for price, owner in zip(prices, owners, strict=True)
    ]
    placed = []
    for lines, codes in orders:
        items = [(products[index]["id"], quantity) for index, quantity in lines]
        _, order = await ordered(client, shopper, basket(str(shopper.id), *items, coupons=tuple(sorted(codes))))
        for line in order["items"]:  # the record's platform-funded shares are what the seller is paid
            shares = sum((D(d["amount"]) for d in line["discounts"] if d["funded_by"] == "platform"), D(0))
            assert shares == D(line.get("platform_contribution", "0")), line
        placed.append(order)
    left = [[line["quantity"] for line in order["items"]] for order in placed]
    for order_index, kind, line_index, units in actions:
        n = order_index % len(placed)
        order = placed[n]
        if kind == "cancel":
            answer = await cancel(client, admin.headers, order["id"])
            if answer.status_code == 200:
                left[n] = [0] * len(left[n])
            continue
        position = line_index % len(order["items"])
        take = min(units, left[n][position])
        if take:
            body = {"lines": [{"product_id": order["items"][position]["product_id"], "quantity": take}]}
            expect_ok(await refund(client, admin.headers, order["id"], body), 201)
            left[n][position] -= take

    stays = await _balanced(pool, [uuid.UUID(order["id"]) for order in placed])
    for seller in sellers:
        shown = expect_ok(await client.get(statement_url(seller), headers=admin.headers))
        entries = await ledger(client, admin, seller, limit=2)
        assert entry_sums(entries) == {field: D(shown[field]) for field in FIGURES}, seller
        assert sum(e["kind"] == "order" for e in entries) == shown["orders"]
        assert _statement_stays(shown) == stays.get(seller, dict.fromkeys(STAYS, D(0))), seller


async def _balanced(pool: asyncpg.Pool, order_ids: list[uuid.UUID]) -> dict[str, dict[str, Decimal]]:
    """Per order line and part: never more refunded than charged, all of it when every unit came back.
    What stays (charged - refunded) per seller, in the statement's net terms, worked out from the lines."""
    refunded = ", ".join(f"COALESCE(sum(r.{column}), 0) AS r_{column}" for column in _REFUNDED)
    rows = await pool.fetch(
        f"""SELECT l.seller_id, l.quantity, l.refunded_quantity, l.prices_include_tax,
                   {", ".join(f"COALESCE(l.{p}, 0) AS {p}" for p in PARTS)}, {refunded}
            FROM order_lines l LEFT JOIN refund_lines r ON r.order_id = l.order_id AND r.position = l.position
            WHERE l.order_id = any($1::uuid[]) GROUP BY l.order_id, l.position""",
        order_ids,
    )
    stays: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        kept = {}
        for part, column in zip(PARTS, _REFUNDED, strict=True):
            charged, back = row[part], row[f"r_{column}"]
            assert 0 <= back <= charged, (part, dict(row))
            if row["refunded_quantity"] == row["quantity"]:
                assert back == charged, (part, dict(row))
            kept[part] = charged - back
        seller = stays.setdefault(row["seller_id"], dict.fromkeys(STAYS, D(0)))
        contained = kept["tax"] if row["prices_include_tax"] else D(0)
        seller["net_sales"] += kept["line_subtotal"] - kept["discount"] - contained
        seller["tax"] += kept["tax"]
        seller["platform"] += kept["platform_contribution"]
        seller["net_commission"] += kept["commission_category"] + kept["commission_seller"]
        seller["commission_tax"] += kept["commission_tax"]
    return stays


STAYS = ("net_sales", "tax", "platform", "net_commission", "commission_tax")


def _statement_stays(shown: dict[str, Any]) -> dict[str, Decimal]:
    """What a statement says stays with the seller, in `_balanced`'s terms."""
    return {
        "net_sales": D(shown["net_sales"]),
        "tax": D(shown["tax_collected"]) - D(shown["tax_refunded"]),
        "platform": D(shown["platform_contribution"]) - D(shown["platform_contribution_reversed"]),
        "net_commission": D(shown["net_commission"]),
        "commission_tax": D(shown["commission_tax"]),
    }

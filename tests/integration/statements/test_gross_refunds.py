"""Refunds of tax-inclusive lines through a seller's statement (docs/orders-and-refunds.md, §16, §17): a property.

Random baskets of gross (tax-inclusive) lines, some beside net ones, with or without a coupon, are
ordered and refunded unit by unit in random splits. A gross line's price contains its tax, so a
refund of it gives back goods without that tax and the tax beside them: the statement's `refunds`
plus `tax_refunded` is exactly what the customer got back, `tax_refunded` is the refunds' tax, and
once every unit is back the seller keeps nothing (no sales, no tax, no payout).

Each example sells for a seller of its own, so each statement holds that example's orders only.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

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
from tests.integration.orders.test_refunds_api import refund
from tests.integration.statements.test_discount_funders import Client, ordered, statement_url

D = Decimal
COUPON = "GROSS10"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, commission_tax_rate=D("18"))


lines_drawn = st.lists(
    st.tuples(st.decimals(D("1.00"), D("250.00"), places=2), st.booleans(), st.integers(1, 4)),
    min_size=1,
    max_size=3,
).filter(lambda lines: any(gross for _, gross, _ in lines))
"""Each line: its price, whether the price includes tax, its quantity (at least one line gross)."""
refunds_drawn = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4)), max_size=6)
"""(line index, units): the index wraps around, the units are capped by what is left."""


def _paid_for_goods(order: dict[str, Any]) -> Decimal:
    """What the customer paid for the goods: each line after its discount, with its tax unless it contains it."""
    return sum(
        (
            D(item["line_subtotal"]) - D(item["discount"]) + (D(0) if item["prices_include_tax"] else D(item["tax"]))
            for item in order["items"]
        ),
        D(0),
    )


@examples(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=lines_drawn, with_coupon=st.booleans(), refunds=refunds_drawn, everything=st.booleans())
async def test_a_refunded_gross_line_gives_its_tax_back_through_the_statement(
    client: Client,
    admin: Caller,
    shopper: Caller,
    lines: list[tuple[Decimal, bool, int]],
    with_coupon: bool,
    refunds: list[tuple[int, int]],
    everything: bool,
) -> None:
    if with_coupon and (await client.get(f"/api/v1/coupons/{COUPON}", headers=admin.headers)).status_code == 404:
        expect_ok(await client.post("/api/v1/coupons", json=coupon_body(code=COUPON), headers=admin.headers), 201)
    seller = f"g-{uuid.uuid4().hex[:12]}"
    items = []
    for price, gross, quantity in lines:
        product = await create_product(
            client,
            admin,
            current_price=str(price),
            base_price=str(price),
            min_price="0.01",
            cost_price="0.01",
            seller_id=seller,
            stock=100,
            prices_include_tax=gross,
        )
        items.append((product["id"], quantity))
    _, order = await ordered(client, shopper, basket(str(shopper.id), *items, coupons=(COUPON,) if with_coupon else ()))
    assert any(item["prices_include_tax"] and D(item["tax"]) > 0 for item in order["items"])

    left = [item["quantity"] for item in order["items"]]
    if everything:  # then the rest of every line, so each line's last units come back too
        refunds = [*refunds, *((position, quantity) for position, quantity in enumerate(left))]
    given_back = []
    for index, units in refunds:
        position = index % len(left)
        take = min(units, left[position])
        if take:
            body = {"lines": [{"product_id": order["items"][position]["product_id"], "quantity": take}]}
            given_back.append(expect_ok(await refund(client, admin.headers, order["id"], body), 201))
            left[position] -= take

    shown = expect_ok(await client.get(statement_url(seller), headers=admin.headers))
    money = {name: D(value) for name, value in shown.items() if name in _MONEY}
    tax_back = sum((D(line["tax"]) for r in given_back for line in r["lines"]), D(0))
    assert money["tax_refunded"] == tax_back
    assert money["refunds"] + money["tax_refunded"] == sum((D(r["total_refunded"]) for r in given_back), D(0))
    assert money["gross_sales"] + money["tax_collected"] == _paid_for_goods(order)
    if not any(left):
        assert money["net_sales"] == money["tax_collected"] - money["tax_refunded"] == D(0)
        assert money["net_commission"] == money["commission_tax"] == money["payout"] == D(0)


_MONEY = ("gross_sales", "refunds", "net_sales", "tax_collected", "tax_refunded", "net_commission",
          "commission_tax", "payout")  # fmt: skip

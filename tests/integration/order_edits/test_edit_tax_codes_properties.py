"""A property of tax by code (docs/taxes.md#statements): whatever edits (units added, taken out, exchanged for
another product) and refunds (of units, of the fees) an order of products under different tax codes goes
through, in any order, the order's lines' components add up to their tax and the order's, and the seller's
`tax_collected_by_code` and `tax_refunded_by_code` add up exactly to its `tax_collected` and `tax_refunded`
after every step; once everything is given back, each code's refunded tax equals its collected tax.

Phones carry OTV 20 % and KDV 20 % on the net plus OTV, books KDV 30 %: an exchange of one for the other
moves tax from one code to another even when the order's tax as a whole moves the other way.
The database outlives the examples: each example sells products of its own, in categories of its own, for a
seller of its own.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.order_edits.test_edit_properties import _units, actions_drawn
from tests.integration.order_edits.test_edit_taxes import check_order, check_statement
from tests.integration.order_edits.test_edits_api import ORDERS, Client, basket, commit, key, place, preview
from tests.integration.quotes.test_markets import product
from tests.integration.rules.test_compound_taxes_api import OTV_KDV, tax_rule

pytestmark = [pytest.mark.slow]

D = Decimal
BOOKS = {"components": [{"code": "KDV", "rate": 30}]}


@examples(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.decimals(D("1.00"), D("90.00"), places=2), min_size=2, max_size=2),
    first=st.integers(1, 3),
    actions=actions_drawn,
)
# The exchange of docs/taxes.md, then the book given back.
@example(prices=[D("100.00"), D("100.00")], first=2, actions=[("replace", 0, 0), ("refund", 1, 1)])
async def test_tax_by_code_adds_up_to_the_tax_through_edits_and_refunds(
    client: Client,
    admin: Caller,
    pool: asyncpg.Pool,
    prices: list[Decimal],
    first: int,
    actions: Any,
) -> None:
    tag = uuid.uuid4().hex[:10]
    seller = f"codes-{tag}"
    ids = []
    for name, rule, price in zip(("phones", "books"), (OTV_KDV, BOOKS), prices, strict=True):
        await tax_rule(client, admin, f"{name}-{tag}", rule)
        ids.append(await product(client, admin, str(price), category_id=f"{name}-{tag}", seller_id=seller, stock=60))
    products = [{"id": pid} for pid in ids]
    order = await place(client, admin.headers, basket(f"codes-{tag}", (products[0], first)))
    oid = order["id"]
    await _check(client, admin, oid, seller)
    for what, index, units in actions:
        pid, other = ids[index % 2], ids[1 - index % 2]  # (the phone, the book) or (the book, the phone)
        held = await _units(pool, oid, pid)
        body: dict[str, Any] | None = None
        if what == "add":
            body = {"add": [{"product_id": pid, "quantity": units}]}
        elif what == "remove" and held:
            body = {"remove": [{"product_id": pid, "quantity": min(units, held)}]}
        elif what == "replace" and held:  # one unit for one of the other product
            body = {"replace": [{"product_id": pid, "quantity": 1, "with": {"product_id": other, "quantity": 1}}]}
        elif what == "refund" and held:
            back = {"lines": [{"product_id": pid, "quantity": min(units, held)}]}
            answer = await client.post(f"{ORDERS}/{oid}/refunds", json=back, headers={**admin.headers, **key()})
            assert answer.status_code in (201, 409), answer.text  # 409: the order is closed
        elif what == "fees":
            answer = await client.post(
                f"{ORDERS}/{oid}/refunds", json={"include_fees": True}, headers={**admin.headers, **key()}
            )
            assert answer.status_code in (201, 409, 422), answer.text  # given back already; no fee; closed
        if body is not None:
            shown = await preview(client, admin.headers, oid, body)
            if shown.status_code not in (409, 422):  # closed; it would leave the order without a line
                expect_ok(await commit(client, admin.headers, oid, expect_ok(shown, 201)["edit_id"]))
        await _check(client, admin, oid, seller)

    left = [(pid, await _units(pool, oid, pid)) for pid in ids]
    back = {"lines": [{"product_id": pid, "quantity": n} for pid, n in left if n], "include_fees": True}
    answer = await client.post(f"{ORDERS}/{oid}/refunds", json=back, headers={**admin.headers, **key()})
    assert answer.status_code in (201, 409), answer.text  # 409: nothing was left
    shown = await _check(client, admin, oid, seller)
    assert shown["tax_collected"] == shown["tax_refunded"], shown
    assert shown["tax_collected_by_code"] == shown["tax_refunded_by_code"], shown


async def _check(client: Client, admin: Caller, order_id: str, seller: str) -> dict[str, Any]:
    """The order's lines' components add up to their tax, the statement's codes to its tax; the statement."""
    check_order(expect_ok(await client.get(f"{ORDERS}/{order_id}", headers=admin.headers)))
    shown: dict[str, Any] = expect_ok(await client.get(f"/api/v1/sellers/{seller}/statement", headers=admin.headers))
    assert set(shown["tax_collected_by_code"]) >= {"OTV", "KDV"}, shown
    check_statement(shown)
    return shown

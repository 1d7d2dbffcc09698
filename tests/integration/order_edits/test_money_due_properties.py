"""A property of an order's money over the real API (docs/orders-and-refunds.md#money-due-and-payments): any
sequence of edits (adds, removals), payments, refunds (units, fees) and a cancel of one order leaves

- nothing due below zero, and what came back never more than what was charged and paid:
  `refunded_amount` <= the first total + `paid_amount`;
- the customer's money exact: the first total + `paid_amount` - `refunded_amount` + `balance_due` = what the
  order still charges (its live lines' parts no refund gave back, its fees not given back: worked out from the
  tables, not by the service's code), `refunded_amount` the sum of its refunds, `paid_amount` of its payments;
- once the order is closed (cancelled, or everything refunded), exactly what was charged and paid back, and
  nothing due.

The database outlives the examples: each example sells products of its own.
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

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.order_edits.test_edit_properties import _still_charged, _units
from tests.integration.order_edits.test_edits_api import ORDERS, Client, basket, commit, key, place, preview
from tests.integration.order_edits.test_money_due import pay

pytestmark = [pytest.mark.slow]

D = Decimal
STOCK = 60

actions_drawn = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 1), st.integers(1, 3)),
        st.tuples(st.just("remove"), st.integers(0, 1), st.integers(1, 3)),
        st.tuples(st.just("pay"), st.just(0), st.integers(1, 4)),  # a 1/n share of what is due
        st.tuples(st.just("refund"), st.integers(0, 1), st.integers(1, 2)),
        st.tuples(st.just("fees"), st.just(0), st.just(0)),
        st.tuples(st.just("cancel"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=7,
)
"""(what, product index, units or the payment's share)."""


@examples(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.decimals(D("1.00"), D("40.00"), places=2), min_size=2, max_size=2),
    first=st.lists(st.integers(1, 3), min_size=2, max_size=2),
    actions=actions_drawn,
)
async def test_no_more_comes_back_than_was_charged_and_paid(
    client: Client,
    admin: Caller,
    service_key: dict[str, str],
    pool: asyncpg.Pool,
    prices: list[Decimal],
    first: list[int],
    actions: Any,
) -> None:
    products = [
        await create_product(client, admin, base_price=str(p), min_price="0.01", cost_price="0.01", stock=STOCK)
        for p in prices
    ]
    order = await place(client, service_key, basket(f"due-{uuid.uuid4().hex[:8]}", *zip(products, first, strict=True)))
    oid = order["id"]
    closed = False
    for what, index, amount in actions:
        product = products[index]
        held = await _units(pool, oid, product["id"])
        if what in ("add", "remove"):
            if what == "add":
                body: dict[str, Any] = {"add": [{"product_id": product["id"], "quantity": amount}]}
            elif held:
                body = {"remove": [{"product_id": product["id"], "quantity": min(amount, held)}]}
            else:
                continue
            shown = await preview(client, service_key, oid, body)
            if shown.status_code in (409, 422):  # not editable any more (refunded), or it would leave no line
                continue
            expect_ok(await commit(client, service_key, oid, expect_ok(shown, 201)["edit_id"]))
        elif what == "pay":
            due = D(expect_ok(await client.get(f"{ORDERS}/{oid}", headers=service_key))["balance_due"])
            share = (due / amount).quantize(D("0.01"))
            response = await pay(client, service_key, oid, str(share))
            assert response.status_code == (201 if share > 0 else 422), response.text
        elif what == "refund" and held:
            body = {"lines": [{"product_id": product["id"], "quantity": min(amount, held)}]}
            response = await client.post(f"{ORDERS}/{oid}/refunds", json=body, headers={**admin.headers, **key()})
            assert response.status_code in (201, 409), response.text  # 409: the order is closed
        elif what == "fees":
            response = await client.post(
                f"{ORDERS}/{oid}/refunds", json={"include_fees": True}, headers={**admin.headers, **key()}
            )
            assert response.status_code in (201, 409), response.text  # 409: given back already, or closed
        elif what == "cancel":
            response = await client.post(f"{ORDERS}/{oid}/cancel", json={}, headers={**admin.headers, **key()})
            assert response.status_code in (200, 409), response.text  # 409: refunded already
            closed = closed or response.status_code == 200
        closed = await _check(client, pool, service_key, order) or closed
    if not closed:  # close it: everything left back, fees too
        left = [(p["id"], await _units(pool, oid, p["id"])) for p in products]
        body = {"lines": [{"product_id": pid, "quantity": n} for pid, n in left if n], "include_fees": True}
        response = await client.post(f"{ORDERS}/{oid}/refunds", json=body, headers={**admin.headers, **key()})
        assert response.status_code in (201, 409), response.text
    now = expect_ok(await client.get(f"{ORDERS}/{oid}", headers=service_key))
    assert now["status"] in ("cancelled", "refunded"), now
    assert D(now["refunded_amount"]) == D(order["total_amount"]) + D(now["paid_amount"]), now
    assert now["balance_due"] == "0.00"
    await _check(client, pool, service_key, order)


async def _check(client: Client, pool: asyncpg.Pool, headers: dict[str, str], placed: dict[str, Any]) -> bool:
    """The invariants of the module docstring; whether the order is closed."""
    now = expect_ok(await client.get(f"{ORDERS}/{placed['id']}", headers=headers))
    charged, paid = D(placed["total_amount"]), D(now["paid_amount"])
    back, due = D(now["refunded_amount"]), D(now["balance_due"])
    assert due >= 0, now
    assert back <= charged + paid, now
    assert charged + paid - back + due == await _still_charged(pool, placed["id"]), now
    refunds = expect_ok(await client.get(f"{ORDERS}/{placed['id']}/refunds", headers=headers))
    assert sum((D(r["total_refunded"]) for r in refunds), D(0)) == back
    assert sum((D(p["amount"]) for p in now["payments"]), D(0)) == paid
    return bool(now["status"] in ("cancelled", "refunded"))

"""A property of the books (docs/orders-and-refunds.md#seller-statements): whatever refunds (of units, with or
without the fees, of the fees alone) and order edits (units added or taken out) an order of sellers with
shipping profiles goes through, in any order (also under a commission tax of 18 %, paid in seller-funded
installments, with named fees of every kind: tests/integration/money_terms.py), each seller's statement equals
its ledger after every step, each ledger lists every entry once, and once everything is given back each seller's
statement payout and ledger net to 0.00 (goods, tax, commission and delivery fees alike).

The statement and the ledger are one query's two sums, so a refund counted twice would agree with itself:
only "everything returned nets to 0.00" sees it (an edit after a refund that gave a delivery fee back once
counted that refund again with each later edit).

The database outlives the examples (hypothesis runs them on one set of fixtures): each example sells
products of its own, for sellers of its own, with shipping profiles of their own.
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

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.money_terms import TERMS, at_rate, paid_as_asked, paid_so, taxed, taxed_world
from tests.integration.order_edits.test_edit_properties import STATEMENT_SUMS
from tests.integration.order_edits.test_edit_properties import _units as units_left
from tests.integration.order_edits.test_edits_api import ORDERS, basket, commit, key, place, preview
from tests.integration.shipping.test_shipping_profiles_api import create_profile, option
from tests.integration.statements.test_discount_funders import Client, ledger, statement_url

pytestmark = [pytest.mark.long, pytest.mark.slow]  # ~40 s on a 2-core box: in `make test-all` (CI)

D = Decimal
OPTIONS = ([option("standard")], [option("standard", free_above="60")])
"""Seller 0's shipments cost a flat 4.90; seller 1's 4.90 too, free from 60.00 of goods (an edit may cross it)."""

actions_drawn = st.lists(
    st.one_of(
        st.tuples(st.just("refund"), st.integers(0, 2), st.integers(1, 3), st.booleans()),
        st.tuples(st.just("fees"), st.integers(0, 1), st.just(0), st.just(False)),
        st.tuples(st.just("add"), st.integers(0, 2), st.integers(1, 3), st.just(False)),
        st.tuples(st.just("remove"), st.integers(0, 2), st.integers(1, 3), st.just(False)),
    ),
    min_size=1,
    max_size=6,
)
"""(what, product index or seller index for "fees", units, include_fees): units are capped by what is left."""


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return at_rate(settings, request)


@TERMS
@examples(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.decimals(D("1.00"), D("90.00"), places=2), min_size=3, max_size=3),
    owners=st.lists(st.integers(0, 1), min_size=3, max_size=3),
    first=st.lists(st.integers(1, 3), min_size=3, max_size=3),
    actions=actions_drawn,
)
# A refund that gives seller 0's fee back, then two edits: each once counted that refund again.
@example(
    prices=[D("100.00"), D("20.00"), D("30.00")],
    owners=[0, 1, 1],
    first=[2, 1, 1],
    actions=[("refund", 0, 1, True), ("add", 0, 1, False), ("add", 2, 1, False)],
)
async def test_everything_returned_nets_every_sellers_books_to_zero(
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
    if taxed(settings):
        await taxed_world(client, admin, pool)
    sellers = [f"s-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for seller, options in zip(sellers, OPTIONS, strict=True):
        await create_profile(client, admin, seller_id=seller, options=options)
    products = [
        await create_product(
            client,
            admin,
            base_price=str(price),
            min_price="0.01",
            cost_price="0.01",
            seller_id=sellers[owner],
            stock=50,
        )
        for price, owner in zip(prices, owners, strict=True)
    ]
    placed = basket("returns", *zip(products[:2], first[:2], strict=True))
    order = paid_as_asked(settings, await place(client, service_key, paid_so(settings, placed)))
    oid = order["id"]
    for what, index, units, include_fees in actions:
        if what == "fees":
            body: dict[str, Any] = {"shipments": [sellers[index]]}
            answer = await client.post(f"{ORDERS}/{oid}/refunds", json=body, headers={**admin.headers, **key()})
            assert answer.status_code in (201, 409, 422), answer.text  # given back already; no such shipment
        elif what == "refund":
            product = products[index]
            if take := min(units, await units_left(pool, oid, product["id"])):
                body = {"lines": [{"product_id": product["id"], "quantity": take}], "include_fees": include_fees}
                answer = await client.post(f"{ORDERS}/{oid}/refunds", json=body, headers={**admin.headers, **key()})
                assert answer.status_code == 201, answer.text
        else:
            await _edit(client, service_key, pool, oid, what, products[index]["id"], units)
        await _books(client, admin, sellers)

    # Everything given back: what units are left, with the fees.
    left = [(p["id"], await units_left(pool, oid, p["id"])) for p in products]
    body = {"lines": [{"product_id": pid, "quantity": n} for pid, n in left if n], "include_fees": True}
    answer = await client.post(f"{ORDERS}/{oid}/refunds", json=body, headers={**admin.headers, **key()})
    assert answer.status_code in (201, 409), answer.text  # 409: nothing was left, the fees given back already
    for seller, (shown, entries) in zip(sellers, await _books(client, admin, sellers), strict=True):
        for figure in ("net_sales", "net_commission", "commission_tax", "delivery_fees", "payout"):
            assert shown[figure] == "0.00", (seller, figure, shown, entries)
        assert D(shown["tax_collected"]) == D(shown["tax_refunded"]), (seller, shown)
        assert sum((D(e["payout"]) for e in entries), D(0)) == 0, (seller, entries)


async def _edit(
    client: Client, service_key: dict[str, str], pool: asyncpg.Pool, oid: str, what: str, pid: str, units: int
) -> None:
    """An edit adding or taking out units of a product, committed; none when there is nothing to take out,
    when it would leave the order without a line (422), or once the order is closed (409)."""
    if what == "remove":
        units = min(units, await units_left(pool, oid, pid))
        if not units:
            return
    shown = await preview(client, service_key, oid, {what: [{"product_id": pid, "quantity": units}]})
    if shown.status_code in (409, 422):
        return
    edit = expect_ok(shown, 201)
    expect_ok(await commit(client, service_key, oid, edit["edit_id"]))


async def _books(client: Client, admin: Caller, sellers: list[str]) -> list[tuple[dict[str, Any], list[Any]]]:
    """Each seller's statement and ledger: every entry listed once, and the entries summing to the statement,
    figure by figure."""
    found = []
    for seller in sellers:
        shown = expect_ok(await client.get(statement_url(seller), headers=admin.headers))
        entries = await ledger(client, admin, seller)
        assert len({(e["kind"], e["id"]) for e in entries}) == len(entries), (seller, entries)
        for field, figures in STATEMENT_SUMS.items():
            expected = sum((-D(shown[f[1:]]) if f.startswith("-") else D(shown[f]) for f in figures), D(0))
            assert sum((D(e[field]) for e in entries), D(0)) == expected, (seller, field, shown, entries)
        found.append((shown, entries))
    return found

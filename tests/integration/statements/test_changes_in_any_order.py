"""A property of an order's money over every kind of change (docs/architecture.md#money-after-the-quote): random
sequences of changes of two sellers' orders — placing an order, a flash purchase, an edit adding or taking out
units, an exchange, a refund of units with or without the fees, a refund of a seller's shipment fee, a cancel, a
payout run — under a commission tax of 0 and of 18 % (with the orders paid in seller-funded installments and
named fees of every kind: tests/integration/money_terms.py). After each change:

- every order's record adds up: its totals are its lines' and fees' sums, and what the customer paid less what
  came back is what the order still charges (worked out from the tables: order_edits/test_edit_properties.py);
- each seller's ledger is its statement, figure by figure, every entry listed once
  (statements/test_everything_returned.py), and its payouts plus its balance are its ledger
  (payouts/test_payout_invariant.py);

and once everything left is given back, fees included, each seller's books net to 0.00.

The database outlives the examples: each example sells for sellers of its own, with products, a flash sale
and shipping profiles of their own, and empties the payout tables first (a run never goes back in time).
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

from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.flash import buy, new_sale
from tests.integration.money_terms import TERMS as MONEY_TERMS
from tests.integration.money_terms import at_rate, paid_as_asked, paid_so, taxed, taxed_world
from tests.integration.order_edits.test_edit_properties import _still_charged
from tests.integration.order_edits.test_edit_properties import _units as units_left
from tests.integration.order_edits.test_edits_api import ORDERS, basket, key, place
from tests.integration.orders.test_refunds_api import cancel
from tests.integration.payouts.test_payout_invariant import _check as payouts_add_up
from tests.integration.payouts.test_payout_invariant import _fresh_payouts
from tests.integration.payouts.test_payouts_api import SIMULATED_AHEAD, TERMS, run
from tests.integration.shipping.test_shipping_profiles_api import create_profile, option
from tests.integration.statements.test_discount_funders import Client
from tests.integration.statements.test_everything_returned import _books, _edit

pytestmark = [pytest.mark.long, pytest.mark.slow]  # a minute and more on a 2-core box: in `make test-all` (CI)

D = Decimal
changes_drawn = st.lists(
    st.one_of(
        st.tuples(st.just("place"), st.integers(0, 2), st.integers(1, 3)),
        st.tuples(st.just("flash"), st.just(0), st.integers(1, 2)),
        st.tuples(st.sampled_from(["add", "remove", "exchange"]), st.integers(0, 9), st.integers(0, 2)),
        st.tuples(st.sampled_from(["refund", "refund+fees"]), st.integers(0, 9), st.integers(0, 2)),
        st.tuples(st.just("shipment"), st.integers(0, 9), st.integers(0, 1)),
        st.tuples(st.just("cancel"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("run"), st.just(0), st.just(0)),
    ),
    min_size=2,
    max_size=8,
)
"""(change, order index (wrapping; a product's for "place"), product index or seller index or units)."""


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return at_rate(msgspec.structs.replace(settings, payout_max_ahead_seconds=SIMULATED_AHEAD), request)


@MONEY_TERMS
@examples(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.decimals(D("1.00"), D("70.00"), places=2), min_size=3, max_size=3),
    owners=st.lists(st.integers(0, 1), min_size=3, max_size=3),
    changes=changes_drawn,
)
async def test_any_sequence_of_changes_keeps_every_record_and_every_sellers_books_exact(
    client: Client,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    pool: asyncpg.Pool,
    settings: Settings,
    prices: list[Decimal],
    owners: list[int],
    changes: Any,
) -> None:
    await _fresh_payouts(pool)
    expect_ok(await client.post(TERMS, json={"currency": "TRY", "hold_days": 0}, headers=admin.headers), 201)
    if taxed(settings):
        await taxed_world(client, admin, pool)
    sellers = [f"s-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for seller, free_above in zip(sellers, (None, "60"), strict=True):
        await create_profile(client, admin, seller_id=seller, options=[option("standard", free_above=free_above)])
    products = [
        await create_product(client, admin, base_price=str(price), min_price="0.01", cost_price="0.01",
                             seller_id=sellers[owner], stock=80)
        for price, owner in zip(prices, owners, strict=True)
    ]  # fmt: skip
    deal = await create_product(client, admin, base_price="25.50", min_price="10.00", cost_price="5.00",
                                seller_id=sellers[0], stock=80)  # fmt: skip
    sale, _ = await new_sale(client, admin, product=deal, item={"allocated_stock": 40, "per_user_limit": 40})
    orders: list[tuple[str, Decimal]] = []  # (id, total as placed)
    everything = [*products, deal]

    for change, n, m in changes:
        if change == "place":
            body = paid_so(settings, basket(f"any-{uuid.uuid4().hex[:8]}", (products[n], m)))
            placed = paid_as_asked(settings, await place(client, service_key, body))
            orders.append((placed["id"], D(placed["total_amount"])))
        elif change == "flash":
            bought = expect_ok(await buy(client, shopper.headers, sale, quantity=m), 201)
            made = expect_ok(await client.get(f"{ORDERS}/{bought['order_id']}", headers=admin.headers))
            orders.append((made["id"], D(made["total_amount"])))
        elif change == "run":
            await run(client, admin, utcnow())
        elif orders:
            oid = orders[n % len(orders)][0]
            await _change(client, admin, pool, oid, change, everything, sellers, m)
        await _adds_up(client, admin, pool, orders)
        await _books(client, admin, sellers)
        await payouts_add_up(client, admin, sellers, utcnow())

    for oid, _ in orders:  # everything left given back, the fees with it
        left = [(p["id"], await units_left(pool, oid, p["id"])) for p in everything]
        body = {"lines": [{"product_id": pid, "quantity": n} for pid, n in left if n], "include_fees": True}
        answer = await client.post(f"{ORDERS}/{oid}/refunds", json=body, headers={**admin.headers, **key()})
        assert answer.status_code in (201, 409), answer.text  # 409: nothing left, its fees given back already
    await _adds_up(client, admin, pool, orders)
    for seller, (shown, entries) in zip(sellers, await _books(client, admin, sellers), strict=True):
        for figure in ("net_sales", "net_commission", "commission_tax", "delivery_fees", "payout"):
            assert shown[figure] == "0.00", (seller, figure, shown, entries)
        assert D(shown["tax_collected"]) == D(shown["tax_refunded"]), (seller, shown)
    await payouts_add_up(client, admin, sellers, utcnow())


async def _change(
    client: Client,
    admin: Caller,
    pool: asyncpg.Pool,
    oid: str,
    change: str,
    products: list[dict[str, Any]],
    sellers: list[str],
    m: int,
) -> None:
    """One change of order `oid` (a refused one — nothing left to take, a closed order — changes nothing)."""
    held = [p for p in products if await units_left(pool, oid, p["id"])]
    if change in ("add", "remove"):
        # An admin edits: the service key may edit only the orders it placed, not a shopper's flash purchase.
        await _edit(client, admin.headers, pool, oid, change, products[m]["id"], 1)
    elif change == "exchange" and held:
        exchanged = {"product_id": products[m]["id"], "quantity": 1}
        body = {"replace": [{"product_id": held[0]["id"], "quantity": 1, "with": exchanged}]}
        shown = await client.post(f"{ORDERS}/{oid}/edits", json=body, headers=admin.headers)
        if shown.status_code == 201:
            url = f"{ORDERS}/{oid}/edits/{expect_ok(shown, 201)['edit_id']}/commit"
            expect_ok(await client.post(url, headers={**admin.headers, **key()}))
        else:
            assert shown.status_code in (409, 422), shown.text  # closed; the same product; would leave no line
    elif change.startswith("refund") and held:
        line = {"product_id": held[m % len(held)]["id"], "quantity": 1}
        body = {"lines": [line], "include_fees": change == "refund+fees"}
        answer = await client.post(f"{ORDERS}/{oid}/refunds", json=body, headers={**admin.headers, **key()})
        assert answer.status_code in (201, 409, 422), answer.text  # closed; on lines of two sellers
    elif change == "shipment":
        body = {"shipments": [sellers[m]]}
        answer = await client.post(f"{ORDERS}/{oid}/refunds", json=body, headers={**admin.headers, **key()})
        assert answer.status_code in (201, 409, 422), answer.text  # given back already; no such shipment
    elif change == "cancel":
        assert (await cancel(client, admin.headers, oid)).status_code in (200, 409)


async def _adds_up(client: Client, admin: Caller, pool: asyncpg.Pool, orders: list[tuple[str, Decimal]]) -> None:
    """Each order's totals are its lines' and fees' sums, and what the customer paid less what came back is what
    it still charges."""
    for oid, first in orders:
        now = expect_ok(await client.get(f"{ORDERS}/{oid}", headers=admin.headers))
        lines = now["items"]

        def total(name: str, lines: list[dict[str, Any]] = lines) -> Decimal:
            return sum((D(line[name]) for line in lines), D(0))

        assert D(now["subtotal"]) == total("line_subtotal"), now
        assert D(now["discount_amount"]) == total("discount"), now
        assert D(now["tax_amount"]) == total("tax"), now
        fees = D(now["delivery_fee"]) + D(now["small_basket_fee"])
        assert D(now["total_amount"]) == total("line_subtotal") - total("discount") + total("tax") + fees, now
        paid = D(now.get("paid_amount", "0"))
        charged = first + paid + D(now["balance_due"]) - D(now["refunded_amount"])
        assert charged == await _still_charged(pool, oid) - await _shipment_fees_given_back(pool, oid), now


async def _shipment_fees_given_back(pool: asyncpg.Pool, order_id: str) -> Decimal:
    """The fees of the order's live shipments a refund gave back, while the order still counts them (its fees
    not all given back): an edit writes such a shipment anew at 0.00."""
    given: Decimal = await pool.fetchval(
        """SELECT COALESCE(sum(s.delivery_fee), 0) FROM order_shipments s JOIN orders o ON o.id = s.order_id
           WHERE s.order_id = $1 AND s.retired_by IS NULL AND s.refund_id IS NOT NULL AND NOT o.fees_refunded""",
        uuid.UUID(order_id),
    )
    return given

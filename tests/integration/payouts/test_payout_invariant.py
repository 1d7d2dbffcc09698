"""The invariant of payouts (docs/payouts.md; docs/payouts.md#the-invariant) as a property over the API:
random orders (under a commission tax of 0 and 18 %, paid in seller-funded installments at 18 %:
tests/integration/money_terms.py), partial refunds, cancels and order edits (units added or taken out, the other
seller's item added: docs/orders-and-refunds.md#edits-and-exchanges) of two sellers, under named commission fees
per line, per shipment and per order (docs/commission.md), payout runs at random later instants under random terms,
payouts marked paid or failed, in random order. After every step, for every seller,

    Σ payouts (pending + paid) + available + held + reserved - carried_negative = Σ ledger payouts

to the minor unit, a payout's amount is the sum of what it pays, and no seller has two live payouts in
one cycle.

The database outlives the examples (hypothesis runs them on one set of fixtures): each example sells
for sellers of its own, and empties the payout tables first (a run's as_of must not go back in time,
and each example starts its runs from now).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
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
from tests.integration.commissions.test_commission_fees import MERCUR, rates
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.money_terms import TERMS as MONEY_TERMS
from tests.integration.money_terms import at_rate, paid_as_asked, paid_so, taxed, taxed_world
from tests.integration.orders.test_refunds_api import cancel, refund
from tests.integration.payouts.test_payouts_api import PAYOUTS, SIMULATED_AHEAD, TERMS, Client, balance, run, sell
from tests.integration.statements.test_discount_funders import ledger

pytestmark = [pytest.mark.long, pytest.mark.slow]  # ~40 s on a 2-core box: in `make test-all` (CI)
D = Decimal


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Runs weeks ahead of now, as a deployment that simulates payout cycles allows (at a commission tax rate:
    tests/integration/money_terms.py)."""
    return at_rate(msgspec.structs.replace(settings, payout_max_ahead_seconds=SIMULATED_AHEAD), request)


steps_drawn = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"), st.integers(0, 1), st.decimals(D("1.00"), D("300.00"), places=2), st.integers(1, 3)
        ),
        st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 3)),
        st.tuples(st.just("cancel"), st.integers(0, 9)),
        st.tuples(st.just("edit"), st.integers(0, 9), st.integers(-2, 2), st.booleans()),
        st.tuples(st.just("run"), st.integers(0, 12)),
        st.tuples(st.just("settle"), st.sampled_from(["paid", "failed"]), st.integers(0, 9)),
    ),
    min_size=3,
    max_size=14,
)
"""(order, seller, price, units) | (refund, order index, units) | (cancel, order index) | (edit, order index,
units added (> 0) or taken out (< 0) of its first product, the other seller's item added too) | (run, days
after the last run) | (settle, paid or failed, payout index): indices wrap around."""
FEES = (
    *MERCUR,  # 5 % sales, payment_fee 4 % of the gross, platform_fee 1.00 per order
    {"component": "pick_fee", "commission_type": "FLAT", "rate": "0.50", "per": "shipment"},
    {"component": "listing_fee", "commission_type": "FLAT", "rate": "0.30", "per": "line"},
)
terms_drawn = st.fixed_dictionaries(
    {
        "cycle": st.sampled_from(["weekly", "monthly"]),
        "hold_days": st.integers(0, 7),
        "reserve_percent": st.sampled_from(["0", "10", "12.5", "100"]),
        "reserve_days": st.integers(0, 20),
        "min_payout": st.sampled_from(["0.00", "25.00"]),
    }
)


async def _fresh_payouts(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "DELETE FROM payout_items; DELETE FROM payouts; DELETE FROM payout_runs; DELETE FROM payout_terms"
    )


async def _named_fees(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    """The named fees' rates, once for all examples (the database outlives them)."""
    if not await pool.fetchval("SELECT count(*) FROM commission_rates WHERE component = 'pick_fee'"):
        await rates(client, admin, *FEES)


async def _edit(client: Client, admin: Caller, order: Any, units: dict[str, int], body: dict[str, Any]) -> bool:
    """Preview and commit an edit of `order` (admin); whether it was made (a cancelled or refunded order
    is not editable: 409), `units` (product → units left) moved with it."""
    url = f"/api/v1/orders/{order['id']}/edits"
    shown = await client.post(url, json=body, headers=admin.headers)
    if shown.status_code == 409:
        assert shown.json()["error"]["code"] == "ORDER_NOT_EDITABLE", shown.text
        return False
    edit_id = expect_ok(shown, 201)["edit_id"]
    headers = {**admin.headers, "Idempotency-Key": f"edit-{uuid.uuid4()}"}
    expect_ok(await client.post(f"{url}/{edit_id}/commit", headers=headers))
    for item in body.get("add", []):
        units[item["product_id"]] = units.get(item["product_id"], 0) + item["quantity"]
    for item in body.get("remove", []):
        units[item["product_id"]] -= item["quantity"]
    return True


async def _check(client: Client, admin: Caller, sellers: list[str], as_of: datetime) -> None:
    """The invariant for each seller at `as_of` (after every entry of its ledger so far)."""
    for seller in sellers:
        entries = [e for e in await ledger(client, admin, seller) if datetime.fromisoformat(e["at"]) <= as_of]
        payouts = expect_ok(
            await client.get(PAYOUTS, params={"seller_id": seller, "limit": 500}, headers=admin.headers)
        )["items"]
        live = [p for p in payouts if p["status"] != "failed"]
        found = await balance(client, admin, seller, as_of)
        paid = sum((D(p["amount"]) for p in live), D(0))
        parts = D(found["available"]) + D(found["held"]) + D(found["reserved"]) - D(found["carried_negative"])
        assert paid + parts == sum((D(e["payout"]) for e in entries), D(0)), (seller, found, live)
        assert min(D(found[k]) for k in ("available", "held", "reserved", "carried_negative")) >= 0
        assert len({p["cycle"] for p in live}) == len(live), "one live payout a cycle"
        assert all(D(p["amount"]) > 0 for p in payouts)


@MONEY_TERMS
@examples(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps_drawn, terms=terms_drawn)
async def test_payouts_and_the_balance_always_add_up_to_the_ledger(
    client: Client,
    admin: Caller,
    shopper: Caller,
    pool: asyncpg.Pool,
    settings: Settings,
    steps: Any,
    terms: dict[str, Any],
) -> None:
    await _fresh_payouts(pool)
    await _named_fees(client, admin, pool)
    if taxed(settings):
        await taxed_world(client, admin, pool, fees=False)
    expect_ok(await client.post(TERMS, json={**terms, "currency": "TRY"}, headers=admin.headers), 201)
    sellers = [f"s-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    extras = [
        await create_product(client, admin, seller_id=seller, base_price="7.00", min_price="0.01", cost_price="0.01",
                             stock=500)
        for seller in sellers
    ]  # fmt: skip
    orders: list[Any] = []
    left: list[dict[str, int]] = []
    made: list[Any] = []
    as_of = utcnow()
    for step in steps:
        if step[0] == "order":
            _, seller, price, units = step
            paying = paid_so(settings, {})
            sold = await sell(client, admin, shopper, sellers[seller], str(price), quantity=units, **paying)
            orders.append(paid_as_asked(settings, sold))
            left.append({orders[-1]["items"][0]["product_id"]: units})
        elif step[0] in ("refund", "cancel", "edit") and orders:
            n = step[1] % len(orders)
            first = orders[n]["items"][0]["product_id"]
            if step[0] == "cancel":
                if (await cancel(client, admin.headers, orders[n]["id"])).status_code == 200:
                    left[n] = dict.fromkeys(left[n], 0)
            elif step[0] == "edit":
                _, _, delta, other = step
                body: dict[str, Any] = {}
                if delta > 0:
                    body["add"] = [{"product_id": first, "quantity": delta}]
                elif take := min(-delta, left[n][first], sum(left[n].values()) - 1):
                    body["remove"] = [{"product_id": first, "quantity": take}]
                if other:
                    seller_of = orders[n]["items"][0]["seller_id"]
                    extra = extras[1 - sellers.index(seller_of)]
                    body.setdefault("add", []).append({"product_id": extra["id"], "quantity": 1})
                if body and sum(left[n].values()):
                    await _edit(client, admin, orders[n], left[n], body)
            else:
                product = next((p for p, units in left[n].items() if units), first)
                if take := min(step[2], left[n][product]):
                    body = {"lines": [{"product_id": product, "quantity": take}]}
                    expect_ok(await refund(client, admin.headers, orders[n]["id"], body), 201)
                    left[n][product] -= take
        elif step[0] == "run":
            as_of = max(as_of + timedelta(days=step[1]), utcnow())
            paid_now = await run(client, admin, as_of)
            for payout in paid_now:
                assert D(payout["amount"]) >= D(terms["min_payout"])
            made += paid_now
            await _check(client, admin, sellers, as_of)
        elif step[0] == "settle" and made:
            payout = made[step[2] % len(made)]
            await client.post(f"{PAYOUTS}/{payout['id']}/{step[1]}", headers=admin.headers)
    await _check(client, admin, sellers, max(as_of, utcnow()))
    # Everything given back (a cancel reverses all, fees included; a partly refunded order is refunded the
    # rest): each seller's ledger nets to 0.00, every named fee charged by orders and edits reversed exactly,
    # and the invariant still holds.
    for order, units in zip(orders, left, strict=True):
        if (await cancel(client, admin.headers, order["id"])).status_code != 200 and any(units.values()):
            rest = [{"product_id": p, "quantity": n} for p, n in units.items() if n]
            body = {"lines": rest, "include_fees": True}
            expect_ok(await refund(client, admin.headers, order["id"], body), 201)
    for seller in sellers:
        entries = await ledger(client, admin, seller)
        fees: dict[str, D] = {}
        for entry in entries:
            for name, amount in entry.get("fees", {}).items():
                fees[name] = fees.get(name, D(0)) + D(amount)
        assert set(fees.values()) <= {D(0)}, (seller, fees, entries)
        assert sum((D(e["commission"]) for e in entries), D(0)) == 0, (seller, entries)
        assert sum((D(e["commission_tax"]) for e in entries), D(0)) == 0, (seller, entries)
        assert sum((D(e["payout"]) for e in entries), D(0)) == 0, (seller, entries)
    await _check(client, admin, sellers, max(as_of, utcnow()))

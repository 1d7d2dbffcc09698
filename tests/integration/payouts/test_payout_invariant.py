"""The invariant of payouts (API.md §32; docs/payouts.md#the-invariant) as a property over the API:
random orders, partial refunds and cancels of two sellers, payout runs at random later instants under
random terms, payouts marked paid or failed, in random order. After every step, for every seller,

    Σ payouts (pending + paid) + available + held + reserved - carried_negative = Σ ledger payouts

to the minor unit, a payout's amount is the sum of what it pays, and no seller has two live payouts in
one cycle.

Order edits (a ledger kind of their own, API.md §30) are not drawn yet: the balance reads every entry
kind the ledger has, so they join this property once the ledger carries them.

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
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from quote_service.clock import utcnow
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.orders.test_refunds_api import cancel, refund
from tests.integration.payouts.test_payouts_api import PAYOUTS, TERMS, Client, balance, run, sell
from tests.integration.statements.test_discount_funders import ledger

pytestmark = pytest.mark.slow
D = Decimal

steps_drawn = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"), st.integers(0, 1), st.decimals(D("1.00"), D("300.00"), places=2), st.integers(1, 3)
        ),
        st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 3)),
        st.tuples(st.just("cancel"), st.integers(0, 9)),
        st.tuples(st.just("run"), st.integers(0, 12)),
        st.tuples(st.just("settle"), st.sampled_from(["paid", "failed"]), st.integers(0, 9)),
    ),
    min_size=3,
    max_size=14,
)
"""(order, seller, price, units) | (refund, order index, units) | (cancel, order index) | (run, days after
the last run) | (settle, paid or failed, payout index): indices wrap around."""
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


@examples(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps_drawn, terms=terms_drawn)
async def test_payouts_and_the_balance_always_add_up_to_the_ledger(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool, steps: Any, terms: dict[str, Any]
) -> None:
    await _fresh_payouts(pool)
    expect_ok(await client.post(TERMS, json={**terms, "currency": "TRY"}, headers=admin.headers), 201)
    sellers = [f"s-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    orders: list[Any] = []
    left: list[int] = []
    made: list[Any] = []
    as_of = utcnow()
    for step in steps:
        if step[0] == "order":
            _, seller, price, units = step
            orders.append(await sell(client, admin, shopper, sellers[seller], str(price), quantity=units))
            left.append(units)
        elif step[0] in ("refund", "cancel") and orders:
            n = step[1] % len(orders)
            if step[0] == "cancel":
                if (await cancel(client, admin.headers, orders[n]["id"])).status_code == 200:
                    left[n] = 0
            elif take := min(step[2], left[n]):
                body = {"lines": [{"product_id": orders[n]["items"][0]["product_id"], "quantity": take}]}
                expect_ok(await refund(client, admin.headers, orders[n]["id"], body), 201)
                left[n] -= take
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

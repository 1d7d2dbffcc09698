"""Sellers paid in their own currency (docs/currencies.md#sellers-paid-in-their-own-currency): a run pays each
currency of the seller's ledger in a payout of its own, converted at the rate in force at its as_of and rounded
half to even once per payout; the ledger is debited exactly the amount in its currency; a currency without a
rate is held with `fx_rate_missing` and stays in the balance until a later run finds one."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.fx.test_fx_rates_api import RATES
from tests.integration.orders.test_order_record import basket
from tests.integration.payouts.test_payouts_api import PAYOUTS, SIMULATED_AHEAD, TERMS, Client, at, set_terms
from tests.integration.statements.test_discount_funders import ordered, statement_url

D = Decimal
PAST = "2026-01-01T00:00:00Z"
MINOR = {"TRY": D("0.01"), "EUR": D("0.01"), "JPY": D("1"), "KWD": D("0.001")}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, payout_max_ahead_seconds=SIMULATED_AHEAD)


async def sell_in(client: Client, admin: Caller, shopper: Caller, seller: str, currency: str, price: str) -> None:
    """One order of one product of `seller` priced (and quoted) in `currency`."""
    product = await create_product(
        client,
        admin,
        seller_id=seller,
        currency=currency,
        base_price=price,
        min_price="0",
        cost_price="0",
        stock=50,
    )
    body = basket(str(shopper.id), (product["id"], 1)) | {"currency": currency}
    await ordered(client, shopper, body)


async def ledger_sums(client: Client, admin: Caller, seller: str) -> dict[str, Decimal]:
    """What the seller's ledger owes it in each currency it sold in (its entries' payouts)."""
    sums: dict[str, Decimal] = {}
    for currency in ("TRY", "EUR", "USD", "JPY", "KWD"):
        url = f"{statement_url(seller)}/entries"
        entries = expect_ok(await client.get(url, params={"currency": currency, "limit": 500}, headers=admin.headers))
        if entries["items"]:
            sums[currency] = sum((D(e["payout"]) for e in entries["items"]), D(0))
    return sums


async def paid_sums(pool: asyncpg.Pool, seller: str) -> dict[str, Decimal]:
    rows = await pool.fetch(
        """SELECT p.currency, sum(i.amount) AS paid FROM payout_items i JOIN payouts p ON p.id = i.payout_id
           WHERE i.seller_id = $1 AND i.paid GROUP BY 1""",
        seller,
    )
    return {row["currency"].strip(): row["paid"] for row in rows}


async def run(client: Client, admin: Caller, as_of: datetime) -> dict[str, Any]:
    made: dict[str, Any] = expect_ok(
        await client.post(f"{PAYOUTS}/run", json={"as_of": at(as_of)}, headers=admin.headers), 201
    )
    return made


async def test_each_ledger_currency_is_paid_converted_and_one_without_a_rate_is_held(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    await set_terms(client, admin, currency="TRY", hold_days=0)
    terms = await set_terms(client, admin, seller_id="s-fx", currency="TRY", payout_currency="eur", hold_days=0)
    assert terms["payout_currency"] == "EUR"
    await sell_in(client, admin, shopper, "s-fx", "TRY", "1000.00")
    await sell_in(client, admin, shopper, "s-fx", "EUR", "20.00")
    await sell_in(client, admin, shopper, "s-fx", "USD", "15.00")
    rate = expect_ok(
        await client.post(
            RATES, json={"base": "TRY", "quote": "EUR", "rate": "0.026789", "valid_from": PAST}, headers=admin.headers
        ),
        201,
    )
    owed = await ledger_sums(client, admin, "s-fx")
    assert set(owed) == {"TRY", "EUR", "USD"}

    made = await run(client, admin, utcnow() + timedelta(minutes=1))
    by_currency = {p["currency"]: p for p in made["payouts"]}
    assert set(by_currency) == {"TRY", "EUR"}
    lira = by_currency["TRY"]
    assert D(lira["amount"]) == owed["TRY"]
    assert (lira["paid_currency"], lira["rate"], lira["rate_id"]) == ("EUR", "0.026789", rate["id"])
    assert D(lira["paid_amount"]) == (owed["TRY"] * D("0.026789")).quantize(D("0.01"), ROUND_HALF_EVEN)
    euro = by_currency["EUR"]
    assert (D(euro["amount"]), D(euro["paid_amount"]), euro["paid_currency"], euro["rate"]) == (
        owed["EUR"],
        owed["EUR"],
        "EUR",
        None,
    )
    [held] = made["currencies_held"]
    assert (held["seller_id"], held["currency"], held["hold_reason"], D(held["amount"])) == (
        "s-fx",
        "USD",
        "fx_rate_missing",
        owed["USD"],
    )
    # The ledger is debited exactly the amounts, each in its own currency; USD stays unpaid.
    assert await paid_sums(pool, "s-fx") == {"TRY": owed["TRY"], "EUR": owed["EUR"]}

    # A rate found later pays the held currency in the same cycle (crossed here: EUR -> USD inverted).
    expect_ok(
        await client.post(
            RATES, json={"base": "EUR", "quote": "USD", "rate": "1.08", "valid_from": PAST}, headers=admin.headers
        ),
        201,
    )
    again = await run(client, admin, utcnow() + timedelta(minutes=2))
    [dollar] = again["payouts"]
    assert (dollar["currency"], dollar["paid_currency"], dollar["rate"], again["currencies_held"]) == (
        "USD",
        "EUR",
        "0.925925925926",
        [],
    )
    assert await paid_sums(pool, "s-fx") == owed


async def test_min_payout_is_in_the_payout_currency_and_bad_terms_are_named(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    for body, field in (
        ({"seller_id": "s-x", "payout_currency": "XYZ"}, "payout_currency"),
        ({"seller_id": "s-x", "currency": "TRY", "payout_currency": "JPY", "min_payout": "10.5"}, "min_payout"),
    ):
        refused = expect_error(await client.post(TERMS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
        assert set(field_errors(refused)) == {field}, refused
    terms = await set_terms(
        client, admin, seller_id="s-min", currency="TRY", payout_currency="JPY", min_payout="500", hold_days=0
    )
    assert (terms["min_payout"], terms["payout_currency"]) == ("500", "JPY")
    await sell_in(client, admin, shopper, "s-min", "TRY", "100.00")
    expect_ok(
        await client.post(
            RATES, json={"base": "TRY", "quote": "JPY", "rate": "4.1", "valid_from": PAST}, headers=admin.headers
        ),
        201,
    )
    assert (await run(client, admin, utcnow() + timedelta(minutes=1)))["payouts"] == []  # under 500 JPY
    expect_ok(await client.post(RATES, json={"base": "TRY", "quote": "JPY", "rate": "9.3"}, headers=admin.headers), 201)
    [paid] = (await run(client, admin, utcnow() + timedelta(minutes=2)))["payouts"]
    assert paid["paid_currency"] == "JPY"
    assert D(paid["paid_amount"]) == (D(paid["amount"]) * D("9.3")).quantize(D(1), ROUND_HALF_EVEN)


rates_drawn = st.decimals(D("0.000001"), D("500"), places=12).filter(lambda r: r > 0)


@pytest.mark.slow
@examples(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(
        st.tuples(st.sampled_from(["TRY", "EUR", "JPY", "KWD"]), st.integers(1, 500_000)), min_size=1, max_size=4
    ),
    rates=st.fixed_dictionaries({c: rates_drawn for c in ("TRY", "JPY", "KWD")}),
    paid_in=st.sampled_from(["TRY", "EUR", "JPY", "KWD"]),
)
@example(  # CI found it: 0.01 EUR at 0.000001 pays 0.00 TRY, so it is not paid and stays in the balance
    prices=[("EUR", 1)], rates={c: D("0.000001") for c in ("TRY", "JPY", "KWD")}, paid_in="TRY"
)
async def test_paid_is_each_amount_times_its_rate_rounded_once_and_the_ledger_holds_per_currency(
    client: Client,
    admin: Caller,
    shopper: Caller,
    pool: asyncpg.Pool,
    prices: list[tuple[str, int]],
    rates: dict[str, Decimal],
    paid_in: str,
) -> None:
    await pool.execute("TRUNCATE payout_items, payouts, payout_runs, payout_terms, fx_rates")
    seller = f"s-{utcnow().timestamp():.6f}"
    await set_terms(client, admin, seller_id=seller, currency=paid_in, payout_currency=paid_in, hold_days=0)
    for currency, minor_units in prices:
        price = D(minor_units) * MINOR[currency]
        await sell_in(client, admin, shopper, seller, currency, str(price))
    for currency, rate in rates.items():  # EUR -> X: every other pair is an inverse or a cross
        body = {"base": "EUR", "quote": currency, "rate": str(rate), "valid_from": PAST}
        expect_ok(await client.post(RATES, json=body, headers=admin.headers), 201)
    owed = await ledger_sums(client, admin, seller)

    made = await run(client, admin, utcnow() + timedelta(minutes=1))
    assert made["currencies_held"] == []
    for payout in made["payouts"]:
        amount, rate = D(payout["amount"]), payout["rate"]
        assert amount == owed[payout["currency"]]
        assert payout["paid_currency"] == paid_in
        expected = amount if rate is None else (amount * D(rate)).quantize(MINOR[paid_in], ROUND_HALF_EVEN)
        assert D(payout["paid_amount"]) == expected
        assert D(payout["paid_amount"]).as_tuple().exponent == MINOR[paid_in].as_tuple().exponent
        assert (rate is None) == (payout["currency"] == paid_in)
    paid = await paid_sums(pool, seller)
    assert paid == {p["currency"]: D(p["amount"]) for p in made["payouts"]}
    for currency, total in owed.items():  # each currency owed is paid, but one that would pay nothing
        if total > 0 and currency not in paid:
            # converted, it rounds below the payout currency's minor unit: it stays in the balance
            # (docs/currencies.md#sellers-paid-in-their-own-currency)
            params = {"base": currency, "quote": paid_in, "at": at(utcnow())}
            rate = D(expect_ok(await client.get(RATES, params=params, headers=admin.headers))["rate"])
            assert (total * rate).quantize(MINOR[paid_in], ROUND_HALF_EVEN) == 0, (currency, total, rate)

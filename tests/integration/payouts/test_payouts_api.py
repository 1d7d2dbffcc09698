"""Seller payouts over HTTP (docs/payouts.md; docs/payouts.md): terms, balances entry by entry, runs once a
cycle, paid and failed payouts, their events, and who may read what."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.orders.test_order_record import basket
from tests.integration.orders.test_refunds_api import refund
from tests.integration.statements.test_discount_funders import ledger, ordered

Client = AsyncTestClient[Litestar]
D = Decimal
TERMS = "/api/v1/payout-terms"
PAYOUTS = "/api/v1/payouts"
DAY = timedelta(days=1)
SIMULATED_AHEAD = 400 * 86_400
"""PAYOUT_MAX_AHEAD_SECONDS of these tests: they run cycles weeks ahead of now, as a staging deployment that
simulates payout cycles does (a run further ahead: test_payout_runs_governed.py)."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, payout_max_ahead_seconds=SIMULATED_AHEAD)


def balance_url(seller: str) -> str:
    return f"/api/v1/sellers/{seller}/balance"


def at(moment: datetime) -> str:
    return moment.isoformat()


async def set_terms(client: Client, admin: Caller, **body: Any) -> dict[str, Any]:
    terms: dict[str, Any] = expect_ok(await client.post(TERMS, json=body, headers=admin.headers), 201)
    return terms


async def balance(client: Client, caller: Caller | dict[str, str], seller: str, as_of: datetime) -> dict[str, Any]:
    headers = caller.headers if isinstance(caller, Caller) else caller
    found: dict[str, Any] = expect_ok(
        await client.get(balance_url(seller), params={"as_of": at(as_of)}, headers=headers)
    )
    return found


async def run(client: Client, admin: Caller, as_of: datetime) -> list[dict[str, Any]]:
    made = expect_ok(await client.post(f"{PAYOUTS}/run", json={"as_of": at(as_of)}, headers=admin.headers), 201)
    payouts: list[dict[str, Any]] = made["payouts"]
    return payouts


async def sell(
    client: Client, admin: Caller, shopper: Caller, seller: str, price: str, quantity: int = 1, **paying: Any
) -> Any:
    """An order of one product of `seller` (paid as `paying` adds to its quote: card_bin, installments): the
    order as placed."""
    product = await create_product(
        client, admin, seller_id=seller, current_price=price, min_price="0.01", cost_price="0.01", stock=50
    )
    _, order = await ordered(client, shopper, {**basket(str(shopper.id), (product["id"], quantity)), **paying})
    return order


def ledger_total(entries: list[dict[str, Any]]) -> Decimal:
    return sum((D(e["payout"]) for e in entries), D(0))


def parts(found: dict[str, Any]) -> Decimal:
    return D(found["available"]) + D(found["held"]) + D(found["reserved"]) - D(found["carried_negative"])


# --- terms ------------------------------------------------------------------------------------


async def test_terms_take_their_defaults_refuse_each_bad_field_and_are_one_per_seller(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    platform = await set_terms(client, admin, currency="TRY")
    assert {k: platform[k] for k in ("seller_id", "cycle", "hold_days", "reserve_percent", "reserve_days")} == {
        "seller_id": None,
        "cycle": "weekly",
        "hold_days": 7,
        "reserve_percent": "0",
        "reserve_days": 30,
    }
    assert (platform["min_payout"], platform["currency"]) == ("0.00", "TRY")
    for field, value in (
        ("cycle", "daily"),
        ("hold_days", 366),
        ("hold_days", -1),
        ("reserve_percent", "100.5"),
        ("reserve_percent", -1),
        ("reserve_days", 400),
        ("min_payout", "-0.01"),
        ("min_payout", "1.001"),
        ("currency", "XXX"),
        ("seller_id", ""),
    ):
        refused = expect_error(
            await client.post(TERMS, json={"seller_id": "s-x", field: value}, headers=admin.headers),
            422,
            "VALIDATION_FAILED",
        )
        assert field in field_errors(refused), (field, value, refused)
    expect_error(await client.post(TERMS, json={"currency": "EUR"}, headers=admin.headers), 409, "DUPLICATE_KEY")
    own = await set_terms(client, admin, seller_id="s-1", cycle="monthly", reserve_percent="12.5", min_payout=50)
    assert (own["reserve_percent"], own["min_payout"], own["currency"]) == ("12.5", "50.00", "TRY")
    listed = expect_ok(await client.get(TERMS, headers=admin.headers))
    assert [t["id"] for t in listed["items"]] == [platform["id"], own["id"]]
    assert [
        t["id"] for t in expect_ok(await client.get(TERMS, params={"platform": "true"}, headers=admin.headers))["items"]
    ] == [platform["id"]]

    changed = expect_ok(
        await client.put(f"{TERMS}/{own['id']}", json={"seller_id": "s-1", "hold_days": 0}, headers=admin.headers)
    )
    assert (changed["hold_days"], changed["cycle"], changed["min_payout"]) == (0, "weekly", "0.00")
    gone = expect_ok(await client.delete(f"{TERMS}/{own['id']}", headers=admin.headers))
    assert gone["id"] == own["id"]
    expect_error(await client.get(f"{TERMS}/{own['id']}", headers=admin.headers), 404, "NOT_FOUND")
    actions = await pool.fetch(
        "SELECT action FROM audit_log WHERE entity_type = 'payout_terms' AND entity_id = $1 ORDER BY id", own["id"]
    )
    assert [r["action"] for r in actions] == ["create", "update", "delete"]
    audited = await pool.fetchval(
        "SELECT after ->> 'min_payout' FROM audit_log WHERE entity_type = 'payout_terms' AND action = 'create'"
        " AND entity_id = $1",
        own["id"],
    )
    assert audited == "50.00", "money in the audit log as the API shows it"


# --- balances ---------------------------------------------------------------------------------


async def test_an_entry_is_held_then_partly_reserved_then_available_and_refunds_count_at_once(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    await set_terms(client, admin, seller_id="s-1", hold_days=7, reserve_percent="10", reserve_days=30, currency="TRY")
    order = await sell(client, admin, shopper, "s-1", "100.00", quantity=2)
    [entry] = await ledger(client, admin, "s-1")
    payout = D(entry["payout"])
    placed = datetime.fromisoformat(entry["at"])
    reserve = (payout * D("0.10")).quantize(D("0.01"), ROUND_HALF_UP)

    now = await balance(client, admin, "s-1", placed)
    assert (now["currency"], D(now["held"]), D(now["available"]), D(now["reserved"])) == ("TRY", payout, 0, 0)
    just_before = await balance(client, admin, "s-1", placed + 7 * DAY - timedelta(microseconds=1))
    assert D(just_before["held"]) == payout
    released = await balance(client, admin, "s-1", placed + 7 * DAY)
    assert (D(released["held"]), D(released["reserved"]), D(released["available"])) == (0, reserve, payout - reserve)
    later = await balance(client, admin, "s-1", placed + 30 * DAY)
    assert (D(later["reserved"]), D(later["available"])) == (0, payout)

    # A refund of one unit counts against what is available at once, even while the order is held.
    body = {"lines": [{"product_id": order["items"][0]["product_id"], "quantity": 1}]}
    expect_ok(await refund(client, admin.headers, order["id"], body), 201)
    entries = await ledger(client, admin, "s-1")
    refunded = -D(entries[1]["payout"])
    held = await balance(client, admin, "s-1", utcnow())
    assert (D(held["held"]), D(held["available"]), D(held["carried_negative"])) == (payout, 0, refunded)
    assert parts(held) == ledger_total(entries)
    next_week = await balance(client, admin, "s-1", placed + 7 * DAY)
    assert (D(next_week["available"]), D(next_week["carried_negative"])) == (payout - reserve - refunded, 0)
    assert next_week["next_payout_at"] > next_week["as_of"]


async def test_without_terms_the_defaults_apply_in_the_currency_the_seller_sold_in(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    await sell(client, admin, shopper, "s-1", "40.00")
    [entry] = await ledger(client, admin, "s-1")
    placed = datetime.fromisoformat(entry["at"])
    found = await balance(client, admin, "s-1", placed + 7 * DAY)
    assert (found["currency"], found["terms_id"], D(found["available"])) == ("TRY", None, D(entry["payout"]))
    nothing = await balance(client, admin, "nobody", placed)
    assert (nothing["available"], nothing["held"], nothing["reserved"], nothing["carried_negative"]) == (
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    )
    for bad in ("tomorrow", "2026-13-01"):
        refused = expect_error(
            await client.get(balance_url("s-1"), params={"as_of": bad}, headers=admin.headers),
            422,
            "VALIDATION_FAILED",
        )
        assert "as_of" in field_errors(refused)


# --- runs -------------------------------------------------------------------------------------


async def test_a_run_pays_once_per_cycle_and_a_later_cycle_pays_what_became_available(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    await set_terms(client, admin, hold_days=7, reserve_percent="10", reserve_days=30, currency="TRY")
    await sell(client, admin, shopper, "s-1", "100.00")
    await sell(client, admin, shopper, "s-2", "30.00")
    entries = {seller: (await ledger(client, admin, seller))[0] for seller in ("s-1", "s-2")}
    placed = max(datetime.fromisoformat(e["at"]) for e in entries.values())

    assert await run(client, admin, placed) == [], "everything is held"
    first_as_of = placed + 8 * DAY
    first = await run(client, admin, first_as_of)
    assert sorted(p["seller_id"] for p in first) == ["s-1", "s-2"]
    for payout in first:
        entry = entries[payout["seller_id"]]
        reserve = (D(entry["payout"]) * D("0.10")).quantize(D("0.01"), ROUND_HALF_UP)
        assert payout["status"] == "pending"
        assert D(payout["amount"]) == D(entry["payout"]) - reserve
        assert payout["entries"] == [entry["id"]]
        assert (payout["period_from"], payout["period_to"]) == (entry["at"], at(first_as_of).replace("+00:00", "Z"))
        assert payout["currency"] == "TRY"
        after = await balance(client, admin, payout["seller_id"], first_as_of)
        assert (D(after["available"]), D(after["reserved"])) == (0, reserve)

    assert await run(client, admin, first_as_of) == [], "the same cycle pays nothing twice"
    assert await run(client, admin, first_as_of + timedelta(hours=1)) == []
    refused = expect_error(
        await client.post(f"{PAYOUTS}/run", json={"as_of": at(placed)}, headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert "as_of" in field_errors(refused)

    reserves = await run(client, admin, placed + 31 * DAY)
    assert sorted(p["seller_id"] for p in reserves) == ["s-1", "s-2"]
    for payout in reserves:
        entry = entries[payout["seller_id"]]
        paid = [p for p in [*first, payout] if p["seller_id"] == payout["seller_id"]]
        assert sum(D(p["amount"]) for p in paid) == D(entry["payout"]), "the reserve, to the minor unit"
    listed = expect_ok(await client.get(PAYOUTS, params={"seller_id": "s-1"}, headers=admin.headers))
    assert [p["id"] for p in listed["items"]] == [p["id"] for p in [*reserves, *first] if p["seller_id"] == "s-1"]


async def test_refunds_beyond_the_available_are_carried_and_taken_from_the_next_payout(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    await set_terms(client, admin, hold_days=0, reserve_percent="0", currency="TRY")
    first = await sell(client, admin, shopper, "s-1", "100.00")
    [paid] = await run(client, admin, utcnow())
    body = {"lines": [{"product_id": first["items"][0]["product_id"], "quantity": 1}]}
    expect_ok(await refund(client, admin.headers, first["id"], body), 201)
    entries = await ledger(client, admin, "s-1")
    carried = await balance(client, admin, "s-1", utcnow())
    assert (D(carried["available"]), D(carried["carried_negative"])) == (0, D(paid["amount"]))
    assert D(paid["amount"]) + parts(carried) == ledger_total(entries)

    await sell(client, admin, shopper, "s-1", "250.00")
    entries = await ledger(client, admin, "s-1")
    next_week = utcnow() + 7 * DAY
    [second] = await run(client, admin, next_week)
    assert D(second["amount"]) == D(entries[2]["payout"]) - D(paid["amount"])
    assert second["entries"] == [entries[1]["id"], entries[2]["id"]]
    assert D(paid["amount"]) + D(second["amount"]) == ledger_total(entries)


async def test_a_seller_below_its_minimum_is_not_paid_until_it_reaches_it(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    await set_terms(client, admin, hold_days=0, min_payout="1000.00", currency="TRY")
    await sell(client, admin, shopper, "s-1", "100.00")
    assert await run(client, admin, utcnow()) == []
    bare = expect_ok(await client.post(f"{PAYOUTS}/run", headers=admin.headers), 201)  # no body: as of now
    assert bare["payouts"] == []
    assert datetime.fromisoformat(bare["as_of"]) >= utcnow() - timedelta(minutes=1)
    assert D((await balance(client, admin, "s-1", utcnow()))["available"]) > 0


async def test_a_failed_payout_gives_its_entries_back_and_a_paid_one_stays_paid(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    await set_terms(client, admin, hold_days=0, currency="TRY")
    await sell(client, admin, shopper, "s-1", "80.00")
    as_of = utcnow()
    [payout] = await run(client, admin, as_of)
    url = f"{PAYOUTS}/{payout['id']}"
    failed = expect_ok(await client.post(f"{url}/failed", json={"reason": "IBAN closed"}, headers=admin.headers))
    assert (failed["status"], failed["failure_reason"]) == ("failed", "IBAN closed")
    assert D((await balance(client, admin, "s-1", as_of))["available"]) == D(payout["amount"])
    expect_error(await client.post(f"{url}/paid", headers=admin.headers), 409, "PAYOUT_NOT_PENDING")

    [again] = await run(client, admin, as_of)  # the same cycle: the failed one does not count
    assert (again["amount"], again["entries"]) == (payout["amount"], payout["entries"])
    done = expect_ok(
        await client.post(f"{PAYOUTS}/{again['id']}/paid", json={"reference": "TR-1"}, headers=admin.headers)
    )
    assert (done["status"], done["reference"]) == ("paid", "TR-1")
    repeated = expect_ok(await client.post(f"{PAYOUTS}/{again['id']}/paid", headers=admin.headers))
    assert repeated == done, "marked paid again: nothing changes"
    expect_error(await client.post(f"{PAYOUTS}/{again['id']}/failed", headers=admin.headers), 409, "PAYOUT_NOT_PENDING")
    assert D((await balance(client, admin, "s-1", as_of))["available"]) == 0
    statuses = expect_ok(await client.get(PAYOUTS, params={"status": "paid"}, headers=admin.headers))["items"]
    assert [p["id"] for p in statuses] == [again["id"]]
    expect_error(await client.post(f"{PAYOUTS}/{uuid.uuid4()}/paid", headers=admin.headers), 404, "NOT_FOUND")
    actions = await pool.fetch("SELECT action FROM audit_log WHERE entity_type = 'payout' ORDER BY id")
    assert [r["action"] for r in actions] == ["create", "update", "create", "update"]


async def test_every_payout_event_is_written_with_the_payout(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    expect_ok(
        await client.post(
            "/api/v1/webhooks", json={"url": "https://erp.example/hooks", "events": ["*"]}, headers=admin.headers
        ),
        201,
    )
    await set_terms(client, admin, hold_days=0, currency="TRY")
    await sell(client, admin, shopper, "s-1", "20.00")
    await sell(client, admin, shopper, "s-2", "30.00")
    made = await run(client, admin, utcnow())
    by_seller = {p["seller_id"]: p for p in made}
    expect_ok(await client.post(f"{PAYOUTS}/{by_seller['s-1']['id']}/paid", headers=admin.headers))
    expect_ok(await client.post(f"{PAYOUTS}/{by_seller['s-2']['id']}/failed", headers=admin.headers))
    rows = await pool.fetch(
        "SELECT type, body::jsonb -> 'data' AS data FROM webhook_events WHERE type LIKE 'payout.%' ORDER BY id"
    )
    seen = [(r["type"], r["data"]["payout"]["id"], r["data"]["payout"]["status"]) for r in rows]
    assert sorted(seen[:2]) == sorted(("payout.created", p["id"], "pending") for p in made)
    assert seen[2:] == [
        ("payout.paid", by_seller["s-1"]["id"], "paid"),
        ("payout.failed", by_seller["s-2"]["id"], "failed"),
    ]
    assert all(r["data"]["sequence"] > 0 for r in rows)


# --- who may read what ------------------------------------------------------------------------


async def test_a_seller_reads_its_own_balance_and_payouts_and_nobody_elses(
    client: Client,
    admin: Caller,
    shopper: Caller,
    settings: Settings,
    password_hash: str,
    service_key: dict[str, str],
) -> None:
    seller = await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="s-1")
    await set_terms(client, admin, hold_days=0, currency="TRY")
    await sell(client, admin, shopper, "s-1", "20.00")
    await sell(client, admin, shopper, "s-2", "30.00")
    made = {p["seller_id"]: p for p in await run(client, admin, utcnow())}

    assert D((await balance(client, seller, "s-1", utcnow()))["available"]) == 0
    expect_error(await client.get(balance_url("s-2"), headers=seller.headers), 404, "NOT_FOUND")
    own = expect_ok(await client.get(PAYOUTS, headers=seller.headers))["items"]
    assert [p["id"] for p in own] == [made["s-1"]["id"]]
    expect_error(await client.get(PAYOUTS, params={"seller_id": "s-2"}, headers=seller.headers), 404, "NOT_FOUND")
    expect_ok(await client.get(f"{PAYOUTS}/{made['s-1']['id']}", headers=seller.headers))
    expect_error(await client.get(f"{PAYOUTS}/{made['s-2']['id']}", headers=seller.headers), 404, "NOT_FOUND")
    for method, path in (
        ("POST", f"{PAYOUTS}/run"),
        ("POST", f"{PAYOUTS}/{made['s-1']['id']}/paid"),
        ("GET", TERMS),
        ("POST", TERMS),
    ):
        expect_error(await client.request(method, path, json={}, headers=seller.headers), 403, "FORBIDDEN")
        expect_error(await client.request(method, path, json={}, headers=shopper.headers), 403, "FORBIDDEN")
    # A service key (a finance system) reads any seller's balance and payouts, and pays none.
    assert (await balance(client, service_key, "s-2", utcnow()))["currency"] == "TRY"
    assert len(expect_ok(await client.get(PAYOUTS, headers=service_key))["items"]) == 2
    expect_error(await client.post(f"{PAYOUTS}/run", json={}, headers=service_key), 403, "FORBIDDEN")
    expect_error(await client.get(balance_url("s-1"), headers=shopper.headers), 403, "FORBIDDEN")


async def test_the_list_names_bad_filters(client: Client, admin: Caller) -> None:
    for params, field in (
        ({"status": "lost"}, "status"),
        ({"from": "soon"}, "from"),
        ({"sellr": "x"}, "sellr"),
        ({"cursor": "nope"}, "cursor"),
    ):
        refused = expect_error(
            await client.get(PAYOUTS, params=params, headers=admin.headers), 422, "VALIDATION_FAILED"
        )
        assert field in field_errors(refused), params
    refused = expect_error(
        await client.post(f"{PAYOUTS}/run", json={"as_of": "2026-01-01T00:00:00"}, headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert "as_of" in field_errors(refused)


@pytest.mark.parametrize("cycle", ["weekly", "monthly"])
async def test_the_cycle_is_the_iso_week_or_the_month_of_as_of(
    client: Client, admin: Caller, shopper: Caller, cycle: str
) -> None:
    await set_terms(client, admin, hold_days=0, cycle=cycle, currency="TRY")
    await sell(client, admin, shopper, "s-1", "20.00")
    as_of = utcnow()
    [payout] = await run(client, admin, as_of)
    iso = as_of.isocalendar()
    assert payout["cycle"] == (f"{iso.year}-W{iso.week:02d}" if cycle == "weekly" else f"{as_of:%Y-%m}")

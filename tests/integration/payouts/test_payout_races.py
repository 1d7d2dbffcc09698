"""Payout runs racing each other (docs/payouts.md: each seller paid at most once per cycle, under any
concurrency), on concurrent asyncpg connections of the service layer: the in-process client answers
one request at a time and could not race (docs/development.md#tests).

Seen failing with the seller lock removed (`repository.lock_seller`): the racing runs then both find
the seller unpaid in the cycle and the second one's insert breaks the unique index (an error, a run
lost); with the index gone too, a seller is paid twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.pool import Pool, create_pool
from quote_service.payouts import service
from tests.integration.conftest import Caller
from tests.integration.payouts.test_payouts_api import Client, balance, sell, set_terms
from tests.integration.servers import RaceServer
from tests.integration.statements.test_discount_funders import ledger

D = Decimal
SELLERS = [f"s-{n}" for n in range(4)]
RUNS = 8
AHEAD = timedelta(days=15)
"""How far ahead these runs may be (PAYOUT_MAX_AHEAD_SECONDS of a deployment that simulates cycles)."""


@pytest.fixture
async def racing_pool(settings: Settings) -> AsyncIterator[Pool]:
    """A pool with a connection for every racing run (the service's own timeouts)."""
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, min_size=RUNS, max_size=RUNS)
    yield pool
    await pool.close()


async def _seed(client: Client, admin: Caller, shopper: Caller) -> None:
    await set_terms(client, admin, hold_days=0, reserve_percent="10", reserve_days=10, currency="TRY")
    for n, seller in enumerate(SELLERS):
        await sell(client, admin, shopper, seller, f"{40 + n}.00", quantity=2)


async def _race(pool: Pool, as_ofs: list[object]) -> list[object]:
    runs = [
        service.run(pool, as_of=as_of, actor="race", default_currency="TRY", now=utcnow(), max_ahead=AHEAD)  # type: ignore[arg-type]
        for as_of in as_ofs
    ]
    return list(await asyncio.gather(*runs, return_exceptions=True))


async def _live(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT seller_id, cycle, amount FROM payouts WHERE status <> 'failed' ORDER BY seller_id")


async def test_runs_of_one_cycle_at_once_pay_each_seller_once(
    client: Client, admin: Caller, shopper: Caller, racing_pool: Pool, pool: asyncpg.Pool
) -> None:
    await _seed(client, admin, shopper)
    as_of = utcnow()
    results = await _race(racing_pool, [as_of] * RUNS)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == [], failures
    made = [p for r in results for p in r.payouts]  # type: ignore[attr-defined]
    assert sorted(p.seller_id for p in made) == SELLERS, "one payout per seller across every run"
    assert [r["seller_id"] for r in await _live(pool)] == SELLERS
    for seller in SELLERS:
        found = await balance(client, admin, seller, as_of)
        assert D(found["available"]) == 0


async def test_runs_of_two_cycles_at_once_never_pay_an_entry_twice(
    client: Client, admin: Caller, shopper: Caller, racing_pool: Pool, pool: asyncpg.Pool
) -> None:
    await _seed(client, admin, shopper)
    now = utcnow()
    week, later = now, now + timedelta(days=14)  # the reserve is over by then: its share is due too
    results = await _race(racing_pool, [week, later] * (RUNS // 2))
    for result in results:  # an earlier as_of recorded after a later one is refused, nothing else
        assert not isinstance(result, BaseException) or "as_of" in str(result), result
    live = await _live(pool)
    assert len({(r["seller_id"], r["cycle"]) for r in live}) == len(live)
    for seller in SELLERS:
        entries = await ledger(client, admin, seller)
        paid = sum((D(r["amount"]) for r in live if r["seller_id"] == seller), D(0))
        found = await balance(client, admin, seller, later)
        parts = D(found["available"]) + D(found["held"]) + D(found["reserved"]) - D(found["carried_negative"])
        assert paid + parts == sum((D(e["payout"]) for e in entries), D(0)), seller
        assert paid > 0
    doubled = await pool.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM payout_items WHERE paid GROUP BY seller_id, entry_id, share"
        " HAVING count(*) > 1) AS twice"
    )
    assert doubled == 0


@pytest.mark.slow
async def test_runs_posted_at_once_to_a_served_process_pay_each_seller_once(
    client: Client, admin: Caller, shopper: Caller, server: RaceServer, pool: asyncpg.Pool
) -> None:
    await _seed(client, admin, shopper)
    body = {"as_of": utcnow().isoformat()}
    answers = await server.race(
        RUNS, lambda http, _: http.post("/api/v1/payouts/run", json=body, headers=admin.headers)
    )
    assert [a.status_code for a in answers] == [201] * RUNS, [a.text for a in answers if a.status_code != 201]
    made = sorted(p["seller_id"] for a in answers for p in a.json()["data"]["payouts"])
    assert made == SELLERS
    assert [r["seller_id"] for r in await _live(pool)] == SELLERS

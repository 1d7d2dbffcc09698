"""How far ahead a payout run may be, and a run as a governed action (docs/payouts.md#how-far-ahead,
docs/payouts.md#runs-that-wait-for-approval): an `as_of` later than now + PAYOUT_MAX_AHEAD_SECONDS is a 422
naming it that records nothing, so no run far ahead pays every hold at once and refuses every later run; and
where approval applies (CHANGE_APPROVAL=required, or an approval policy for `payout`) a run is a change
request that another person's approval applies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.payouts import service
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.payouts.test_payouts_api import DAY, PAYOUTS, Client, balance, sell, set_terms

RUN = f"{PAYOUTS}/run"
CHANGES = "/api/v1/change-requests"


@pytest.fixture
async def reviewer(settings: Settings, password_hash: str) -> Caller:
    """Another admin, made on the command line: another person than `admin` in approvals."""
    return await make_caller(settings, password_hash, "reviewer", "admin")


@pytest.fixture
async def four_eyes(settings: Settings) -> AsyncIterator[Client]:
    """The service with CHANGE_APPROVAL=required, on the same stores."""
    app = create_app(msgspec.structs.replace(settings, change_approval="required"))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def counts(pool: asyncpg.Pool) -> tuple[int, int]:
    """(runs recorded, payouts made)."""
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM payout_runs) AS runs, (SELECT count(*) FROM payouts) AS made"
    )
    assert row is not None
    return row["runs"], row["made"]


def refused_as_of(response: Any) -> str:
    body = expect_error(response, 422, "VALIDATION_FAILED")
    assert set(field_errors(body)) == {"as_of"}, body
    message: str = body["message"]
    return message


async def test_a_run_far_ahead_is_refused_and_records_nothing(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    await set_terms(client, admin, hold_days=7, reserve_percent="10", currency="TRY")
    await sell(client, admin, shopper, "s-1", "100.00")

    message = refused_as_of(await client.post(RUN, json={"as_of": "9999-12-31T23:59:59Z"}, headers=admin.headers))
    assert "PAYOUT_MAX_AHEAD_SECONDS (300 s)" in message, message
    just_past = (utcnow() + timedelta(seconds=330)).isoformat()
    refused_as_of(await client.post(RUN, json={"as_of": just_past}, headers=admin.headers))
    assert await counts(pool) == (0, 0), "nothing recorded, nothing paid"
    held = await balance(client, admin, "s-1", utcnow())
    assert (held["available"], held["held"]) == ("0.00", "103.00")

    # Runs go on as before: now, and up to 300 s ahead.
    assert expect_ok(await client.post(RUN, json={}, headers=admin.headers), 201)["payouts"] == []
    soon = (utcnow() + timedelta(seconds=240)).isoformat()
    assert expect_ok(await client.post(RUN, json={"as_of": soon}, headers=admin.headers), 201)["payouts"] == []
    assert await counts(pool) == (2, 0)


async def test_payout_max_ahead_seconds_widens_how_far_ahead_a_run_may_be(
    settings: Settings, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    app = create_app(msgspec.structs.replace(settings, payout_max_ahead_seconds=10 * 86_400))
    async with AsyncTestClient(app=app) as staging:
        await set_terms(staging, admin, hold_days=7, currency="TRY")
        await sell(staging, admin, shopper, "s-1", "100.00")
        refused_as_of(await staging.post(RUN, json={"as_of": (utcnow() + 11 * DAY).isoformat()}, headers=admin.headers))
        made = expect_ok(
            await staging.post(RUN, json={"as_of": (utcnow() + 8 * DAY).isoformat()}, headers=admin.headers), 201
        )
    assert [(p["seller_id"], p["amount"]) for p in made["payouts"]] == [("s-1", "103.00")]


async def test_a_run_under_change_approval_waits_for_another_admin(
    client: Client, four_eyes: Client, admin: Caller, reviewer: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    await set_terms(client, admin, hold_days=0, currency="TRY")
    await sell(client, admin, shopper, "s-1", "100.00")

    asked = expect_ok(await four_eyes.post(RUN, json={}, headers=admin.headers), 202)
    assert asked["status"] == "pending"
    assert await counts(pool) == (0, 0), "nothing runs before it is approved"
    request = expect_ok(await four_eyes.get(f"{CHANGES}/{asked['change_request_id']}", headers=reviewer.headers))
    assert (request["entity_type"], request["action"], request["path"]) == ("payout", "create", RUN)
    assert set(request["body"]) == {"as_of"}, "the as_of is fixed when the run is asked for"
    expect_error(
        await four_eyes.post(f"{CHANGES}/{asked['change_request_id']}/approve", headers=admin.headers),
        403,
        "SELF_APPROVAL",
    )
    # Refused at once, as a direct run would be: no change request for an as_of far ahead.
    refused_as_of(await four_eyes.post(RUN, json={"as_of": "9999-12-31T23:59:59Z"}, headers=admin.headers))

    applied = expect_ok(
        await four_eyes.post(f"{CHANGES}/{asked['change_request_id']}/approve", headers=reviewer.headers)
    )
    assert applied["status"] == "applied"
    [payout] = applied["result"]["data"]["payouts"]
    assert (payout["seller_id"], payout["amount"], payout["period_to"]) == (
        "s-1",
        "103.00",
        request["body"]["as_of"].replace("+00:00", "Z"),
    )
    assert await counts(pool) == (1, 1)
    assert await pool.fetchval("SELECT count(*) FROM change_requests WHERE entity_type = 'payout'") == 1


async def test_an_approval_policy_for_payouts_governs_runs_and_a_run_since_conflicts(
    client: Client, admin: Caller, reviewer: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    await set_terms(client, admin, hold_days=0, currency="TRY")
    await sell(client, admin, shopper, "s-1", "100.00")
    policy = expect_ok(
        await client.post(
            "/api/v1/approval-policies", json={"entity_type": "payout", "approvals": 1}, headers=admin.headers
        ),
        202,
    )
    expect_ok(await client.post(f"{CHANGES}/{policy['change_request_id']}/approve", headers=reviewer.headers))

    asked = expect_ok(await client.post(RUN, json={}, headers=admin.headers), 202)
    # Meanwhile the operator's command line runs (it is direct), later than the request's as_of.
    await service.run(
        pool, as_of=utcnow(), actor="operator", default_currency="TRY", now=utcnow(), max_ahead=timedelta(0)
    )
    assert await counts(pool) == (1, 1)
    conflict = expect_error(
        await client.post(f"{CHANGES}/{asked['change_request_id']}/approve", headers=reviewer.headers),
        409,
        "CHANGE_CONFLICT",
    )
    assert set(field_errors(conflict)) == {"as_of"}, conflict
    assert await counts(pool) == (1, 1), "the conflicted run recorded nothing"

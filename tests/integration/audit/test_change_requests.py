"""Change requests (docs/governance.md): CHANGE_APPROVAL=required makes admin writes wait for a
second admin; applying is the direct write, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.audit.requests import CHANGES, RATE, RATES, Client, requested
from tests.integration.audit.requests import approve as approve_with
from tests.integration.conftest import PASSWORD, Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.pages.test_pages import login_form
from tests.integration.servers import race_server
from tests.waiting import until


@pytest.fixture
async def four_eyes(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(msgspec.structs.replace(settings, change_approval="required", change_apply_interval=0.2))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def approve(client: Client, change_id: str, who: Caller, **body: Any) -> httpx.Response:
    return await approve_with(client, change_id, who.headers, **body)


async def made_rate(client: Client, admin: Caller, reviewer: Caller) -> dict[str, Any]:
    change_id = await requested(await client.post(RATES, json=RATE, headers=admin.headers))
    applied = expect_ok(await approve(client, change_id, reviewer))
    assert applied["status"] == "applied"
    rate: dict[str, Any] = applied["result"]["data"]
    return rate


async def test_off_by_default_writes_apply_at_once(client: Client, admin: Caller) -> None:
    expect_ok(await client.post(RATES, json=RATE, headers=admin.headers), 201)


async def test_a_write_waits_for_another_admin(
    four_eyes: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    change_id = await requested(await four_eyes.post(RATES, json=RATE, headers=admin.headers))
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0

    listed = expect_ok(await four_eyes.get(CHANGES, params={"status": "pending"}, headers=admin.headers))["items"]
    assert [(c["id"], c["action"], c["entity_type"]) for c in listed] == [(change_id, "create", "commission_rate")]
    assert listed[0]["before"] is None
    assert listed[0]["after"]["rate"] == "12.5"

    body = expect_error(await approve(four_eyes, change_id, admin), 403, "SELF_APPROVAL")
    assert body["message"]
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0

    applied = expect_ok(await approve(four_eyes, change_id, reviewer))
    assert applied["status"] == "applied"
    assert applied["approver"]["name"] == "reviewer"
    rate_id = applied["result"]["data"]["id"]
    assert await pool.fetchval("SELECT rate FROM commission_rates WHERE id = $1::uuid", rate_id) == 12.5
    # Applied by the same code as a direct write: the same audit row, and every worker sees it.
    actions = [
        (r["entity_type"], r["action"])
        for r in expect_ok(await four_eyes.get("/api/v1/audit", headers=admin.headers))["items"]
    ]
    assert actions == [
        ("change_request", "apply"),
        ("commission_rate", "create"),
        ("change_request", "approve"),
        ("change_request", "create"),
    ]
    expect_error(await approve(four_eyes, change_id, reviewer), 409, "CHANGE_NOT_PENDING")


async def test_update_diff_and_conflict_when_the_entity_changed(
    four_eyes: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    rate = await made_rate(four_eyes, admin, reviewer)
    first = await requested(await four_eyes.patch(f"{RATES}/{rate['id']}", json={"rate": "13"}, headers=admin.headers))
    second = await requested(await four_eyes.patch(f"{RATES}/{rate['id']}", json={"rate": "14"}, headers=admin.headers))
    shown = expect_ok(await four_eyes.get(f"{CHANGES}/{first}", headers=reviewer.headers))
    assert float(shown["before"]["rate"]) == 12.5
    assert shown["after"] == {"rate": "13"}

    expect_ok(await approve(four_eyes, first, reviewer))
    body = expect_error(await approve(four_eyes, second, reviewer), 409, "CHANGE_CONFLICT")
    assert "changed" in body["message"]
    assert expect_ok(await four_eyes.get(f"{CHANGES}/{second}", headers=admin.headers))["status"] == "conflicted"
    assert await pool.fetchval("SELECT rate FROM commission_rates WHERE id = $1::uuid", rate["id"]) == 13


async def test_an_invalid_write_is_refused_when_applied(
    four_eyes: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    change_id = await requested(await four_eyes.post(RATES, json={**RATE, "rate": "150"}, headers=admin.headers))
    body = expect_error(await approve(four_eyes, change_id, reviewer), 409, "CHANGE_CONFLICT")
    assert "rate" in field_errors(body)
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0


async def test_reject(four_eyes: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool) -> None:
    change_id = await requested(await four_eyes.post(RATES, json=RATE, headers=admin.headers))
    rejected = expect_ok(await four_eyes.post(f"{CHANGES}/{change_id}/reject", headers=reviewer.headers))
    assert rejected["status"] == "rejected"
    expect_error(await approve(four_eyes, change_id, reviewer), 409, "CHANGE_NOT_PENDING")
    expect_error(await approve(four_eyes, "00000000-0000-0000-0000-000000000000", reviewer), 404, "NOT_FOUND")
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0


async def test_approved_for_later_applies_at_apply_at(
    four_eyes: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    change_id = await requested(await four_eyes.post(RATES, json=RATE, headers=admin.headers))
    at = utcnow() + timedelta(seconds=1)
    approved = expect_ok(await approve(four_eyes, change_id, reviewer, apply_at=at.isoformat()))
    assert approved["status"] == "approved"
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0

    async def applied() -> dict[str, Any] | None:
        shown: dict[str, Any] = expect_ok(await four_eyes.get(f"{CHANGES}/{change_id}", headers=admin.headers))
        return shown if shown["status"] == "applied" else None

    shown = await until(applied, "the scheduled change is applied", within=10)
    assert shown["status"] == "applied"
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 1
    expect_error(
        await approve(four_eyes, change_id, reviewer, apply_at="2030-01-01T00:00:00"), 422, "VALIDATION_FAILED"
    )


async def test_two_approvals_racing_apply_once(
    settings: Settings, password_hash: str, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    other = await make_caller(settings, password_hash, "other-reviewer", "admin")
    with race_server(settings, CHANGE_APPROVAL="required") as server:
        async with server.client("setup") as http:
            change_id = await requested(await http.post(RATES, json=RATE, headers=admin.headers))
        approvers = [reviewer, other] * 3
        responses = await server.race(
            len(approvers),
            lambda http, n: http.post(f"{CHANGES}/{change_id}/approve", headers=approvers[n].headers),
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (len(approvers) - 1), [r.text for r in responses]
    won = next(r.json()["data"] for r in responses if r.status_code == 200)
    assert won["status"] == "applied", won
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 1
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'apply'") == 1


async def test_approving_from_a_page_session_applies(four_eyes: Client, admin: Caller, reviewer: Caller) -> None:
    """The governance page approves with the session cookie (no Authorization header): the
    replayed write runs as the approver all the same, rather than as nobody (a 401 conflict)."""
    change_id = await requested(await four_eyes.post(RATES, json=RATE, headers=admin.headers))
    csrf = await login_form(four_eyes, "dashboard/governance")
    form = {"username": reviewer.username, "password": PASSWORD, "csrf": csrf, "page": "governance"}
    response = await four_eyes.post("/pages/login", data=form, follow_redirects=False)
    assert response.headers["location"] == "/dashboard/governance"
    csrf = four_eyes.cookies["qs_csrf"]
    applied = expect_ok(await four_eyes.post(f"{CHANGES}/{change_id}/approve", headers={"X-CSRF-Token": csrf}))
    assert applied["status"] == "applied"
    assert applied["result"]["data"]["rate"] is not None

"""Approval policies (docs/governance.md#approval-policies): N distinct approvers per entity type,
the policy itself a change request, with CHANGE_APPROVAL off (a policy alone governs its type)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.integration.audit.requests import CHANGES, RATE, RATES, Client, approve, requested
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors

POLICIES = "/api/v1/approval-policies"


async def policy_set(client: Client, author: Caller, approver: Caller, entity_type: str, approvals: int) -> None:
    body = {"entity_type": entity_type, "approvals": approvals}
    change_id = await requested(await client.post(POLICIES, json=body, headers=author.headers))
    applied = expect_ok(await approve(client, change_id, approver.headers))
    assert applied["status"] == "applied"
    assert applied["result"]["data"]["approvals"] == approvals


async def test_a_policy_is_a_change_request_and_then_a_change_needs_that_many_distinct_people(
    client: Client, admin: Caller, reviewer: Caller, auditor: Caller, pool: asyncpg.Pool
) -> None:
    body = {"entity_type": "commission_rate", "approvals": 2}
    change_id = await requested(await client.post(POLICIES, json=body, headers=admin.headers))
    assert expect_ok(await client.get(POLICIES, headers=admin.headers))["items"] == [], "not before it is approved"
    expect_error(await approve(client, change_id, admin.headers), 403, "SELF_APPROVAL")
    applied = expect_ok(await approve(client, change_id, reviewer.headers))
    assert (applied["status"], applied["approvals_required"], len(applied["approvals"])) == ("applied", 1, 1)
    [policy] = expect_ok(await client.get(POLICIES, headers=admin.headers))["items"]
    assert (policy["entity_type"], policy["approvals"]) == ("commission_rate", 2)
    assert expect_ok(await client.get(f"{POLICIES}/commission_rate", headers=admin.headers)) == policy

    # CHANGE_APPROVAL is off: the policy alone makes a rate's write a change request needing two.
    rate_change = await requested(await client.post(RATES, json=RATE, headers=admin.headers))
    first = expect_ok(await approve(client, rate_change, reviewer.headers))
    assert (first["status"], first["approvals_required"]) == ("pending", 2)
    assert [a["name"] for a in first["approvals"]] == ["reviewer"]
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0
    expect_error(await approve(client, rate_change, reviewer.headers), 403, "DUPLICATE_APPROVAL")
    expect_error(await approve(client, rate_change, admin.headers), 403, "SELF_APPROVAL")
    # An admin key is a change request too now that a policy applies; once another person approves it,
    # it acts for its maker.
    key = expect_ok(
        await client.post("/api/v1/api-keys", json={"name": "ci", "role": "admin"}, headers=reviewer.headers), 202
    )
    expect_ok(await approve(client, key["change_request_id"], auditor.headers))
    expect_error(await approve(client, rate_change, {"X-API-Key": key["key"]}), 403, "DUPLICATE_APPROVAL")
    second = expect_ok(await approve(client, rate_change, auditor.headers))
    assert second["status"] == "applied"
    assert [a["name"] for a in second["approvals"]] == ["reviewer", "auditor"]
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 1

    trail = expect_ok(
        await client.get("/api/v1/audit", params={"entity_id": rate_change, "action": "approve"}, headers=admin.headers)
    )["items"]
    assert [(r["actor"]["name"], r["after"]["status"]) for r in reversed(trail)] == [
        ("reviewer", "pending"),
        ("auditor", "approved"),
    ]
    # A type without a policy is written at once, as before.
    expect_ok(
        await client.post(
            "/api/v1/coupons",
            json={"code": "FREE1", "type": "PERCENTAGE", "value": "5", "valid_from": "2024-01-01T00:00:00Z"},
            headers=admin.headers,
        ),
        201,
    )


async def test_removing_a_policy_is_a_change_request_too_and_a_raised_policy_raises_a_waiting_request(
    client: Client, admin: Caller, reviewer: Caller, auditor: Caller, pool: asyncpg.Pool
) -> None:
    await policy_set(client, admin, reviewer, "commission_rate", 1)
    waiting = await requested(await client.post(RATES, json=RATE, headers=admin.headers))
    await policy_set(client, auditor, reviewer, "commission_rates", 3)  # raised while the rate waits (a route's name)
    assert expect_ok(await approve(client, waiting, reviewer.headers))["status"] == "pending"
    found = expect_ok(await client.get(f"{CHANGES}/{waiting}", headers=admin.headers))
    assert found["approvals_required"] == 3

    assert expect_ok(await client.get(f"{POLICIES}/commission_rates", headers=admin.headers))["approvals"] == 3
    removal = await requested(await client.delete(f"{POLICIES}/commission-rates", headers=admin.headers))
    assert expect_ok(await approve(client, removal, reviewer.headers))["status"] == "applied"
    assert expect_ok(await client.get(POLICIES, headers=admin.headers))["items"] == []
    expect_error(await client.get(f"{POLICIES}/commission_rate", headers=admin.headers), 404, "NOT_FOUND")
    expect_ok(await client.post(RATES, json={**RATE, "category_id": "toys"}, headers=admin.headers), 201)
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"entity_type": "commission_rate", "approvals": 0}, "approvals"),
        ({"entity_type": "commission_rate", "approvals": 6}, "approvals"),
        ({"entity_type": "commission_rate", "approvals": "2"}, "approvals"),
        ({"entity_type": "webhook", "approvals": 2}, "entity_type"),
        ({"approvals": 2}, "entity_type"),
        ({"entity_type": "coupon", "approvals": 2, "environment": "prod"}, "environment"),
    ],
)
async def test_a_policy_that_cannot_be_is_refused_naming_the_field_and_nothing_is_asked(
    client: Client, admin: Caller, pool: asyncpg.Pool, body: dict[str, Any], field: str
) -> None:
    refused = expect_error(await client.post(POLICIES, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    assert field in field_errors(refused)
    assert await pool.fetchval("SELECT count(*) FROM change_requests") == 0
    expect_error(await client.delete(f"{POLICIES}/coupon", headers=admin.headers), 404, "NOT_FOUND")

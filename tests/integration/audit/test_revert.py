"""Revert (docs/governance.md#revert): one step writes an audit entry's `before` back; 409 when the
entity changed since; a change request where approval is needed."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.integration.audit.requests import RATE, RATES, Client, approve, requested
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flags.test_feature_flags_api import FLAGS, create_flag
from tests.integration.rules.test_pricing_rules_api import RULES, put_body, rule_body

AUDIT = "/api/v1/audit"


async def entries(client: Client, admin: Caller, entity_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = expect_ok(
        await client.get(AUDIT, params={"entity_id": entity_id}, headers=admin.headers)
    )["items"]
    return items


async def revert(client: Client, admin: Caller, entry_id: int) -> Any:
    return await client.post(f"{AUDIT}/{entry_id}/revert", headers=admin.headers)


async def test_reverting_an_update_writes_its_before_back_and_is_audited_like_any_write(
    client: Client, admin: Caller
) -> None:
    rate = expect_ok(await client.post(RATES, json=RATE, headers=admin.headers), 201)
    expect_ok(await client.patch(f"{RATES}/{rate['id']}", json={"rate": "20"}, headers=admin.headers))
    [update, _create] = await entries(client, admin, rate["id"])
    assert (update["action"], update["before"]["rate"], update["after"]["rate"]) == ("update", "12.5", "20")

    reverted = expect_ok(await revert(client, admin, update["id"]))
    assert (reverted["entry_id"], reverted["entity_type"], reverted["entity_id"]) == (
        update["id"],
        "commission_rate",
        rate["id"],
    )
    assert reverted["entity"]["rate"] == "12.5"
    assert expect_ok(await client.get(f"{RATES}/{rate['id']}", headers=admin.headers))["rate"] == "12.5"
    newest = (await entries(client, admin, rate["id"]))[0]
    assert (newest["action"], newest["before"]["rate"], newest["after"]["rate"]) == ("update", "20", "12.5")

    # The revert is itself an entry: reverting it redoes the change.
    expect_ok(await revert(client, admin, newest["id"]))
    assert expect_ok(await client.get(f"{RATES}/{rate['id']}", headers=admin.headers))["rate"] == "20"


async def test_an_entity_changed_since_the_entry_is_409_and_nothing_moves(client: Client, admin: Caller) -> None:
    rate = expect_ok(await client.post(RATES, json=RATE, headers=admin.headers), 201)
    expect_ok(await client.patch(f"{RATES}/{rate['id']}", json={"rate": "20"}, headers=admin.headers))
    expect_ok(await client.patch(f"{RATES}/{rate['id']}", json={"rate": "30"}, headers=admin.headers))
    [_newest, older, _create] = await entries(client, admin, rate["id"])
    refused = expect_error(await revert(client, admin, older["id"]), 409, "CHANGE_CONFLICT")
    assert "changed since" in refused["message"]
    assert expect_ok(await client.get(f"{RATES}/{rate['id']}", headers=admin.headers))["rate"] == "30"
    assert len(await entries(client, admin, rate["id"])) == 3


async def test_reverting_a_create_removes_it_as_its_delete_would_and_a_delete_brings_it_back(
    client: Client, admin: Caller
) -> None:
    coupon = {"code": "UNDO1", "type": "PERCENTAGE", "value": "5", "valid_from": "2024-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=coupon, headers=admin.headers), 201)
    [created] = await entries(client, admin, "UNDO1")
    assert expect_ok(await revert(client, admin, created["id"]))["entity"]["is_active"] is False

    flag = await create_flag(client, admin, key="undo_me")
    expect_ok(await client.delete(f"{FLAGS}/{flag['id']}", headers=admin.headers))
    [deleted, _created] = await entries(client, admin, flag["id"])
    assert (deleted["action"], deleted["after"]) == ("delete", None)
    expect_ok(await revert(client, admin, deleted["id"]))
    back = expect_ok(await client.get(f"{FLAGS}/key/undo_me", headers=admin.headers))
    assert (back["id"], back["value"], back["is_enabled"]) == (flag["id"], True, True)
    evaluated = expect_ok(await client.post(f"{FLAGS}/undo_me/evaluate", json={}, headers=admin.headers))
    assert evaluated["enabled"] is True, "the configuration the engine reads has it again"

    [recreated, *_] = await entries(client, admin, flag["id"])
    expect_ok(await revert(client, admin, recreated["id"]))
    expect_error(await client.get(f"{FLAGS}/key/undo_me", headers=admin.headers), 404, "NOT_FOUND")


async def test_reverting_a_rules_new_version_makes_the_previous_one_live_again(client: Client, admin: Caller) -> None:
    first = expect_ok(await client.post(RULES, json=rule_body(), headers=admin.headers), 201)
    second = expect_ok(await client.put(f"{RULES}/{first['id']}", json=put_body(priority=9), headers=admin.headers))
    assert second["version"] == 2
    [created] = [e for e in await entries(client, admin, second["id"]) if e["action"] == "create"]
    expect_ok(await revert(client, admin, created["id"]))
    live = expect_ok(await client.get(f"{RULES}/{first['id']}", headers=admin.headers))
    assert (live["version"], live["priority"], live["retired_at"]) == (1, 5, None)
    gone = expect_ok(await client.get(f"{RULES}/{second['id']}", headers=admin.headers))
    assert gone["retired_at"] is not None


async def test_a_revert_that_needs_approval_is_a_change_request_applied_by_another_person(
    client: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    rate = expect_ok(await client.post(RATES, json=RATE, headers=admin.headers), 201)
    expect_ok(await client.patch(f"{RATES}/{rate['id']}", json={"rate": "20"}, headers=admin.headers))
    [update, _] = await entries(client, admin, rate["id"])
    policy = await requested(
        await client.post(
            "/api/v1/approval-policies", json={"entity_type": "commission_rate", "approvals": 1}, headers=admin.headers
        )
    )
    expect_ok(await approve(client, policy, reviewer.headers))

    change_id = await requested(await revert(client, admin, update["id"]))
    asked = expect_ok(await client.get(f"/api/v1/change-requests/{change_id}", headers=admin.headers))
    assert (asked["action"], asked["entity_id"], asked["before"]["rate"], asked["after"]["rate"]) == (
        "revert",
        rate["id"],
        "20",
        "12.5",
    )
    assert await pool.fetchval("SELECT rate FROM commission_rates") == 20
    expect_error(await approve(client, change_id, admin.headers), 403, "SELF_APPROVAL")
    applied = expect_ok(await approve(client, change_id, reviewer.headers))
    assert applied["status"] == "applied"
    assert applied["result"]["data"]["entity"]["rate"] == "12.5"
    assert await pool.fetchval("SELECT rate FROM commission_rates") == 12.5


async def test_an_entry_that_cannot_be_reverted_is_refused_and_changes_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    expect_error(await revert(client, admin, 987654321), 404, "NOT_FOUND")
    key = expect_ok(await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=admin.headers), 201)
    [made] = await entries(client, admin, key["id"])
    refused = expect_error(await revert(client, admin, made["id"]), 422, "VALIDATION_FAILED")
    assert "id" in field_errors(refused)
    assert await pool.fetchval("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == 1
    expect_error(await client.post(f"{AUDIT}/abc/revert", headers=admin.headers), 404, "NOT_FOUND")
    # Ids no bigint holds (a fuzzer's 125809483143840943570944 answered 500) and ids below 1 name no entry either.
    for beyond in (2**63, 125809483143840943570944, 0, -1):
        expect_error(await revert(client, admin, beyond), 404, "NOT_FOUND")

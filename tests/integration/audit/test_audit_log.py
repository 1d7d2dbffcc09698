"""The audit log (docs/governance.md): admin writes append rows in their own transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.audit.writer import actor_document, mark
from quote_service.commissions import repository
from quote_service.config import Settings
from quote_service.db.pool import Connection, create_pool
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors

Client = AsyncTestClient[Litestar]
RATES = "/api/v1/commission-rates"
AUDIT = "/api/v1/audit"
RATE = {
    "category_id": "books",
    "commission_type": "PERCENTAGE",
    "rate": "12.5",
    "currency": "EUR",
    "effective_from": "2025-01-01T00:00:00Z",
}


async def audit(client: Client, admin: Caller, **params: Any) -> list[dict[str, Any]]:
    page = expect_ok(await client.get(AUDIT, params=params, headers=admin.headers))
    items: list[dict[str, Any]] = page["items"]
    return items


async def test_create_update_delete_each_append_a_row_with_before_and_after(client: Client, admin: Caller) -> None:
    created = expect_ok(await client.post(RATES, json=RATE, headers={**admin.headers, "X-Request-ID": "req-1"}), 201)
    rate_id = created["id"]
    expect_ok(await client.patch(f"{RATES}/{rate_id}", json={"rate": "13"}, headers=admin.headers))
    expect_ok(await client.delete(f"{RATES}/{rate_id}", headers=admin.headers))

    rows = await audit(client, admin, entity_type="commission_rate", entity_id=rate_id)

    assert [r["action"] for r in rows] == ["delete", "update", "create"]  # newest first
    deleted, updated, made = rows
    assert made["before"] is None
    assert float(made["after"]["rate"]) == 12.5
    assert made["request_id"] == "req-1"
    assert made["actor"] == {"kind": "user", "id": str(admin.id), "name": "admin"}
    assert float(updated["before"]["rate"]) == 12.5
    assert float(updated["after"]["rate"]) == 13
    assert updated["before"]["is_active"] is True
    assert deleted["before"]["is_active"] is True
    assert deleted["after"]["is_active"] is False


async def insert_then_fail(conn: Connection, fields: dict[str, Any]) -> None:
    async with conn.transaction():
        await repository.insert_rate(conn, fields=fields, actor="x")
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1  # same transaction
        raise RuntimeError("roll back")


async def test_a_write_that_rolls_back_leaves_no_row(pool: asyncpg.Pool) -> None:
    fields = {name: None for name in repository.WRITABLE} | {
        "component": "category",
        "commission_type": "PERCENTAGE",
        "rate": 10,
        "currency": "EUR",
        "effective_from": datetime(2025, 1, 1, tzinfo=UTC),
        "is_active": True,
        "priority": 0,
        "base": "net",
        "per": "unit",
    }
    async with pool.acquire() as conn:
        await mark(conn, actor_document(kind="user", actor_id="x", name="x"), "r")
        with pytest.raises(RuntimeError):
            await insert_then_fail(conn, fields)
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0
        assert await conn.fetchval("SELECT count(*) FROM commission_rates") == 0
        # committed: one row
        await repository.insert_rate(conn, fields=fields, actor="x")
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_an_invalid_write_appends_nothing(client: Client, admin: Caller) -> None:
    expect_error(
        await client.post(RATES, json={**RATE, "rate": "150"}, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert await audit(client, admin) == []


async def test_writes_outside_admin_routes_are_not_audited(pool: asyncpg.Pool, client: Client, admin: Caller) -> None:
    expect_ok(await client.post(RATES, json=RATE, headers=admin.headers), 201)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE commission_rates SET priority = 5")  # no actor on this connection
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_rows_cannot_be_changed_or_deleted(pool: asyncpg.Pool, client: Client, admin: Caller) -> None:
    expect_ok(await client.post(RATES, json=RATE, headers=admin.headers), 201)
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE audit_log SET action = 'delete'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_log")
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_every_config_domain_is_audited(client: Client, admin: Caller) -> None:
    expect_ok(
        await client.post(
            "/api/v1/coupons",
            json={"code": "SAVE10", "type": "PERCENTAGE", "value": 10, "valid_from": "2025-01-01T00:00:00Z"},
            headers=admin.headers,
        ),
        201,
    )
    expect_ok(
        await client.post(
            "/api/v1/feature-flags",
            json={"key": "audit_me", "name": "Audit me", "type": "BOOLEAN", "value": True, "default_value": False},
            headers=admin.headers,
        ),
        201,
    )
    rows = await audit(client, admin)
    assert {(r["entity_type"], r["action"]) for r in rows} == {("coupon", "create"), ("feature_flag", "create")}
    assert [r["entity_id"] for r in await audit(client, admin, entity_type="coupon")] == ["SAVE10"]


async def test_filters_and_pages(client: Client, admin: Caller, shopper: Caller) -> None:
    for rate in ("10", "11", "12"):
        expect_ok(await client.post(RATES, json={**RATE, "rate": rate}, headers=admin.headers), 201)
    first = expect_ok(await client.get(AUDIT, params={"limit": 2}, headers=admin.headers))
    assert len(first["items"]) == 2
    second = expect_ok(
        await client.get(AUDIT, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers)
    )
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    ids = [r["id"] for r in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True)
    assert len(await audit(client, admin, actor_id=str(admin.id))) == 3
    assert await audit(client, admin, actor_id="someone-else") == []
    assert len(await audit(client, admin, action="create")) == 3
    assert await audit(client, admin, to="2000-01-01T00:00:00Z") == []
    assert len(await audit(client, admin, **{"from": "2000-01-01T00:00:00Z"})) == 3

    body = expect_error(
        await client.get(AUDIT, params={"entity": "x", "bogus": "1"}, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert set(field_errors(body)) == {"entity", "bogus"}
    body = expect_error(
        await client.get(AUDIT, params={"from": "yesterday"}, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert "from" in field_errors(body)
    expect_error(
        await client.get(AUDIT, params={"cursor": "nonsense"}, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    expect_error(await client.get(AUDIT, headers=shopper.headers), 403, "FORBIDDEN")
    for method in ("post", "put", "patch", "delete"):
        response = await getattr(client, method)(AUDIT, headers=admin.headers)
        assert response.status_code in {404, 405}, response.text


async def test_a_released_connection_forgets_its_actor(settings: Settings) -> None:
    assert settings.database_url is not None
    one = await create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        async with one.acquire() as conn:
            await mark(conn, actor_document(kind="user", actor_id="x", name="x"), "r")
        async with one.acquire() as conn:  # the same connection, after the pool's RESET ALL
            assert await conn.fetchval("SELECT current_setting('quote_service.audit_actor', true)") in {None, ""}
    finally:
        await one.close()

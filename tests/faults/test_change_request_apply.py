"""Applying an approved change request: once or never, whatever fails (docs/governance.md).

The probes of issue 61 found a create request applied twice (the write committed on one pool
connection, the process died before another marked the request applied, the loop replayed it),
a direct write made between the version check and the replay overwritten, a lock timeout making
a request `conflicted` for good, and a request approved with an API key never applied when the
approving process died. The write, its audit rows and the status now commit in one transaction,
the entity's row is locked before its version is read, a passing failure leaves the request
`approved`, and the loop applies every approved request (the fault points are in
quote_service/fault_points.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.audit.writer import actor_document, mark
from quote_service.auth import credentials
from quote_service.auth import repository as auth_repository
from quote_service.config import Settings
from tests.faults.private import service_env, serving
from tests.faults.scenario import insert_user
from tests.integration.audit.requests import CHANGES, RATE, RATES, Client, approve, requested
from tests.integration.expect import expect_error, expect_ok
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]


async def status_of(pool: asyncpg.Pool, change_id: str) -> str:
    status: str = await pool.fetchval("SELECT status FROM change_requests WHERE id = $1::uuid", change_id)
    return status


async def made_rate(client: httpx.AsyncClient, admin: dict[str, str], reviewer: dict[str, str]) -> str:
    change_id = await requested(await client.post(RATES, json=RATE, headers=admin))
    rate_id: str = expect_ok(await approve(client, change_id, reviewer))["result"]["data"]["id"]
    return rate_id


@pytest.fixture
async def admins(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """The headers of an author and of another admin, who approves."""
    assert settings.database_url is not None
    _, author = await insert_user(settings.database_url, "author", "admin")
    _, reviewer = await insert_user(settings.database_url, "reviewer", "admin")
    return author, reviewer


async def four_eyes(settings: Settings, **changed: Any) -> AsyncIterator[Client]:
    app = create_app(msgspec.structs.replace(settings, change_approval="required", **changed))
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
async def retrying(settings: Settings) -> AsyncIterator[Client]:
    """The default 1 s lock wait, and a loop that looks for approved requests five times a second."""
    async for client in four_eyes(settings, change_apply_interval=0.2):
        yield client


async def test_a_process_killed_between_the_write_and_its_status_applies_it_once(
    settings: Settings, pool: asyncpg.Pool, admins: tuple[dict[str, str], dict[str, str]]
) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    author, reviewer = admins
    stores = (settings.database_url, settings.redis_url)
    # The loop does not run in the first service (an hour apart): its worker dies once, here.
    crashing = service_env(
        *stores,
        CHANGE_APPROVAL="required",
        CHANGE_APPLY_INTERVAL="3600",
        QS_FAULT_POINTS="change_request.replayed=kill",
    )
    with serving(crashing, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            change_id = await requested(await http.post(RATES, json=RATE, headers=author))
            with pytest.raises(httpx.TransportError):  # the worker died after the write, before the status
                await http.post(f"{CHANGES}/{change_id}/approve", headers=reviewer)
    assert await status_of(pool, change_id) == "approved"
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0  # never, so far

    with serving(service_env(*stores, CHANGE_APPROVAL="required", CHANGE_APPLY_INTERVAL="0.2"), "--workers", "1"):

        async def applied() -> bool:
            return await status_of(pool, change_id) == "applied"

        await until(applied, "the loop applies the approved request", within=60)
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 1  # and once
    applies = await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'apply' AND entity_id = $1", change_id)
    assert applies == 1


async def test_a_direct_write_in_flight_is_never_overwritten(
    settings: Settings, pool: asyncpg.Pool, admins: tuple[dict[str, str], dict[str, str]]
) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    author, reviewer = admins
    # A real server (the in-process client answers one request at a time), whose lock waits last
    # long enough for the write in flight to commit.
    env = service_env(
        settings.database_url,
        settings.redis_url,
        CHANGE_APPROVAL="required",
        CHANGE_APPLY_INTERVAL="3600",
        DB_LOCK_TIMEOUT="30",
        DB_STATEMENT_TIMEOUT="40",
    )
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=60) as http:
            rate_id = await made_rate(http, author, reviewer)
            change_id = await requested(await http.patch(f"{RATES}/{rate_id}", json={"rate": "13"}, headers=author))
            direct = await asyncpg.connect(settings.database_url)
            try:
                writing = direct.transaction()
                await writing.start()
                actor = actor_document(kind="user", actor_id=str(uuid.uuid4()), name="direct")
                await mark(direct, actor, "direct-write")
                await direct.execute("UPDATE commission_rates SET rate = 15 WHERE id = $1::uuid", rate_id)
                approving = asyncio.create_task(approve(http, change_id, reviewer))

                async def apply_waits() -> bool:
                    waiting: int = await pool.fetchval(
                        """SELECT count(*) FROM pg_stat_activity
                           WHERE datname = current_database() AND wait_event_type = 'Lock'"""
                    )
                    return waiting > 0

                await until(apply_waits, "the apply waits for the write in flight", within=30)
                await writing.commit()
                answer = await approving
            finally:
                await direct.close()

    expect_error(answer, 409, "CHANGE_CONFLICT")
    assert await status_of(pool, change_id) == "conflicted"
    assert await pool.fetchval("SELECT rate FROM commission_rates WHERE id = $1::uuid", rate_id) == 15


async def test_a_lock_not_granted_in_time_leaves_the_request_approved_until_it_applies(
    retrying: Client, settings: Settings, pool: asyncpg.Pool, admins: tuple[dict[str, str], dict[str, str]]
) -> None:
    author, reviewer = admins
    rate_id = await made_rate(retrying, author, reviewer)
    change_id = await requested(await retrying.patch(f"{RATES}/{rate_id}", json={"rate": "13"}, headers=author))

    holder = await asyncpg.connect(settings.database_url)
    try:
        holding = holder.transaction()
        await holding.start()
        await holder.execute("SELECT 1 FROM commission_rates WHERE id = $1::uuid FOR UPDATE", rate_id)
        answer = expect_ok(await approve(retrying, change_id, reviewer))
        assert answer["status"] == "approved", answer
        assert await status_of(pool, change_id) == "approved"
        await holding.rollback()
    finally:
        await holder.close()

    async def applied() -> bool:
        return await status_of(pool, change_id) == "applied"

    await until(applied, "the loop applies the request once the lock is free", within=30)
    assert await pool.fetchval("SELECT rate FROM commission_rates WHERE id = $1::uuid", rate_id) == 13


async def test_a_request_approved_by_a_key_whose_process_died_still_applies(
    settings: Settings, pool: asyncpg.Pool, admins: tuple[dict[str, str], dict[str, str]]
) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    author, _ = admins
    reviewer_id, _ = await insert_user(settings.database_url, "key-owner", "admin")
    key, key_hash, prefix = credentials.new_api_key()
    conn = await asyncpg.connect(settings.database_url)
    try:
        await auth_repository.insert_api_key(
            conn, name="reviewer-bot", role="admin", key_hash=key_hash, prefix=prefix, created_by=reviewer_id
        )
    finally:
        await conn.close()
    env = service_env(
        settings.database_url,
        settings.redis_url,
        CHANGE_APPROVAL="required",
        CHANGE_APPLY_INTERVAL="0.2",
        QS_FAULT_POINTS="change_request.approved=kill",
    )
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            change_id = await requested(await http.post(RATES, json=RATE, headers=author))
            with pytest.raises(httpx.TransportError):  # the approval committed; its worker died
                await http.post(f"{CHANGES}/{change_id}/approve", headers={"X-API-Key": key})

            async def applied() -> bool:
                return await status_of(pool, change_id) == "applied"

            await until(applied, "the respawned worker's loop applies it", within=60)
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 1
    approver = await pool.fetchval("SELECT approver ->> 'kind' FROM change_requests WHERE id = $1::uuid", change_id)
    assert approver == "api_key"

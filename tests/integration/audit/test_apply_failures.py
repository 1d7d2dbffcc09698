"""How an approved change request's apply fails (docs/governance.md#change-requests-four-eyes): an error
of the service's own ends it `failed`, once, with its reason (issue 87: an offer's revert retried every
5 s with a traceback, 244 times in 20 minutes, and could no longer be rejected); a passing failure (a
503, a lock not granted in time) leaves it `approved` for the loop, and it may still be rejected."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
import structlog
from structlog.testing import capture_logs

from quote_service.audit import applying
from quote_service.commissions import service as rates
from quote_service.web import errors as web_errors
from tests.integration.audit.requests import CHANGES, RATES, Client, requested
from tests.integration.audit.test_change_requests import approve, four_eyes, made_rate  # noqa: F401 (fixture)
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.waiting import until

LOOP_PASSES = 1.0
"""Seconds in which the four_eyes app's loop (every 0.2 s) makes several passes."""


async def _broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the write is broken")


async def _locked(*args: Any, **kwargs: Any) -> Any:
    raise asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout")


async def _status(pool: asyncpg.Pool, change_id: str) -> str:
    status: str = await pool.fetchval("SELECT status FROM change_requests WHERE id = $1::uuid", change_id)
    return status


async def _applies(pool: asyncpg.Pool, change_id: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE entity_type = 'change_request' AND action = 'apply' AND entity_id = $1",
        change_id,
    )
    return count


BROKEN = {
    "the replayed write": (rates, "patch_rate", "unhandled_exception"),
    "applying around it": (applying, "_acting", "change_request_apply_failed"),
}
"""Where the bug is: what is broken, and the log line (with its traceback) it leaves, once."""


@pytest.mark.parametrize("where", sorted(BROKEN))
async def test_an_apply_that_fails_for_a_bug_ends_failed_once_with_its_reason(
    where: str,
    four_eyes: Client,  # noqa: F811
    admin: Caller,
    reviewer: Caller,
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rate = await made_rate(four_eyes, admin, reviewer)
    change_id = await requested(
        await four_eyes.patch(f"{RATES}/{rate['id']}", json={"rate": "20"}, headers=admin.headers)
    )
    module, name, logged = BROKEN[where]
    monkeypatch.setattr(module, name, _broken)
    with capture_logs() as logs:
        # Fresh module loggers: one used earlier in the process is cached with the processors of that
        # moment (cache_logger_on_first_use) and would log past the capture.
        monkeypatch.setattr(applying, "log", structlog.get_logger("quote_service.audit"))
        monkeypatch.setattr(web_errors, "log", structlog.get_logger("quote_service.errors"))
        answer = expect_ok(await approve(four_eyes, change_id, reviewer))
        await asyncio.sleep(LOOP_PASSES)  # the loop must not take it up again
    assert answer["status"] == "failed", answer
    assert "RuntimeError: the write is broken" in answer["result"]["reason"]
    assert await _status(pool, change_id) == "failed"
    assert await _applies(pool, change_id) == 1
    tracebacks = [line for line in logs if line["event"] == logged]
    # once, not once per pass of the loop: the apply keeps the request's row locked until it is `failed` (the write
    # undone to a savepoint), so a pass in between skips it (CI saw the broken write run, and log, twice)
    assert len(tracebacks) == 1, tracebacks
    assert not [line for line in logs if line["event"] == "change_request_apply_deferred"]

    # Ended: not approved again, not applied once the write works again.
    monkeypatch.undo()
    expect_error(await approve(four_eyes, change_id, reviewer), 409, "CHANGE_NOT_PENDING")
    shown = expect_ok(await four_eyes.get(f"{CHANGES}/{change_id}", headers=admin.headers))
    assert (shown["status"], shown["result"]["reason"]) == ("failed", answer["result"]["reason"])
    listed = expect_ok(await four_eyes.get(CHANGES, params={"status": "failed"}, headers=admin.headers))["items"]
    assert [c["id"] for c in listed] == [change_id]
    assert await pool.fetchval("SELECT rate FROM commission_rates WHERE id = $1::uuid", rate["id"]) == 12.5


async def test_a_passing_failure_stays_approved_and_an_approved_request_can_still_be_rejected(
    four_eyes: Client,  # noqa: F811
    admin: Caller,
    reviewer: Caller,
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rate = await made_rate(four_eyes, admin, reviewer)
    at = f"{RATES}/{rate['id']}"
    first = await requested(await four_eyes.patch(at, json={"rate": "20"}, headers=admin.headers))
    monkeypatch.setattr(rates, "patch_rate", _locked)  # the route answers 503, as a lock timeout does
    assert expect_ok(await approve(four_eyes, first, reviewer))["status"] == "approved"
    await asyncio.sleep(LOOP_PASSES)
    assert await _status(pool, first) == "approved"  # tried again and again, never failed
    assert await _applies(pool, first) == 0

    # Waiting out a passing failure, it may still be rejected: then it never applies.
    rejected = expect_ok(await four_eyes.post(f"{CHANGES}/{first}/reject", headers=admin.headers))
    assert rejected["status"] == "rejected"
    monkeypatch.undo()
    second = await requested(await four_eyes.patch(at, json={"rate": "30"}, headers=admin.headers))
    monkeypatch.setattr(rates, "patch_rate", _locked)
    assert expect_ok(await approve(four_eyes, second, reviewer))["status"] == "approved"
    monkeypatch.undo()

    async def applied() -> bool:
        return await _status(pool, second) == "applied"

    await until(applied, "the loop applies the request once the write passes")
    assert await _status(pool, first) == "rejected"
    assert await pool.fetchval("SELECT rate FROM commission_rates WHERE id = $1::uuid", rate["id"]) == 30

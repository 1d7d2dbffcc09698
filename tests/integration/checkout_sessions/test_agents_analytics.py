"""GET /api/v1/analytics/agents (docs/agents.md#analytics): per agent key, the sessions created, completed,
abandoned (canceled) and expired, and the conversion."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from quote_service.config import Settings
from tests.integration.checkout_sessions.setup import ACP, ADDRESS, Agent, Client, acp_session, agent_key, market
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok


async def test_sessions_per_agent_with_their_conversion(client: Client, admin: Caller, settings: Settings) -> None:
    goods = await market(client, admin)
    busy = Agent(client, await agent_key(client, admin, "busy-agent"))
    idle = Agent(client, await agent_key(client, admin, "idle-agent"))
    body = {"items": [{"id": goods["a"]["id"], "quantity": 1}], "fulfillment_address": ADDRESS}
    sessions = [acp_session(await busy.create(body), 201) for _ in range(4)]
    acp_session(await idle.create(body), 201)
    for session in sessions[:2]:
        picked = {"fulfillment_option_id": "standard"}
        assert acp_session(await busy.update(session["id"], picked))["status"] == "ready_for_payment"
        payment = {"payment_data": {"token": "spt", "provider": "stripe"}}
        assert acp_session(await busy.complete(session["id"], payment))["status"] == "completed"
    acp_session(await client.post(f"{ACP}/{sessions[2]['id']}/cancel", headers=busy.keyed()))
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:  # the fourth outlived its CHECKOUT_SESSION_TTL
        await conn.execute(
            "UPDATE checkout_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1",
            uuid.UUID(sessions[3]["id"]),
        )
    finally:
        await conn.close()

    report = expect_ok(await client.get("/api/v1/analytics/agents", headers=admin.headers))
    rows = {row["name"]: row for row in report["agents"]}
    busy_row = rows["busy-agent"]
    assert (busy_row["created"], busy_row["completed"], busy_row["abandoned"], busy_row["expired"]) == (4, 2, 1, 1)
    assert busy_row["conversion"] == "0.5000"
    assert (rows["idle-agent"]["created"], rows["idle-agent"]["conversion"]) == (1, "0.0000")
    later = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    empty = expect_ok(await client.get(f"/api/v1/analytics/agents?from={later}", headers=admin.headers))
    assert empty["agents"] == []
    expect_error(
        await client.get("/api/v1/analytics/agents?from=yesterday", headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert (await client.get("/api/v1/analytics/agents", headers=busy.headers)).status_code == 403

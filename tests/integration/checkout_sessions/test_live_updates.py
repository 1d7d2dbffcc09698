"""Updates on the session's live state in Redis (checkout_sessions/live.py, docs/agents.md#what-an-update-costs):
the same idempotency rules as every keyed write (the first answer replayed byte for byte, another body under
the key a conflict, a key in flight 409 with Retry-After, across update and the writes kept on PostgreSQL),
and what Redis losing its keys costs: the updates since the last PostgreSQL write, never a second order."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from quote_service.cache.redis import RedisClient
from quote_service.checkout_sessions.live import PENDING_SECONDS, LiveSessions, idempotency_key
from quote_service.checkout_sessions.service import fingerprint
from quote_service.config import Settings
from quote_service.db.idempotency import Answer
from tests.integration.checkout_sessions.setup import ACP, ADDRESS, Agent, Client, acp_session, agent_key, market
from tests.integration.conftest import Caller, maker_of

PAYMENT = {"payment_data": {"token": "spt_live", "provider": "stripe"}}


async def forget_all(redis: RedisClient, key_id: object) -> int:
    """Redis loses every live key of the agent (a restart, an eviction): how many there were."""
    keys = [key async for key in redis.scan_iter(match=f"qs:cs:{{{key_id}}}:*")]
    if keys:
        await redis.delete(*keys)
    return len(keys)


async def addressed(client: Client, admin: Caller) -> tuple[Agent, uuid.UUID, str]:
    """An agent, its key's id and its session of one item with an address."""
    goods = await market(client, admin)
    agent = Agent(client, await agent_key(client, admin))
    _, key_id = await maker_of(client, agent.headers)
    created = await agent.create({"items": [{"id": goods["a"]["id"], "quantity": 1}], "fulfillment_address": ADDRESS})
    return agent, key_id, acp_session(created, 201)["id"]


async def test_an_update_is_replayed_byte_for_byte_and_its_key_is_one_request_across_writes(
    client: Client, admin: Caller
) -> None:
    goods = await market(client, admin)
    agent = Agent(client, await agent_key(client, admin))
    sid = acp_session(await agent.create({"items": [{"id": goods["a"]["id"], "quantity": 1}]}, key="made"), 201)["id"]

    first = await agent.update(sid, {"fulfillment_address": ADDRESS}, key="u-1")
    acp_session(first)
    again = await agent.update(sid, {"fulfillment_address": ADDRESS}, key="u-1")
    assert (again.status_code, again.headers["idempotent-replayed"]) == (200, "true")
    assert again.content == first.content
    other = await agent.update(sid, {"fulfillment_option_id": "express"}, key="u-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_conflict")
    # The create's key (kept on PostgreSQL) is another request for an update, and the update's for a complete.
    reused = await agent.update(sid, {"fulfillment_option_id": "express"}, key="made")
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_conflict")
    completed = await agent.complete(sid, PAYMENT, key="u-1")
    assert (completed.status_code, completed.json()["code"]) == (422, "idempotency_conflict")
    # A refusal is kept as the key's answer too.
    unknown = "00000000-0000-4000-8000-000000000000"
    missing = await agent.update(unknown, {"fulfillment_option_id": "express"}, key="u-2")
    assert missing.status_code == 404
    assert (await agent.update(unknown, {"fulfillment_option_id": "express"}, key="u-2")).content == missing.content


async def test_an_update_in_flight_is_409_with_retry_after(client: Client, admin: Caller, redis: RedisClient) -> None:
    goods = await market(client, admin)
    agent = Agent(client, await agent_key(client, admin))
    _, key_id = await maker_of(client, agent.headers)
    sid = acp_session(await agent.create({"items": [{"id": goods["a"]["id"], "quantity": 1}]}), 201)["id"]
    body = msgspec.json.encode({"fulfillment_option_id": "express"})
    claim = b"P" + fingerprint("acp.update", uuid.UUID(sid), body)
    await redis.set(idempotency_key(key_id, "busy"), claim, ex=PENDING_SECONDS)  # another request holds the key
    busy = await client.post(f"{ACP}/{sid}", content=body, headers=agent.keyed("busy"))
    assert (busy.status_code, busy.json()["code"]) == (409, "idempotency_in_flight")
    assert int(busy.headers["retry-after"]) >= 1
    await redis.delete(idempotency_key(key_id, "busy"))  # the first is done (or its claim lapsed)
    assert (await client.post(f"{ACP}/{sid}", content=body, headers=agent.keyed("busy"))).status_code == 200


async def test_redis_losing_the_session_loses_updates_since_never_a_completed_order(
    client: Client, admin: Caller, redis: RedisClient, settings: Settings
) -> None:
    agent, key_id, sid = await addressed(client, admin)
    assert await forget_all(redis, key_id) == 2  # the session and the create's key
    # Read again from PostgreSQL: the session as created, updated on from there.
    ready = acp_session(await agent.update(sid, {"fulfillment_option_id": "standard"}))
    assert ready["status"] == "ready_for_payment", ready["messages"]
    done = await agent.complete(sid, PAYMENT, key="done")
    assert acp_session(done)["status"] == "completed"

    assert await forget_all(redis, key_id) == 3
    again = await agent.complete(sid, PAYMENT, key="done")  # kept on PostgreSQL with the order
    assert (again.headers["idempotent-replayed"], again.content) == ("true", done.content)
    late = await agent.update(sid, {"fulfillment_option_id": "express"})
    assert (late.status_code, late.json()["code"]) == (409, "session_completed")
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        orders = await conn.fetchval("SELECT count(*) FROM orders WHERE checkout_session_id = $1", sid)
        status = await conn.fetchval("SELECT status FROM checkout_sessions WHERE id = $1::uuid", sid)
    finally:
        await conn.close()
    assert (orders, status) == (1, "completed")


async def test_an_update_that_priced_while_its_session_completed_never_reopens_it(
    client: Client, admin: Caller, redis: RedisClient
) -> None:
    agent, key_id, sid = await addressed(client, admin)
    acp_session(await agent.update(sid, {"fulfillment_option_id": "standard"}))
    live = LiveSessions(redis)
    opened = await live.get(key_id, uuid.UUID(sid))  # what an update read before the complete finished
    assert opened is not None
    assert opened.status == "open"
    assert acp_session(await agent.complete(sid, PAYMENT))["status"] == "completed"
    # ... and writes back after it: the session stays completed.
    await live.written(key_id, "late", b"0" * 32, Answer(200, b"{}"), opened, opened.created_at, durable=False)
    stored = await live.get(key_id, uuid.UUID(sid))
    assert stored is not None
    assert stored.status == "completed"
    late = await agent.update(sid, {"fulfillment_option_id": "express"})
    assert (late.status_code, late.json()["code"]) == (409, "session_completed")


async def test_an_update_answers_the_same_bytes_whether_its_quote_was_priced_or_handed_out_again(
    client: Client, admin: Caller
) -> None:
    """The session written back with a quote just priced is made of the quote itself; with a quote the
    identical-request cache hands out again, of its JSON (quotes/store.py `Rider`): the same answer."""
    agent, _, sid = await addressed(client, admin)
    body = {"fulfillment_option_id": "standard"}
    priced = await agent.update(sid, body, key="first")
    again = await agent.update(sid, body, key="second")  # the same basket and choice: the same quote again
    assert (priced.status_code, again.status_code) == (200, 200)
    assert acp_session(again)["quote_id"] == acp_session(priced)["quote_id"]
    assert again.content == priced.content

"""What a checkout session's update costs beside a plain quote of the same basket, as counts that do not
move with the machine (docs/agents.md#what-an-update-costs; the counting: tests/integration/test_cost_budget.py).

The app is started on the test's event loop with what runs by the clock pinned; an agent creates 3-seller
sessions, then SAMPLES updates (ACP, each of a new session, choosing every seller's `express` under a new key:
its quote is priced, not handed out again from the identical-request cache) and SAMPLES plain
`POST /api/v1/quote` of the same basket (a new customer each) of two kinds — the agent's key sent as the update
sends it (a bearer token) and as `X-API-Key` (the lean edge's quote) — are counted alike: the SQL statements
sent, the Redis commands sent, the function calls. An update is the quote plus one Redis round trip, to claim
its key and read the session: the session and its answer are written back in the quote's own call
(checkout_sessions/live.py `WriteBack`), and no SQL at all; its calls at most `calls_per_quote_call` times the
first kind's and `calls_per_lean_quote_call` times the second's (tests/cost_budget.toml
`[checkout_session_update]`).
"""

from __future__ import annotations

import tomllib
import uuid
from typing import Any

import msgspec
from litestar import Litestar

from tests.integration.checkout_sessions.setup import ACP, ADDRESS, acp_session, agent_key, market
from tests.integration.conftest import Caller
from tests.integration.test_cost_budget import (
    BUDGET_FILE,
    SAMPLES,
    Meter,
    asgi_request,
    drain_log,
    metered,
    started,
)


def asgi_post(app: Litestar, path: str, headers: dict[str, str], body: bytes) -> Any:
    """A POST of `path` with `headers` to the app's ASGI callable (its status and body)."""
    sent_headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json")]
    sent_headers += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return asgi_request(app, body, b"", path=path, raw_path=path.encode(), headers=sent_headers)


def update_of(session_id: str, agent: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
    """An update choosing every seller's `express` option, under a new key."""
    body = msgspec.json.encode({"fulfillment_option_id": "express"})
    return f"{ACP}/{session_id}", {**agent, "Idempotency-Key": uuid.uuid4().hex}, body


async def fresh_session(served: Any, items: list[dict[str, Any]], agent: dict[str, str]) -> str:
    """A new session of `items`, addressed, no option chosen: its update prices a basket no quote has priced
    for its customer yet (an update of a session updated before could be handed that quote again)."""
    created = await served.http.post(
        ACP,
        json={"items": items, "fulfillment_address": ADDRESS},
        headers={**agent, "Idempotency-Key": uuid.uuid4().hex},
    )
    session = acp_session(created, 201)
    assert session["fulfillment_option_id"] is None, session["fulfillment_option_id"]
    return str(session["id"])


def quote_of(items: list[dict[str, Any]], agent: dict[str, str], option: str) -> tuple[str, dict[str, str], bytes]:
    """The plain quote of the session's basket with the same choice, for a new customer."""
    body = {
        "customer_id": f"cost-{uuid.uuid4().hex[:12]}",
        "currency": "TRY",
        "items": [{"product_id": i["id"], "quantity": i["quantity"]} for i in items],
        "delivery_address": {"city": "Istanbul", "country": "TR", "street": "Istiklal Cd. 1", "postal_code": "34000"},
        "shipping": dict.fromkeys(("seller-a", "seller-b", "seller-c"), option),
        "channel": "agent",
    }
    return "/api/v1/quote", agent, msgspec.json.encode(body)


async def counted(served: Any, request: tuple[str, dict[str, str], bytes]) -> Meter:
    meter = Meter(served.pins.timed_tasks())
    status, answer = await metered(served, meter, asgi_post(served.app, *request))
    served.pins.tick()
    assert status == 200, answer
    return meter


Counts = tuple[list[Meter], list[Meter], list[Meter]]
"""The updates', the plain quotes' sent as the update is (the agent's key as a bearer token), and the plain
quotes' sent with the key as `X-API-Key` (the lean edge's quote, the cheapest way a quote is served)."""


async def sampled(served: Any, items: list[dict[str, Any]], agent: dict[str, str]) -> Counts:
    """SAMPLES updates (each of a new session) and SAMPLES plain quotes of each kind, alternating, each counted."""
    updates, quotes, lean_quotes = [], [], []
    for _ in range(SAMPLES):
        session_id = await fresh_session(served, items, agent)
        served.pins.tick()
        updates.append(await counted(served, update_of(session_id, agent)))
        quotes.append(await counted(served, quote_of(items, agent, "express")))
        lean_quotes.append(await counted(served, quote_of(items, as_api_key(agent), "express")))
    return updates, quotes, lean_quotes


def as_api_key(agent: dict[str, str]) -> dict[str, str]:
    return {"X-API-Key": agent["Authorization"].removeprefix("Bearer ")}


def most(meters: list[Meter]) -> int:
    return max(m.calls for m in meters)


def over_budget(counts: Counts, allowed: dict[str, Any]) -> bool:
    updates, quotes, lean_quotes = counts
    return (
        most(updates) / most(quotes) > allowed["calls_per_quote_call"]
        or most(updates) / most(lean_quotes) > allowed["calls_per_lean_quote_call"]
    )


async def test_an_update_costs_a_quote_and_one_redis_command_and_no_sql(app: Litestar, admin: Caller) -> None:
    allowed = tomllib.loads(BUDGET_FILE.read_text())["checkout_session_update"]
    async with started(app, admin) as served:
        goods = await market(served.http, admin)  # type: ignore[arg-type]
        agent = await agent_key(served.http, admin)  # type: ignore[arg-type]
        items = [{"id": goods[name]["id"], "quantity": 1} for name in ("a", "b", "c")]
        for _ in range(4):  # warm: each path's statements prepared, its scripts loaded, the key learned by both edges
            await counted(served, update_of(await fresh_session(served, items, agent), agent))
            await counted(served, quote_of(items, agent, "express"))
            await counted(served, quote_of(items, as_api_key(agent), "express"))
        await served.pins.pin()
        await drain_log(served.app)
        served.pins.tick()
        counts = await sampled(served, items, agent)
        if over_budget(counts, allowed):  # a one-off (as test_cost_budget.py `judged`)
            counts = await sampled(served, items, agent)
    updates, quotes, lean_quotes = counts
    update_sql = max(m.sql_statements for m in updates)
    update_redis = max(sum(m.redis.values()) for m in updates)
    quote_redis = max(sum(m.redis.values()) for m in quotes + lean_quotes)
    seen = max(updates, key=lambda m: sum(m.redis.values()))
    print(
        f"update: {update_sql} SQL statements, {update_redis} Redis commands {dict(seen.redis)},"
        f" {[m.calls for m in updates]} calls; plain quote: {max(m.sql_statements for m in quotes)} SQL,"
        f" {quote_redis} Redis commands, {[m.calls for m in quotes]} calls as the update is sent"
        f" ({most(updates) / most(quotes):.3f}x), {[m.calls for m in lean_quotes]} with X-API-Key"
        f" ({most(updates) / most(lean_quotes):.3f}x)"
    )
    assert update_sql <= allowed["sql_statements"], max(updates, key=lambda m: m.sql_statements).logged
    assert update_redis - quote_redis <= allowed["redis_commands_beyond_quote"], dict(seen.redis)
    same = most(updates) / most(quotes)
    assert same <= allowed["calls_per_quote_call"], f"an update makes {same:.3f}x its quote's calls"
    lean = most(updates) / most(lean_quotes)
    assert lean <= allowed["calls_per_lean_quote_call"], f"an update makes {lean:.3f}x a lean quote's calls"

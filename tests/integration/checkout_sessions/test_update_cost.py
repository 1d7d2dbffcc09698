"""What a checkout session's update costs beside a plain quote of the same basket, as counts that do not
move with the machine (docs/agents.md#what-an-update-costs; the counting: tests/integration/test_cost_budget.py).

The app is started on the test's event loop with what runs by the clock pinned; an agent creates a 3-seller
session, then SAMPLES updates (ACP, each choosing a seller's option under a new key) and SAMPLES plain
`POST /api/v1/quote` of the same basket (the agent's key, a new customer each) are counted alike: the SQL
statements sent, the Redis commands sent, the function calls. An update is the quote plus one Redis round
trip, to claim its key and read the session: the session and its answer are written back in the quote's own
call (checkout_sessions/live.py `WriteBack`), and no SQL at all; its calls at most `calls_per_quote_call` times
the quote's (tests/cost_budget.toml `[checkout_session_update]`).
"""

from __future__ import annotations

import itertools
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

_OPTIONS = itertools.cycle(("express", "standard"))


def asgi_post(app: Litestar, path: str, headers: dict[str, str], body: bytes) -> Any:
    """A POST of `path` with `headers` to the app's ASGI callable (its status and body)."""
    sent_headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json")]
    sent_headers += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return asgi_request(app, body, b"", path=path, raw_path=path.encode(), headers=sent_headers)


def update_of(session_id: str, agent: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
    """An update choosing every seller's next option, under a new key."""
    body = msgspec.json.encode({"fulfillment_option_id": next(_OPTIONS)})
    return f"{ACP}/{session_id}", {**agent, "Idempotency-Key": uuid.uuid4().hex}, body


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


async def sampled(
    served: Any, session_id: str, items: list[dict[str, Any]], agent: dict[str, str]
) -> tuple[list[Meter], list[Meter]]:
    """SAMPLES updates and SAMPLES plain quotes, alternating, each counted."""
    updates, quotes = [], []
    for _ in range(SAMPLES):
        updates.append(await counted(served, update_of(session_id, agent)))
        quotes.append(await counted(served, quote_of(items, agent, "express")))
    return updates, quotes


def ratio(counts: tuple[list[Meter], list[Meter]]) -> float:
    """The most calls of an update over the most of a plain quote."""
    updates, quotes = counts
    return max(m.calls for m in updates) / max(m.calls for m in quotes)


async def test_an_update_costs_a_quote_and_one_redis_command_and_no_sql(app: Litestar, admin: Caller) -> None:
    allowed = tomllib.loads(BUDGET_FILE.read_text())["checkout_session_update"]
    async with started(app, admin) as served:
        goods = await market(served.http, admin)  # type: ignore[arg-type]
        agent = await agent_key(served.http, admin)  # type: ignore[arg-type]
        items = [{"id": goods[name]["id"], "quantity": 1} for name in ("a", "b", "c")]
        created = await served.http.post(
            ACP, json={"items": items, "fulfillment_address": ADDRESS}, headers={**agent, "Idempotency-Key": "c"}
        )
        session_id = acp_session(created, 201)["id"]
        for _ in range(4):  # warm: each path's statements prepared, its scripts loaded
            await counted(served, update_of(session_id, agent))
            await counted(served, quote_of(items, agent, "express"))
        await served.pins.pin()
        await drain_log(served.app)
        served.pins.tick()
        updates, quotes = await sampled(served, session_id, items, agent)
        if ratio((updates, quotes)) > allowed["calls_per_quote_call"]:  # a one-off (as test_cost_budget.py `judged`)
            updates, quotes = min((updates, quotes), await sampled(served, session_id, items, agent), key=ratio)
    update_sql = max(m.sql_statements for m in updates)
    update_redis = max(sum(m.redis.values()) for m in updates)
    quote_redis = max(sum(m.redis.values()) for m in quotes)
    calls_ratio = ratio((updates, quotes))
    seen = max(updates, key=lambda m: sum(m.redis.values()))
    print(
        f"update: {update_sql} SQL statements, {update_redis} Redis commands {dict(seen.redis)},"
        f" {[m.calls for m in updates]} calls; plain quote: {max(m.sql_statements for m in quotes)} SQL,"
        f" {quote_redis} Redis commands, {[m.calls for m in quotes]} calls; {ratio((updates, quotes)):.3f}x"
    )
    assert update_sql <= allowed["sql_statements"], max(updates, key=lambda m: m.sql_statements).logged
    assert update_redis - quote_redis <= allowed["redis_commands_beyond_quote"], dict(seen.redis)
    assert calls_ratio <= allowed["calls_per_quote_call"], f"an update makes {calls_ratio:.3f}x its quote's calls"

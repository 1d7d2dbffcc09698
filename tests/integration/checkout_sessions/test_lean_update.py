"""ACP updates on the lean edge (quote_service/checkout_sessions/lean_update.py): the plain case skips Litestar,
and every answer is the one the route gives. Each request is compared with the same app whose edge is taken out
(Litestar alone, tests/integration/test_quote_edge.py `clients`): status, headers (but the request id) and body
(ids and times numbered in order of appearance)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from quote_service.checkout_sessions.lean_update import TEMPLATE
from quote_service.config import Settings
from tests.integration.checkout_sessions.setup import ACP, ADDRESS, agent_key, market
from tests.integration.conftest import Caller
from tests.integration.test_quote_edge import Client, clients
from tests.published import published

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def lean_count() -> float:
    return published("qs_edge_requests_total", {"route": TEMPLATE, "path": "lean"})


def comparable(response: Any) -> tuple[int, dict[str, str], str]:
    """Status, headers but the request id, and the body with its ids and times numbered in order."""
    headers = {k: v for k, v in response.headers.items() if k not in {"x-request-id", "date"}}
    seen: dict[str, str] = {}
    body = _UUID.sub(lambda m: seen.setdefault(m.group(), f"<id{len(seen)}>"), response.text)
    return response.status_code, headers, _TIME.sub("<time>", body)


async def session(client: Client, agent: dict[str, str], goods: dict[str, Any]) -> str:
    items = [{"id": goods[name]["id"], "quantity": 1} for name in ("a", "b", "c")]
    created = await client.post(
        ACP,
        json={"items": items, "fulfillment_address": ADDRESS},
        headers={**agent, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_an_update_answers_on_the_lean_edge_as_the_route_does(settings: Settings, admin: Caller) -> None:
    async with clients(settings) as (edge, litestar):
        goods = await market(edge, admin)  # type: ignore[arg-type]
        agent = await agent_key(edge, admin)  # type: ignore[arg-type]
        lean_id, routed_id = await session(edge, agent, goods), await session(litestar, agent, goods)
        # An agent's first update goes the route's way (its key authenticated there), then the edge knows the key.
        first = await edge.post(
            f"{ACP}/{await session(edge, agent, goods)}", json={}, headers={**agent, "Idempotency-Key": "first"}
        )
        assert first.status_code == 200, first.text
        sent = {**agent, "Request-Id": "req-1", "API-Version": "2025-09-29"}
        pairs: list[tuple[Any, Any]] = []
        for body, key in (
            ({"fulfillment_option_id": "express"}, "k1"),  # answered
            ({"fulfillment_option_id": "express"}, "k1"),  # replayed
            ({"fulfillment_option_id": "standard"}, "k1"),  # another body under the key: ACP 422
            ({"discounts": {"codes": ["NO-SUCH-CODE"]}}, "k2"),  # a business refusal: 200 with a message
        ):
            before = lean_count()
            lean = await edge.post(
                f"{ACP}/{lean_id}", json=body, headers={**sent, "Idempotency-Key": f"{key}-{lean_id}"}
            )
            routed = await litestar.post(
                f"{ACP}/{routed_id}", json=body, headers={**sent, "Idempotency-Key": f"{key}-{routed_id}"}
            )
            pairs.append((lean, routed))
            assert comparable(lean) == comparable(routed), body
            if "idempotent-replayed" not in lean.headers:  # a replay is the first answer's bytes alone, as there
                assert lean.headers["request-id"] == "req-1"
                assert lean.headers["api-version"] == "2025-09-29"
            assert lean_count() == before + (
                1 if lean.status_code == 200 and "idempotent-replayed" not in lean.headers else 0
            )
        assert [p[0].status_code for p in pairs] == [200, 200, 422, 200]
        assert pairs[1][0].headers["idempotent-replayed"] == "true"
        assert pairs[1][0].content == pairs[0][0].content
        unknown = str(uuid.uuid4())
        lean = await edge.post(f"{ACP}/{unknown}", json={}, headers={**agent, "Idempotency-Key": "k3"})
        routed = await litestar.post(f"{ACP}/{unknown}", json={}, headers={**agent, "Idempotency-Key": "k4"})
        assert lean.status_code == 404
        assert comparable(lean) == comparable(routed)


async def test_what_the_lean_edge_does_not_take_goes_to_the_route(settings: Settings, admin: Caller) -> None:
    async with clients(settings) as (edge, litestar):
        goods = await market(edge, admin)  # type: ignore[arg-type]
        agent = await agent_key(edge, admin)  # type: ignore[arg-type]
        lean_id, routed_id = await session(edge, agent, goods), await session(litestar, agent, goods)
        express = {"fulfillment_option_id": "express"}
        cases: list[tuple[dict[str, str], Any]] = [
            ({}, express),  # no Idempotency-Key: 400 idempotency_key_required
            ({"Idempotency-Key": "x" * 129}, express),  # too long
            ({"Idempotency-Key": "v", "API-Version": "2024-01-01"}, express),  # a version not supported
            ({"Idempotency-Key": "m"}, {"fulfillment_option_id": 7}),  # a malformed body: 400 naming the field
            ({"Idempotency-Key": "f", "X-Money-Format": "sideways"}, express),  # the app's own header check
        ]
        for extra, body in cases:
            before = lean_count()
            lean = await edge.post(f"{ACP}/{lean_id}", json=body, headers={**agent, **extra})
            routed = await litestar.post(f"{ACP}/{routed_id}", json=body, headers={**agent, **extra})
            assert lean_count() == before, extra
            assert lean.status_code >= 400, lean.text
            assert comparable(lean) == comparable(routed), (extra, lean.text, routed.text)
        # A bearer token that is no API key (an admin's): the route's authentication (not the agent's session: 404).
        before = lean_count()
        lean = await edge.post(f"{ACP}/{lean_id}", json=express, headers={**admin.headers, "Idempotency-Key": "a1"})
        routed = await litestar.post(
            f"{ACP}/{routed_id}", json=express, headers={**admin.headers, "Idempotency-Key": "a2"}
        )
        assert lean_count() == before
        assert lean.status_code == 404, lean.text
        assert comparable(lean) == comparable(routed)

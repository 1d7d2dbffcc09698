"""A quote through the lean edge leaves no reference cycles: the edge, the request context, the
quote service and the store's group commit free everything by reference counting.

Cyclic garbage is what makes the garbage collector expensive under load (docs/hot-path.md#garbage):
each collection traverses every object still waiting for it, and a quote's objects freed late are
freed cold. The engine's part is tests/unit/pricing/test_engine_garbage.py; this is the path around it,
spoken to as a server speaks ASGI, with concurrent quotes sharing group commits.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send

from tests.garbage import cyclic_garbage, kinds
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.integration.test_quote_edge import lean_count

QUOTES = 40


async def post(app: Litestar, body: bytes, key: str) -> int:
    """One POST /api/v1/quote straight to the app's ASGI callable; its status."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": QUOTE, "raw_path": QUOTE.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), (b"x-api-key", key.encode())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    await app(cast(Scope, scope), cast(Receive, receive), cast(Send, send))
    return statuses[0]


async def test_lean_quotes_leave_nothing_for_the_garbage_collector(
    app: Litestar, client: AsyncTestClient[Litestar], admin: Caller
) -> None:
    made = await client.post("/api/v1/api-keys", json={"name": "garbage"}, headers=admin.headers)
    key = made.json()["data"]["key"]
    expect_ok(await client.post(QUOTE, json=quote_body(), headers={"X-API-Key": key}))  # the edge learns the key
    warm = [msgspec.json.encode(quote_body(customer_id=f"warm-{n}")) for n in range(QUOTES)]
    bodies = [msgspec.json.encode(quote_body(customer_id=f"garbage-{n}")) for n in range(QUOTES)]
    # Warmed as it is measured, concurrently: what a process does once (the app's start, a library's
    # first lookup, the connections the concurrency needs) leaves nothing in the window below.
    assert await asyncio.gather(*(post(app, body, key) for body in warm)) == [200] * QUOTES
    before = lean_count()
    with cyclic_garbage() as cyclic:
        statuses = await asyncio.gather(*(post(app, body, key) for body in bodies))
    assert statuses == [200] * QUOTES
    assert lean_count() == before + QUOTES  # every one through the edge, not handed to Litestar
    assert not cyclic, kinds(cyclic)

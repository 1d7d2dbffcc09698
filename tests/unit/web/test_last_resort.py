"""An error that passes every handler still leaves with the envelope and the request id
(issue 72: a stray cancellation reached the server, which answered a bare 500)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from quote_service.web.middleware import RequestContextMiddleware


def scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/orders",
        "headers": [(b"x-request-id", b"checkout-42")],
        "state": {},
    }


async def answer(app: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await RequestContextMiddleware(app)(scope(), receive, send)  # type: ignore[arg-type]
    return sent


async def cancelled_elsewhere(*_: Any) -> None:
    """A route whose shared work was cancelled for another request's sake."""
    shared = asyncio.get_running_loop().create_future()
    shared.cancel()
    await shared


async def broken(*_: Any) -> None:
    raise RuntimeError("a layer around the routes failed")


@pytest.mark.parametrize(
    ("app", "status", "code"),
    [(cancelled_elsewhere, 503, "SERVICE_UNAVAILABLE"), (broken, 500, "INTERNAL_ERROR")],
    ids=["stray cancellation", "exception"],
)
async def test_an_error_nothing_answered_gets_the_envelope(app: Any, status: int, code: str) -> None:
    start, body = await answer(app)
    headers = dict(start["headers"])
    assert (start["status"], headers[b"x-request-id"]) == (status, b"checkout-42")
    assert headers[b"content-type"] == b"application/json"
    envelope = msgspec.json.decode(body["body"])
    assert (envelope["success"], envelope["error"]["code"]) == (False, code)
    assert envelope["message"]


async def test_a_request_cancelled_itself_is_not_answered() -> None:
    """The client left or the server stops: the cancellation goes on, nobody listens for an answer."""
    entered = asyncio.Event()

    async def waits(*_: Any) -> None:
        entered.set()
        await asyncio.Event().wait()

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    task = asyncio.ensure_future(RequestContextMiddleware(waits)(scope(), None, send))  # type: ignore[arg-type]
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sent == []


async def test_an_error_after_the_answer_began_is_left_to_the_server() -> None:
    async def half(_: Any, __: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("failed mid-body")

    with pytest.raises(RuntimeError):
        await answer(half)

"""The lean edge (quote_service/edge.py): plain quotes skip Litestar, odd ones answer as before.

Every answer is compared with the same app whose edge is taken out (Litestar alone), request
by request: status, headers (but the request id) and body (but what differs per quote).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest
import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service import edge as edge_module
from quote_service.app import create_app
from quote_service.background import hold_loops, release_loops
from quote_service.config import Settings
from quote_service.edge import LeanEdge
from quote_service.observability.logging import LEVELS
from quote_service.web import middleware as middleware_module
from quote_service.web.middleware import RequestContextMiddleware
from quote_service.web.options import OptionsResponder
from tests.integration.conftest import Caller, reset_started
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import buy, ledger, new_sale
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.published import published

Client = AsyncTestClient[Litestar]
_PER_QUOTE = {"quote_id", "created_at", "valid_until", "customer_id"}


def lean_count() -> float:
    return published("qs_edge_requests_total", {"route": QUOTE, "path": "lean"})


_PAIRS: dict[Settings, tuple[Client, Client]] = {}
"""The started pair of apps for each Settings, kept for the module and reset between its tests as the
shared app is (tests/integration/conftest.py: building and starting two apps cost ~2.4 s a test)."""


@pytest.fixture(scope="module", autouse=True)
async def _stop_pairs() -> AsyncIterator[None]:
    yield
    for pair in _PAIRS.values():
        for started in pair:
            started.blocking_portal.call(release_loops)  # a held loop would wait out its stop's bound
            await started.__aexit__(None, None, None)
    _PAIRS.clear()


@contextlib.asynccontextmanager
async def clients(settings: Settings) -> AsyncIterator[tuple[Client, Client]]:
    """(with the edge, without it): two apps on the same stores, each this test's client of it."""
    pair = _PAIRS.get(settings)
    if pair is None:
        plain = create_app(settings)
        edge = plain.asgi_handler
        assert isinstance(edge, LeanEdge)
        assert isinstance(edge.inner, RequestContextMiddleware)
        assert isinstance(edge.inner.app, OptionsResponder)
        plain.asgi_handler = edge.inner  # Litestar alone, as before the edge
        pair = _PAIRS[settings] = (
            await AsyncTestClient(app=create_app(settings)).__aenter__(),
            await AsyncTestClient(app=plain).__aenter__(),
        )
    else:
        for started in pair:
            reset_started(started)  # after this test's clean_stores
            started.blocking_portal.call(release_loops)
    fresh = []
    for started in pair:
        client = AsyncTestClient(app=started.app)
        client.blocking_portal = started.blocking_portal  # requests go to the started app
        fresh.append(client)
    try:
        yield fresh[0], fresh[1]
    finally:
        for started in pair:
            reset_started(started)  # queued writes land before the next test empties the stores
            started.blocking_portal.call(hold_loops)


async def service_key(client: Client, admin: Caller) -> dict[str, str]:
    response = await client.post("/api/v1/api-keys", json={"name": "edge"}, headers=admin.headers)
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["data"]["key"]}


def comparable(response: Any) -> tuple[int, dict[str, str], Any]:
    varying = {"x-request-id", "date"} | ({"content-length"} if response.status_code == 200 else set())
    headers = {k: v for k, v in response.headers.items() if k not in varying}
    try:
        body = response.json()
    except ValueError:
        body = response.content
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        body = {**body, "data": {k: v for k, v in body["data"].items() if k not in _PER_QUOTE}}
        body.pop("processing_time_ms", None)
    return response.status_code, headers, body


async def test_a_plain_quote_takes_the_lean_edge(settings: Settings, admin: Caller) -> None:
    async with clients(settings) as (edge, litestar):
        key = await service_key(edge, admin)
        body = quote_body(customer_id="edge-customer")
        expect_ok(await edge.post(QUOTE, json=body, headers=key))  # authenticated by Litestar, then known
        before = lean_count()
        lean = await edge.post(QUOTE, json=body, headers=key)
        assert lean_count() == before + 1
        expect_ok(lean)
        assert isinstance(lean.json()["processing_time_ms"], float)
        assert lean.headers["x-request-id"]
        reference = await litestar.post(QUOTE, json=body, headers=key)
        assert lean_count() == before + 1
        assert comparable(lean) == comparable(reference)
        assert list(lean.json()) == list(reference.json())  # same field order
        assert list(lean.json()["data"]) == list(reference.json()["data"])
        # Readable right after the response, like every quote.
        stored = await edge.get(f"/api/v1/quotes/{lean.json()['data']['quote_id']}", headers=key)
        assert expect_ok(stored)["quote_id"] == lean.json()["data"]["quote_id"]


class AccessLog:
    """Stands in for the access logger: each line with the log context bound when it was written
    (the service's log level may filter INFO lines out before any processor sees them)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def bind(self) -> AccessLog:  # the middleware writes through structlog's assembled logger: log.bind()
        return self

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **structlog.contextvars.get_contextvars(), **fields})


@contextlib.contextmanager
def access_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The access log's lines meanwhile (written as at LOG_LEVEL=INFO: at the tests' WARNING the line is
    not even assembled)."""
    access = AccessLog()
    monkeypatch.setattr(middleware_module, "log", access)
    monkeypatch.setattr(LEVELS, "info", True)
    yield access.lines


def answered(status: str, route: str = QUOTE) -> float:
    labels = {"method": "POST", "route": route, "status": status}
    return published("qs_http_request_duration_seconds_count", labels)


async def test_a_lean_answer_is_tagged_logged_and_counted_like_every_other(
    settings: Settings, admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge answers outside RequestContextMiddleware, and does its work itself: the request id
    (echoed when valid, else a fresh one), one access log line under it, the duration metric."""
    limited = msgspec.structs.replace(settings, rate_limit_per_minute=3)
    async with clients(limited) as (edge, _):
        key = await service_key(edge, admin)
        expect_ok(await edge.post(QUOTE, json=quote_body(customer_id="c-0"), headers=key))  # the edge learns the key
        before, lean, counted = lean_count(), [], answered("200")
        with access_lines(monkeypatch) as lines:
            lean.append(await edge.post(QUOTE, json=quote_body(), headers={**key, "X-Request-ID": "checkout-7f3a.42"}))
            lean.append(await edge.post(QUOTE, json=quote_body(), headers={**key, "X-Request-ID": "has spaces"}))
            # Refused inside the edge (the third quote of the minute): handed on, answered by Litestar.
            refused = await edge.post(QUOTE, json=quote_body(), headers={**key, "X-Request-ID": "refused-1"})
        assert lean_count() == before + 2
        assert answered("200") == counted + 2
        for response in lean:
            expect_ok(response)
            assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-store"
        assert lean[0].headers["x-request-id"] == "checkout-7f3a.42"
        assert re.fullmatch(r"[0-9a-f]{32}", lean[1].headers["x-request-id"])
        expect_error(refused, 429, "RATE_LIMITED")
        assert refused.headers["x-request-id"] == "refused-1"
        requests = [line for line in lines if line["event"] == "request"]
        assert [(line["request_id"], line["path"], line["status"]) for line in requests] == [
            ("checkout-7f3a.42", QUOTE, 200),
            (lean[1].headers["x-request-id"], QUOTE, 200),
            ("refused-1", QUOTE, 429),  # once, by the middleware the edge handed it to
        ]
        assert structlog.contextvars.get_contextvars() == {}  # nothing left bound after the request


ODD: list[tuple[str, dict[str, str], bytes]] = [
    ("malformed JSON", {"content-type": "application/json"}, b'{"customer_id": '),
    ("empty body", {"content-type": "application/json"}, b""),
    ("not UTF-8", {"content-type": "application/json"}, b'{"customer_id": "\xff"}'),
    ("NUL escape", {"content-type": "application/json"}, msgspec.json.encode(quote_body(customer_id="a\u0000b"))),
    ("unknown field", {"content-type": "application/json"}, msgspec.json.encode(quote_body(extra=1))),
    ("invalid field", {"content-type": "application/json"}, msgspec.json.encode(quote_body(currency="euro"))),
    ("text/plain", {"content-type": "text/plain"}, msgspec.json.encode(quote_body())),
    ("no items", {"content-type": "application/json"}, msgspec.json.encode(quote_body(items=[]))),
]


@pytest.mark.parametrize(("case", "headers", "payload"), ODD, ids=[case for case, _, _ in ODD])
async def test_odd_requests_get_the_same_answer_with_and_without_the_edge(
    settings: Settings, admin: Caller, case: str, headers: dict[str, str], payload: bytes
) -> None:
    async with clients(settings) as (edge, litestar):
        key = await service_key(edge, admin)
        expect_ok(await edge.post(QUOTE, json=quote_body(), headers=key))  # the edge knows the key now
        before = lean_count()
        answers = [await c.post(QUOTE, content=payload, headers={**headers, **key}) for c in (edge, litestar)]
        assert lean_count() == before
        assert comparable(answers[0]) == comparable(answers[1]), case


async def test_a_service_refusal_on_the_edge_keeps_its_envelope(settings: Settings, admin: Caller) -> None:
    """The quote service refuses inside the edge (429 here): Litestar's exception handler answers it."""
    limited = msgspec.structs.replace(settings, rate_limit_per_minute=1)
    async with clients(limited) as (edge, litestar):
        key = await service_key(edge, admin)
        answers = []
        for client in (edge, litestar):
            expect_ok(await client.post(QUOTE, json=quote_body(customer_id="c-1"), headers=key))
            answers.append(await client.post(QUOTE, json=quote_body(customer_id="c-2"), headers=key))
        expect_error(answers[0], 429, "RATE_LIMITED")
        assert comparable(answers[0]) == comparable(answers[1])


async def test_a_revoked_key_is_refused_at_once_on_the_edge(settings: Settings, admin: Caller) -> None:
    async with clients(settings) as (edge, _):
        response = await edge.post("/api/v1/api-keys", json={"name": "gone"}, headers=admin.headers)
        key_id, key = response.json()["data"]["id"], {"X-API-Key": response.json()["data"]["key"]}
        expect_ok(await edge.post(QUOTE, json=quote_body(), headers=key))
        expect_ok(await edge.post(QUOTE, json=quote_body(), headers=key))
        assert (await edge.delete(f"/api/v1/api-keys/{key_id}", headers=admin.headers)).status_code < 300
        expect_error(await edge.post(QUOTE, json=quote_body(), headers=key), 401, "UNAUTHORIZED")


async def test_a_known_key_beside_a_garbage_authorization_is_refused_on_the_edge_too(
    settings: Settings, admin: Caller
) -> None:
    """Two credentials, one not valid: 401 ambiguous credentials, as on every other route, though
    the edge knows the key (issue 72: the lean quote answered 200)."""
    async with clients(settings) as (edge, litestar):
        key = await service_key(edge, admin)
        sale, _ = await new_sale(edge, admin, item={"allocated_stock": 5, "per_user_limit": 2})
        expect_ok(await edge.post(QUOTE, json=quote_body(), headers=key))  # the edge knows the key now
        expect_ok(await buy(edge, key, sale, quantity=1, customer_id="c-known"), 201)
        both = {**key, "Authorization": "Bearer garbage"}
        before, bought_before = lean_count(), purchase_count("lean")
        answers = [await c.post(QUOTE, json=quote_body(), headers=both) for c in (edge, litestar)]
        assert "Ambiguous credentials" in expect_error(answers[0], 401, "UNAUTHORIZED")["message"]
        assert comparable(answers[0]) == comparable(answers[1])
        refused = await buy(edge, both, sale, quantity=1, customer_id="c-other")
        assert "Ambiguous credentials" in expect_error(refused, 401, "UNAUTHORIZED")["message"]
        assert (lean_count(), purchase_count("lean")) == (before, bought_before)
        assert [row["customer_id"] for row in await ledger(settings.database_url or "", sale["id"])] == ["c-known"]


def purchase_count(path: str) -> float:
    labels = {"route": "/api/v1/flash-sales/{sale_id:uuid}/purchases", "path": path}
    return published("qs_edge_requests_total", labels)


async def test_flash_purchases_and_refusals_answer_the_same_on_the_edge(settings: Settings, admin: Caller) -> None:
    assert edge_module.LEAN_PURCHASES
    async with clients(settings) as (edge, litestar):
        key = await service_key(edge, admin)
        sale, _ = await new_sale(edge, admin, item={"allocated_stock": 2, "per_user_limit": 5})
        buyer = {"customer_id": "edge-buyer"}
        # The first purchase teaches the edge the key (Litestar authenticates it).
        first = await buy(edge, key, sale, quantity=1, **buyer)
        assert first.status_code == 201, first.text
        lean_before = purchase_count("lean")
        cases = [
            {"quantity": 1, **buyer},  # the last unit: 201
            {"quantity": 1, **buyer},  # sold out: 409
            {"quantity": 1, "expected_unit_price": "14.99", **buyer},  # 409 PRICE_CHANGED
            {"quantity": 1},  # no customer_id with an API key: 422, handed on
        ]
        answers = []
        for body in cases:
            answers.append(await buy(edge, key, sale, **body))
        assert [a.status_code for a in answers] == [201, 409, 409, 422]
        expect_error(answers[1], 409, "SOLD_OUT")
        expect_error(answers[2], 409, "PRICE_CHANGED")
        expect_error(answers[3], 422, "VALIDATION_FAILED")
        assert purchase_count("lean") == lean_before + 3
        # Litestar alone gives the same refusals, byte for byte but the request id.
        for body, answer in zip(cases[1:], answers[1:], strict=True):
            assert comparable(answer) == comparable(await buy(litestar, key, sale, **body))
        # The same Idempotency-Key replays the purchase, on either path, with the same body.
        again = [await buy(c, key, sale, quantity=1, key="edge-replay", **buyer) for c in (litestar, edge)]
        for refused in again:  # sold out before the key was used
            expect_error(refused, 409, "SOLD_OUT")
        assert len(await ledger(settings.database_url or "", sale["id"])) == 2  # the two units, nothing more
        replay_key = "edge-first"
        sale2, _ = await new_sale(edge, admin, item={"allocated_stock": 5, "per_user_limit": 5})
        made = await buy(litestar, key, sale2, quantity=1, key=replay_key, **buyer)
        replayed = await buy(edge, key, sale2, quantity=1, key=replay_key, **buyer)
        assert (made.status_code, replayed.status_code) == (201, 201)
        assert replayed.json()["data"] == made.json()["data"]
        assert replayed.content == made.content  # the first answer's bytes (docs/errors.md#idempotency-keys)
        assert list(replayed.headers) == [*made.headers, "idempotent-replayed"]
        assert replayed.headers["idempotent-replayed"] == "true"


def _purchase(sale: dict[str, Any], **body: Any) -> bytes:
    return msgspec.json.encode({"product_id": sale["items"][0]["product_id"], "quantity": 1, **body})


_JSON = {"content-type": "application/json"}
_UNKNOWN_SALE = "0b6e2a4c-3d4f-4a7e-9c1d-2f3e4a5b6c7d"
# (case, path suffix in place of the sale id or None, headers, body from the sale); every one
# gets a fresh Idempotency-Key unless its headers name one ("" drops the header).
ODD_PURCHASES: list[tuple[str, str | None, dict[str, str], Any]] = [
    ("malformed JSON", None, _JSON, lambda sale: b'{"product_id": '),
    ("empty body", None, _JSON, lambda sale: b""),
    ("not UTF-8", None, _JSON, lambda sale: b'{"customer_id": "\xff"}'),
    ("NUL escape", None, _JSON, lambda sale: _purchase(sale, customer_id="a\u0000b")),
    ("unknown field", None, _JSON, lambda sale: _purchase(sale, customer_id="c-odd", extra=1)),
    ("invalid field", None, _JSON, lambda sale: _purchase(sale, customer_id="c-odd", quantity=0)),
    ("text/plain", None, {"content-type": "text/plain"}, lambda sale: _purchase(sale, customer_id="c-odd")),
    ("no Idempotency-Key", None, {**_JSON, "Idempotency-Key": ""}, lambda sale: _purchase(sale, customer_id="c")),
    ("long Idempotency-Key", None, {**_JSON, "Idempotency-Key": "k" * 129}, lambda sale: _purchase(sale)),
    ("no customer_id", None, _JSON, lambda sale: _purchase(sale)),
    ("product not in the sale", None, _JSON, lambda sale: _purchase(sale, customer_id="c", product_id=_UNKNOWN_SALE)),
    ("unknown sale", _UNKNOWN_SALE, _JSON, lambda sale: _purchase(sale, customer_id="c-odd")),
    ("upper-case sale id", "upper", _JSON, lambda sale: _purchase(sale, customer_id="c-up", quantity=3)),
    ("over the limit", None, _JSON, lambda sale: _purchase(sale, customer_id="c-odd", quantity=3)),
    ("price changed", None, _JSON, lambda sale: _purchase(sale, customer_id="c-odd", expected_unit_price="9.99")),
]


ODD_PURCHASE_CODES = frozenset(
    {
        "MALFORMED_REQUEST",
        "UNSUPPORTED_MEDIA_TYPE",
        "VALIDATION_FAILED",
        "NOT_FOUND",
        "SALE_NOT_ACTIVE",
        "PURCHASE_LIMIT_EXCEEDED",
        "PRICE_CHANGED",
    }
)


@pytest.mark.parametrize(
    ("case", "sale_path", "headers", "payload"), ODD_PURCHASES, ids=[case for case, *_ in ODD_PURCHASES]
)
async def test_odd_purchases_get_the_same_answer_with_and_without_the_edge(
    settings: Settings, admin: Caller, case: str, sale_path: str | None, headers: dict[str, str], payload: Any
) -> None:
    """Refused or odd purchases: the same status, headers and envelope whichever path answers."""
    async with clients(settings) as (edge, litestar):
        key = await service_key(edge, admin)
        sale, _ = await new_sale(edge, admin, item={"allocated_stock": 5, "per_user_limit": 2})
        expect_ok(await buy(edge, key, sale, quantity=1, customer_id="c-known"), 201)  # the edge knows the key now
        sale_id = {None: sale["id"], "upper": sale["id"].upper()}.get(sale_path, sale_path)
        path = f"/api/v1/flash-sales/{sale_id}/purchases"
        answers = []
        for client in (edge, litestar):
            sent = {**headers, **key}
            sent.setdefault("Idempotency-Key", f"odd-{client is edge}")
            sent = {k: v for k, v in sent.items() if v != ""}
            answers.append(await client.post(path, content=payload(sale), headers=sent))
        assert answers[0].status_code in (404, 409, 415, 400, 422), (case, answers[0].text)
        assert answers[0].json()["error"]["code"] in ODD_PURCHASE_CODES, (case, answers[0].text)
        assert comparable(answers[0]) == comparable(answers[1]), case
        bought = await ledger(settings.database_url or "", sale["id"])
        assert [row["customer_id"] for row in bought] == ["c-known"], case  # the refusals bought nothing

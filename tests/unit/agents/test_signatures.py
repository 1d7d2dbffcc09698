"""Agents' signed requests (docs/agents.md#signed-requests): requests signed as a real agent signs them
(tests/agent_signing.py, with the `http-message-signatures` and `rfc8785` libraries) pass, and each
tampering is refused with its own reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest

from quote_service.agents.signatures import SKEW_SECONDS, SignatureRefused, verify_request
from quote_service.auth.schemas import Jwk, Principal
from tests.agent_signing import AgentKey, acp_headers, ed25519_key, es256_key, public_jwk, sign_ucp

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
URL = "https://shop.example/ucp/checkout-sessions"
BODY = {"line_items": [{"item": {"id": "offer-1"}, "quantity": 2}], "currency": "EUR", "buyer": {"email": "a@b.c"}}
KEYS: list[Callable[[], AgentKey]] = [ed25519_key, es256_key]


def agent(key: AgentKey | None, kid: str = "agent-2026") -> Principal:
    jwk = None if key is None else msgspec.convert(public_jwk(key, kid), Jwk)
    return Principal(id=uuid.uuid4(), name="shopping-agent", role="agent", kind="api_key", public_key=jwk)


def ucp_request(
    body: object = BODY, *, method: str = "POST", url: str = URL, idempotency: str | None = "k-1"
) -> httpx.Request:
    headers = {"UCP-Agent": 'profile="https://agent.example/profile"'}
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency
    if body is None:
        return httpx.Request(method, url, headers=headers)
    return httpx.Request(
        method, url, content=json.dumps(body).encode(), headers={**headers, "Content-Type": "application/json"}
    )


def check_ucp(request: httpx.Request, caller: Principal, *, body: bytes | None = None, now: datetime = NOW) -> None:
    content = request.content if body is None else body
    verify_request(request.method, str(request.url), request.headers, content, caller, protocol="ucp", now=now)


def refused(check: Callable[[], None]) -> str:
    with pytest.raises(SignatureRefused) as caught:
        check()
    assert caught.value.status_code == 401
    assert caught.value.reason in caught.value.message
    return caught.value.reason


# --- UCP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_key", KEYS)
def test_a_ucp_request_signed_by_its_key_passes(make_key: Callable[[], AgentKey]) -> None:
    key = make_key()
    request = sign_ucp(ucp_request(), key, "agent-2026", created=NOW - timedelta(seconds=SKEW_SECONDS - 1))

    check_ucp(request, agent(key))

    assert request.headers["content-digest"].startswith("sha-256=:")


def test_a_ucp_read_without_a_body_signs_the_request_line_only() -> None:
    key = ed25519_key()
    request = sign_ucp(
        ucp_request(None, method="GET", url=f"{URL}/cs_1", idempotency=None), key, "agent-2026", created=NOW
    )

    check_ucp(request, agent(key))

    assert "content-digest" not in request.headers


def test_a_key_without_a_public_key_needs_no_signature() -> None:
    check_ucp(ucp_request(), agent(None))


def _moved(request: httpx.Request, **changes: str) -> httpx.Request:
    """The signed request with its method, URL or a header changed after signing."""
    headers = httpx.Headers(request.headers)
    for name, value in changes.items():
        if name not in ("method", "url"):
            headers[name.replace("_", "-")] = value
    return httpx.Request(
        changes.get("method", request.method),
        changes.get("url", str(request.url)),
        headers=headers,
        content=request.content,
    )


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda r: _moved(r, url="https://shop.example/ucp/checkout-sessions/cs_other"), "signature_invalid"),
        (lambda r: _moved(r, url="https://evil.example/ucp/checkout-sessions"), "signature_invalid"),
        (lambda r: _moved(r, method="PUT"), "signature_invalid"),
        (lambda r: _moved(r, idempotency_key="k-2"), "signature_invalid"),
        (lambda r: _moved(r, content_type="text/plain"), "signature_invalid"),
        (lambda r: _moved(r, signature="sig1=:" + "A" * 86 + "==:"), "signature_invalid"),
        (lambda r: _moved(r, signature_input="not a dictionary ("), "signature_invalid"),
    ],
)
def test_a_ucp_request_changed_after_signing_is_refused(
    tamper: Callable[[httpx.Request], httpx.Request], reason: str
) -> None:
    key = ed25519_key()
    request = sign_ucp(ucp_request(), key, "agent-2026", created=NOW)

    assert refused(lambda: check_ucp(tamper(request), agent(key))) == reason


def test_a_changed_body_fails_its_digest_and_a_new_digest_fails_the_signature() -> None:
    key = ed25519_key()
    request = sign_ucp(ucp_request(), key, "agent-2026", created=NOW)
    other = json.dumps({**BODY, "currency": "USD"}).encode()

    assert refused(lambda: check_ucp(request, agent(key), body=other)) == "digest_mismatch"
    redigested = sign_ucp(ucp_request({**BODY, "currency": "USD"}), key, "agent-2026", created=NOW)
    swapped = _moved(request, content_digest=redigested.headers["content-digest"])
    assert refused(lambda: check_ucp(swapped, agent(key), body=other)) == "signature_invalid"


def test_a_body_without_its_digest_or_signature_is_refused_with_each_reason() -> None:
    key = ed25519_key()
    request = sign_ucp(ucp_request(), key, "agent-2026", created=NOW)
    headers = httpx.Headers(request.headers)
    del headers["content-digest"]
    undigested = httpx.Request("POST", URL, headers=headers, content=request.content)

    assert refused(lambda: check_ucp(undigested, agent(key))) == "digest_missing"
    assert refused(lambda: check_ucp(ucp_request(), agent(key))) == "signature_missing"


@pytest.mark.parametrize(
    ("covered", "idempotency"),
    [
        (["@method", "@authority", "@path", "content-type", "content-digest"], "k-1"),  # not its idempotency-key
        (["@method", "@authority", "@path", "content-digest", "idempotency-key"], "k-1"),  # not content-type
        (["@method", "@path", "content-type", "content-digest"], None),  # not @authority
        (["@method", "@authority", "@target-uri"], None),  # not @path, and the body unsigned
    ],
)
def test_a_signature_that_leaves_a_required_component_out_is_refused(
    covered: list[str], idempotency: str | None
) -> None:
    key = ed25519_key()
    request = sign_ucp(ucp_request(idempotency=idempotency), key, "agent-2026", created=NOW, covered=covered)

    assert refused(lambda: check_ucp(request, agent(key))) == "signature_incomplete"


def test_another_keys_signature_or_kid_is_refused() -> None:
    key = ed25519_key()
    by_another = sign_ucp(ucp_request(), ed25519_key(), "agent-2026", created=NOW)
    other_kid = sign_ucp(ucp_request(), key, "agent-2025", created=NOW)
    by_es256 = sign_ucp(ucp_request(), es256_key(), "agent-2026", created=NOW)

    assert refused(lambda: check_ucp(by_another, agent(key))) == "signature_invalid"
    assert refused(lambda: check_ucp(other_kid, agent(key))) == "unknown_key"
    assert refused(lambda: check_ucp(by_es256, agent(key))) == "signature_invalid"


@pytest.mark.parametrize("off", [SKEW_SECONDS + 1, -(SKEW_SECONDS + 1), 3600])
def test_a_ucp_signature_made_too_far_from_now_is_refused(off: int) -> None:
    key = es256_key()
    request = sign_ucp(ucp_request(), key, "agent-2026", created=NOW - timedelta(seconds=off))

    assert refused(lambda: check_ucp(request, agent(key))) == "clock_skew"


# --- ACP ----------------------------------------------------------------------------------------


def check_acp(headers: dict[str, str], body: bytes, caller: Principal, *, now: datetime = NOW) -> None:
    url = "https://shop.example/acp/checkout_sessions"
    verify_request("POST", url, headers, body, caller, protocol="acp", now=now)


@pytest.mark.parametrize("make_key", KEYS)
def test_an_acp_request_signed_over_its_canonical_json_passes_whatever_its_layout(
    make_key: Callable[[], AgentKey],
) -> None:
    key = make_key()
    body = json.dumps(BODY).encode()
    headers = acp_headers(body, key, at=NOW + timedelta(seconds=SKEW_SECONDS - 1))
    relaid = json.dumps(dict(reversed(list(BODY.items()))), indent=2).encode()  # other key order, whitespace

    check_acp(headers, body, agent(key))
    check_acp(headers, relaid, agent(key))
    check_acp({**headers, "Signature": headers["Signature"] + "=" * (-len(headers["Signature"]) % 4)}, body, agent(key))


def test_an_acp_request_without_a_body_signs_the_empty_string() -> None:
    key = ed25519_key()
    check_acp(acp_headers(b"", key, at=NOW), b"", agent(key))


def test_an_acp_request_tampered_with_is_refused_with_its_reason() -> None:
    key = ed25519_key()
    body = json.dumps(BODY).encode()
    headers = acp_headers(body, key, at=NOW)
    changed = json.dumps({**BODY, "currency": "USD"}).encode()

    assert refused(lambda: check_acp(headers, changed, agent(key))) == "signature_invalid"
    assert refused(lambda: check_acp({"Timestamp": headers["Timestamp"]}, body, agent(key))) == "signature_missing"
    assert refused(lambda: check_acp({"Signature": headers["Signature"]}, body, agent(key))) == "signature_missing"
    assert refused(lambda: check_acp({**headers, "Timestamp": "yesterday"}, body, agent(key))) == "signature_invalid"
    assert refused(lambda: check_acp({**headers, "Signature": "%%%"}, body, agent(key))) == "signature_invalid"
    assert refused(lambda: check_acp(headers, b"{not json", agent(key))) == "signature_invalid"
    by_another = acp_headers(body, ed25519_key(), at=NOW)
    assert refused(lambda: check_acp(by_another, body, agent(key))) == "signature_invalid"


@pytest.mark.parametrize("off", [SKEW_SECONDS + 1, -(SKEW_SECONDS + 1)])
def test_an_acp_timestamp_too_far_from_now_is_refused(off: int) -> None:
    key = es256_key()
    body = json.dumps(BODY).encode()

    assert refused(lambda: check_acp(acp_headers(body, key, at=NOW - timedelta(seconds=off)), body, agent(key))) == (
        "clock_skew"
    )

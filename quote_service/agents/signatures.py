"""Verifying an agent's signed request (docs/agents.md#signed-requests).

An agent key registered with a public key (agents/keys.py) must sign every request of the checkout
protocols; `verify_request` is the one check the protocols' bindings make, before they read the
request, with its method, URL, headers and raw body and the agent's principal. A key without a
public key passes (the key alone authenticates).

- **UCP**: RFC 9421 HTTP Message Signatures. `Signature-Input` / `Signature` with one signature whose
  `keyid` is the JWK's `kid`, covering `@method`, `@authority`, `@path`, and with a body also
  `content-type` and `content-digest`, and `idempotency-key` whenever that header is sent.
  `Content-Digest: sha-256=:<base64>:` must be the SHA-256 of the raw body. The signature base and
  the cryptography are the `http-message-signatures` library's verifier; what it must cover, the
  digest and the clock are checked here first, so each refusal names its own reason.
- **ACP**: `Signature`, base64url (unpadded) of the signature over the RFC 8785 canonical JSON of
  the body (`rfc8785`; an empty body signs the empty string), and `Timestamp` (RFC 3339).

Ed25519 signatures are the 64 bytes RFC 8032 defines; ES256 ones `r || s`, 32 bytes each (RFC
9421 §3.3.4, JWS). A `created` (UCP) or `Timestamp` (ACP) more than SKEW_SECONDS from now, either
way, is refused. Every refusal is a `SignatureRefused` (401) whose `reason` the bindings put in
their own error shape; nothing has been read or written when it is raised.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import http_sf
import httpx
import rfc8785
from cryptography.exceptions import InvalidSignature as BadCryptoSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, InvalidSignature, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from quote_service.agents.keys import PublicKey, load_public_key
from quote_service.auth.schemas import Jwk, Principal
from quote_service.clock import utcnow
from quote_service.errors import Unauthorized

SKEW_SECONDS = 300
"""How far a signature's time may be from the service's clock, either way."""
Protocol = Literal["acp", "ucp"]
Reason = Literal[
    "signature_missing",
    "signature_invalid",
    "signature_incomplete",
    "unknown_key",
    "digest_missing",
    "digest_mismatch",
    "clock_skew",
]
"""Why a request's signature is refused (the `reason` of `SignatureRefused`)."""
Headers = httpx.Headers | Sequence[tuple[str, str]] | Mapping[str, str]
"""A request's headers: as the bindings hold them (a list of pairs keeps repeated fields)."""

ALWAYS_COVERED = ("@method", "@authority", "@path")
WITH_A_BODY = ("content-type", "content-digest")
_ALGORITHMS = {"OKP": algorithms.ED25519, "EC": algorithms.ECDSA_P256_SHA256}


class SignatureRefused(Unauthorized):
    """A signed request refused (401): `reason` says why, the message says what was wrong."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"Request signature refused ({reason}): {detail}")
        self.reason: Reason = reason


def verify_request(
    method: str,
    url: str,
    headers: Headers,
    body: bytes,
    agent: Principal,
    *,
    protocol: Protocol,
    now: datetime | None = None,
) -> None:
    """Refuse (SignatureRefused) a request of `agent` that is not signed as its protocol signs; a
    key without a public key passes. `url`: the request's full URL as the agent sent it."""
    jwk = agent.public_key
    if jwk is None:
        return
    moment = now or utcnow()
    fields = headers if isinstance(headers, httpx.Headers) else httpx.Headers(headers)
    if protocol == "ucp":
        _verify_message_signature(method.upper(), url, fields, body, jwk, moment)
    else:
        _verify_canonical_json(fields, body, jwk, moment)


# --- UCP: RFC 9421 ---------------------------------------------------------------------------


class _Request:
    """What the library's verifier reads of a request."""

    def __init__(self, method: str, url: str, headers: httpx.Headers) -> None:
        self.method = method
        self.url = url
        self.headers = headers


class _AgentKey(HTTPSignatureKeyResolver):
    def __init__(self, jwk: Jwk) -> None:
        self.jwk = jwk

    def resolve_public_key(self, key_id: str) -> PublicKey | None:
        return load_public_key(self.jwk) if key_id == self.jwk.kid else None

    def resolve_private_key(self, key_id: str) -> None:  # pragma: no cover - the service never signs
        raise NotImplementedError


class _Verifier(HTTPMessageVerifier):
    # The clock is checked by `_check_created` against the service's own (injectable) clock.
    max_clock_skew = timedelta(days=36500)


def _verify_message_signature(
    method: str, url: str, headers: httpx.Headers, body: bytes, jwk: Jwk, now: datetime
) -> None:
    if "signature-input" not in headers or "signature" not in headers:
        raise SignatureRefused("signature_missing", "Signature-Input and Signature headers are required")
    try:
        inputs = _dictionary(headers["signature-input"])
    except ValueError as exc:
        raise SignatureRefused("signature_invalid", f"Signature-Input is not a structured dictionary ({exc})") from exc
    if len(inputs) != 1:
        raise SignatureRefused("signature_invalid", "exactly one signature is expected")
    covered_items, params = next(iter(inputs.values()))
    if not isinstance(covered_items, list):
        raise SignatureRefused("signature_invalid", "Signature-Input's member must be an inner list")
    if params.get("keyid") != jwk.kid:
        raise SignatureRefused("unknown_key", f"keyid must be the registered key's kid {jwk.kid!r}")
    covered = {str(item) for item, _ in covered_items}
    required = [*ALWAYS_COVERED, *(WITH_A_BODY if body else ())]
    if "idempotency-key" in headers:
        required.append("idempotency-key")
    missing = [name for name in required if name not in covered]
    if missing:
        raise SignatureRefused("signature_incomplete", f"the signature must cover {', '.join(missing)}")
    _check_created(params.get("created"), now)
    if body or "content-digest" in headers:
        _check_digest(headers.get("content-digest"), body)
    verifier = _Verifier(signature_algorithm=_ALGORITHMS[jwk.kty], key_resolver=_AgentKey(jwk))
    try:
        verifier.verify(_Request(method, url, headers), max_age=None)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        raise SignatureRefused("signature_invalid", f"the signature does not verify ({exc})") from exc


def _dictionary(value: str) -> dict[str, Any]:
    """A structured field dictionary (RFC 8941): member → (value, parameters)."""
    parsed: dict[str, Any] = http_sf.parse(value.encode(), tltype="dictionary")  # type: ignore[assignment]
    return parsed


def _check_created(created: object, now: datetime) -> None:
    if type(created) is not int:
        raise SignatureRefused("signature_invalid", "the signature needs a `created` parameter (Unix seconds)")
    _check_skew(datetime.fromtimestamp(created, UTC), now)


def _check_digest(header: str | None, body: bytes) -> None:
    if header is None:
        raise SignatureRefused("digest_missing", "Content-Digest (sha-256) of the body is required")
    try:
        members = _dictionary(header)
    except ValueError as exc:
        raise SignatureRefused("digest_mismatch", f"Content-Digest is not a structured dictionary ({exc})") from exc
    digest = members.get("sha-256")
    if digest is None or not isinstance(digest[0], bytes):
        raise SignatureRefused("digest_missing", "Content-Digest has no sha-256 member")
    if not hmac.compare_digest(digest[0], hashlib.sha256(body).digest()):
        raise SignatureRefused("digest_mismatch", "Content-Digest is not the SHA-256 of the body")


# --- ACP: canonical JSON ---------------------------------------------------------------------


def _verify_canonical_json(headers: httpx.Headers, body: bytes, jwk: Jwk, now: datetime) -> None:
    signature, timestamp = headers.get("signature"), headers.get("timestamp")
    if signature is None or timestamp is None:
        raise SignatureRefused("signature_missing", "Signature and Timestamp headers are required")
    try:
        signed_at = datetime.fromisoformat(timestamp.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise SignatureRefused("signature_invalid", "Timestamp must be an RFC 3339 instant") from exc
    if signed_at.tzinfo is None:
        raise SignatureRefused("signature_invalid", "Timestamp must be an RFC 3339 instant with its offset")
    _check_skew(signed_at, now)
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (ValueError, binascii.Error) as exc:
        raise SignatureRefused("signature_invalid", "Signature must be base64url") from exc
    if not _verifies(load_public_key(jwk), raw, canonical_body(body)):
        raise SignatureRefused("signature_invalid", "the signature does not verify over the body's canonical JSON")


def canonical_body(body: bytes) -> bytes:
    """The bytes an ACP signature covers: the RFC 8785 canonical JSON of the body (b"" for none)."""
    if not body:
        return b""
    try:
        value: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureRefused("signature_invalid", "the signed body is not JSON") from exc
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError) as exc:
        raise SignatureRefused("signature_invalid", f"the body has no canonical JSON ({exc})") from exc


def _verifies(key: PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                return False
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, message)
    except BadCryptoSignature:
        return False
    return True


def _check_skew(signed_at: datetime, now: datetime) -> None:
    off = abs((now - signed_at).total_seconds())
    if off > SKEW_SECONDS:
        raise SignatureRefused(
            "clock_skew", f"signed {off:.0f} s away from the service's clock (at most {SKEW_SECONDS})"
        )

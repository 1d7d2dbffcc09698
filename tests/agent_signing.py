"""An agent's side of signed requests (docs/agents.md#signed-requests), the way a real agent signs.

Key pairs come from `cryptography`; RFC 9421 signatures from the `http-message-signatures`
library's signer, ACP's from `rfc8785`'s canonical JSON: never from the service's verifier
(quote_service/agents/signatures.py), so a bug there cannot hide behind the same bug here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

AgentKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def b64url(data: bytes) -> str:
    """base64url without padding (JWK members, ACP's `Signature`)."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def es256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: AgentKey, kid: str) -> dict[str, Any]:
    """The public half of `key` as the JWK an agent registers (`public_key`)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes_raw()
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": kid}
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
        "kid": kid,
    }


# --- UCP: RFC 9421 HTTP Message Signatures -----------------------------------------------------


def ucp_components(request: httpx.Request) -> list[str]:
    """What a UCP agent signs: `@method @authority @path`, with a body `content-type content-digest`,
    and `idempotency-key` when it sends one."""
    covered = ["@method", "@authority", "@path"]
    if request.content:
        covered += ["content-type", "content-digest"]
    if "idempotency-key" in request.headers:
        covered.append("idempotency-key")
    return covered


def sign_ucp(
    request: httpx.Request,
    key: AgentKey,
    kid: str,
    *,
    created: datetime | None = None,
    covered: Sequence[str] | None = None,
) -> httpx.Request:
    """Sign `request` in place (Signature-Input, Signature, and Content-Digest of a body) with the
    `http-message-signatures` library, as a UCP agent does; returns it."""
    algorithm = algorithms.ED25519 if isinstance(key, ed25519.Ed25519PrivateKey) else algorithms.ECDSA_P256_SHA256
    signer = HTTPMessageSigner(
        signature_algorithm=algorithm, key_resolver=MappingKeyResolver(public_keys={}, private_keys={kid: key})
    )
    signer.sign(
        request,
        key_id=kid,
        label="sig1",
        created=created or datetime.now(UTC),
        covered_component_ids=list(covered) if covered is not None else ucp_components(request),
        body=request.content or None,
    )
    return request


def ucp_signing_hook(key: AgentKey, kid: str) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook that signs every request a client sends (`event_hooks={"request": [...]}`)."""

    async def sign(request: httpx.Request) -> None:
        sign_ucp(request, key, kid)

    return sign


# --- ACP: canonical JSON ---------------------------------------------------------------------------


def acp_headers(body: bytes, key: AgentKey, *, at: datetime | None = None) -> dict[str, str]:
    """ACP's `Signature` (base64url, unpadded, over the RFC 8785 canonical JSON of `body`, made by
    the `rfc8785` library) and `Timestamp` (RFC 3339) for a request with this raw body."""
    canonical = rfc8785.dumps(json.loads(body)) if body else b""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(canonical)
    else:
        r, s = decode_dss_signature(key.sign(canonical, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    moment = at or datetime.now(UTC)
    return {"Signature": b64url(signature), "Timestamp": moment.isoformat().replace("+00:00", "Z")}


# --- order events: Merchant-Signature ----------------------------------------------------------------


def merchant_signature_valid(header: str, body: bytes, secret: str) -> bool:
    """Whether `Merchant-Signature: t=<unix>,v1=<hex>` is the HMAC-SHA256 of "t.body" keyed with the
    webhook secret's UTF-8 bytes (as an ACP merchant signs its order events)."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    signed = parts["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])

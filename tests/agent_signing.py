"""An agent's side of signed requests (docs/agents.md#signed-requests), the way a real agent signs.

Key pairs come from `cryptography`; RFC 9421 signatures from the `http-message-signatures`
library's signer, ACP's from `rfc8785`'s canonical JSON: never from the service's verifier
(quote_service/agents/signatures.py), so a bug there cannot hide behind the same bug here.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

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
